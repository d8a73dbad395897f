//! Alerts and low-stock thresholds: raising (de-duplicated while open), listing,
//! acknowledging, and the stock alerts raised inside the transaction of the movement that
//! crosses a threshold.
//!
//! Stock alerts hang off the one place every stock change passes through: each ledger row
//! has its `stock.changed` event, and [`Core::append_events`] hands a transaction's events
//! to [`Core::stock_alerts`] before appending them. So movements, order reservations,
//! shipments and whatever moves stock later are all covered, and the cost for a
//! transaction that crosses nothing is one indexed lookup of thresholds, made only when
//! some level's available stock went down.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use domain::alert::{self, AlertState};
use domain::ids::{LocationCode, Sku};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::alerts::{Alert, AlertFilter, NewAlert, Raised, Threshold};
use store::{NewEvent, StoreError};

use crate::core::{Core, Dialect, TxError, micros, placeholders, retry};
use crate::rows::{from_json, to_json};

pub(crate) const ALERT_COLUMNS: &str = "alert_id, kind, alert_key, state, location, sku, message, detail, raised_at, acknowledged_at, acknowledged_by";

#[derive(sqlx::FromRow)]
pub(crate) struct AlertRow {
    alert_id: i64,
    kind: String,
    alert_key: String,
    state: String,
    location: Option<String>,
    sku: Option<String>,
    message: String,
    detail: String,
    raised_at: DateTime<Utc>,
    acknowledged_at: Option<DateTime<Utc>>,
    acknowledged_by: Option<String>,
}

impl TryFrom<AlertRow> for Alert {
    type Error = StoreError;

    fn try_from(r: AlertRow) -> Result<Self, StoreError> {
        Ok(Alert {
            id: r.alert_id,
            state: AlertState::parse("state", &r.state)
                .map_err(|e| StoreError::Other(format!("stored alert state: {}", e.message)))?,
            detail: from_json("alert detail", &r.detail)?,
            kind: r.kind,
            key: r.alert_key,
            location: r.location,
            sku: r.sku,
            message: r.message,
            raised_at: r.raised_at,
            acknowledged_at: r.acknowledged_at,
            acknowledged_by: r.acknowledged_by,
        })
    }
}

pub(crate) const THRESHOLD_COLUMNS: &str = "location, sku, low_stock, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct ThresholdRow {
    location: String,
    sku: String,
    low_stock: i64,
    updated_at: DateTime<Utc>,
}

impl From<ThresholdRow> for Threshold {
    fn from(r: ThresholdRow) -> Self {
        Threshold {
            location: r.location,
            sku: r.sku,
            low_stock: r.low_stock,
            updated_at: r.updated_at,
        }
    }
}

/// The event of an alert's step (`alert.raised`, `alert.acknowledged`); its id is stable
/// (`alert:<id>:raised`), as each step happens once.
pub(crate) fn alert_event(kind: &'static str, alert: &Alert) -> NewEvent {
    let step = kind.strip_prefix("alert.").unwrap_or(kind);
    NewEvent {
        id: format!("alert:{}:{step}", alert.id),
        kind,
        aggregate: format!("alert:{}", alert.id),
        location: alert.location.clone(),
        sku: alert.sku.clone(),
        customer: None,
        data: serde_json::to_value(alert).unwrap_or(serde_json::Value::Null),
    }
}

/// How one level changed over a transaction, read back from its `stock.changed` events.
struct LevelChange {
    on_hand_before: i64,
    available_before: i64,
    on_hand_after: i64,
    available_after: i64,
    last_movement: Option<String>,
}

/// The level and figures of a `stock.changed` event: (location, sku, on_hand before and
/// after, reserved before and after, movement id). `None` for other events.
fn stock_change(e: &NewEvent) -> Option<(String, String, [i64; 4], Option<String>)> {
    if e.kind != "stock.changed" {
        return None;
    }
    let d = &e.data;
    let (on_hand, reserved) = (d["on_hand"].as_i64()?, d["reserved"].as_i64()?);
    let m = &d["movement"];
    let (dh, dr) = (m["on_hand_delta"].as_i64()?, m["reserved_delta"].as_i64()?);
    Some((
        e.location.clone()?,
        e.sku.clone()?,
        [on_hand - dh, on_hand, reserved - dr, reserved],
        m["id"].as_str().map(str::to_owned),
    ))
}

fn level_key(location: &str, sku: &str) -> String {
    format!("{location}/{sku}")
}

/// The low-stock thresholds of some levels, read ahead: a write reads them before it locks
/// the levels it lowers (and, on SQLite, before it takes the writer), so its append does not
/// read them while it holds them. A threshold changed in between is treated as changed
/// just after the write, as with any concurrent change.
pub(crate) struct Thresholds {
    /// The levels read.
    levels: BTreeSet<(String, String)>,
    /// Those of them that have a threshold.
    found: BTreeMap<(String, String), i64>,
}

impl Thresholds {
    /// Several placements' thresholds as one.
    pub(crate) fn merged<'a>(all: impl IntoIterator<Item = &'a Thresholds>) -> Self {
        let mut merged = Self {
            levels: BTreeSet::new(),
            found: BTreeMap::new(),
        };
        for t in all {
            merged.levels.extend(t.levels.iter().cloned());
            merged
                .found
                .extend(t.found.iter().map(|(k, v)| (k.clone(), *v)));
        }
        merged
    }
}

impl<DB: Dialect> Core<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<DateTime<Utc>>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> NaiveDate: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<NaiveDate>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    /// Inserts an open alert unless one of the same kind and key is open (the partial
    /// unique index decides, so racing transactions cannot both raise it). Returns the new
    /// alert and its `alert.raised` event.
    pub(crate) async fn insert_alert(
        tx: &mut Transaction<'static, DB>,
        new: &NewAlert,
        at: DateTime<Utc>,
    ) -> Result<Option<(Alert, NewEvent)>, TxError> {
        let at = micros(at);
        let id: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO alerts (kind, alert_key, state, location, sku, message, detail, raised_at) \
             VALUES ($1, $2, 'open', $3, $4, $5, $6, $7) \
             ON CONFLICT (kind, alert_key) WHERE state = 'open' DO NOTHING RETURNING alert_id",
        )
        .bind(new.kind.as_str())
        .bind(new.key.as_str())
        .bind(new.location.as_deref())
        .bind(new.sku.as_deref())
        .bind(new.message.as_str())
        .bind(to_json(&new.detail))
        .bind(at)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(id.map(|(id,)| {
            let alert = Alert {
                id,
                kind: new.kind.clone(),
                key: new.key.clone(),
                state: AlertState::Open,
                location: new.location.clone(),
                sku: new.sku.clone(),
                message: new.message.clone(),
                detail: new.detail.clone(),
                raised_at: at,
                acknowledged_at: None,
                acknowledged_by: None,
            };
            let event = alert_event("alert.raised", &alert);
            (alert, event)
        }))
    }

    /// The `low_stock` and `negative_stock` alerts a transaction's stock changes raise:
    /// comparing each level before the transaction with after it, a level whose available
    /// stock crossed its threshold downwards, or whose on_hand went below zero.
    pub(crate) async fn stock_alerts(
        tx: &mut Transaction<'static, DB>,
        events: &[NewEvent],
        at: DateTime<Utc>,
        known: Option<&Thresholds>,
    ) -> Result<Vec<NewEvent>, TxError> {
        let mut levels: BTreeMap<(String, String), LevelChange> = BTreeMap::new();
        for (location, sku, [h0, h1, r0, r1], movement) in events.iter().filter_map(stock_change) {
            let change = levels.entry((location, sku)).or_insert(LevelChange {
                on_hand_before: h0,
                available_before: h0 - r0,
                on_hand_after: h1,
                available_after: h1 - r1,
                last_movement: None,
            });
            change.on_hand_after = h1;
            change.available_after = h1 - r1;
            change.last_movement = movement;
        }
        let mut raised = Vec::new();
        if levels.is_empty() {
            return Ok(raised);
        }
        let falling: Vec<&(String, String)> = levels
            .iter()
            .filter(|(_, c)| c.available_after < c.available_before)
            .map(|(k, _)| k)
            .collect();
        let mut thresholds = BTreeMap::new();
        let unknown: Vec<&(String, String)> = match known {
            Some(k) => {
                thresholds.extend(
                    k.found
                        .iter()
                        .filter(|(level, _)| levels.contains_key(*level))
                        .map(|(level, t)| (level.clone(), *t)),
                );
                falling
                    .into_iter()
                    .filter(|level| !k.levels.contains(*level))
                    .collect()
            }
            None => falling,
        };
        thresholds.extend(Self::thresholds_of(tx, &unknown).await?);
        for ((location, sku), c) in &levels {
            let level = serde_json::json!({
                "location": location, "sku": sku, "on_hand": c.on_hand_after,
                "available": c.available_after, "movement": c.last_movement,
            });
            let mut candidates = Vec::new();
            if let Some(&t) = thresholds.get(&(location.clone(), sku.clone()))
                && alert::crosses_low(t, c.available_before, c.available_after)
            {
                let mut detail = level.clone();
                detail["threshold"] = t.into();
                candidates.push(NewAlert {
                    kind: alert::LOW_STOCK.to_owned(),
                    key: level_key(location, sku),
                    location: Some(location.clone()),
                    sku: Some(sku.clone()),
                    message: format!(
                        "available stock of {sku} at {location} is {}, at or below its low-stock threshold of {t}",
                        c.available_after
                    ),
                    detail,
                });
            }
            if alert::crosses_negative(c.on_hand_before, c.on_hand_after) {
                candidates.push(NewAlert {
                    kind: alert::NEGATIVE_STOCK.to_owned(),
                    key: level_key(location, sku),
                    location: Some(location.clone()),
                    sku: Some(sku.clone()),
                    message: format!(
                        "on-hand stock of {sku} at {location} is {}, below zero",
                        c.on_hand_after
                    ),
                    detail: level,
                });
            }
            for candidate in candidates {
                if let Some((_, event)) = Self::insert_alert(tx, &candidate, at).await? {
                    raised.push(event);
                }
            }
        }
        Ok(raised)
    }

    /// The low-stock thresholds of these levels (one query per 500 SKUs).
    /// Reads ahead the thresholds of `levels` (location, SKU) that a transaction is about
    /// to lower.
    pub(crate) async fn thresholds_ahead(
        tx: &mut Transaction<'static, DB>,
        levels: BTreeSet<(String, String)>,
    ) -> Result<Thresholds, TxError> {
        let refs: Vec<&(String, String)> = levels.iter().collect();
        let found = Self::thresholds_of(tx, &refs).await?;
        Ok(Thresholds { levels, found })
    }

    async fn thresholds_of(
        tx: &mut Transaction<'static, DB>,
        levels: &[&(String, String)],
    ) -> Result<BTreeMap<(String, String), i64>, TxError> {
        let mut found = BTreeMap::new();
        if levels.is_empty() {
            return Ok(found);
        }
        let locations: BTreeSet<&str> = levels.iter().map(|(l, _)| l.as_str()).collect();
        let skus: Vec<&str> = levels
            .iter()
            .map(|(_, s)| s.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for chunk in skus.chunks(500) {
            let sql = format!(
                "SELECT location, sku, low_stock FROM stock_thresholds WHERE location IN ({}) AND sku IN ({})",
                placeholders(1, locations.len()),
                placeholders(1 + locations.len(), chunk.len())
            );
            let mut query = sqlx::query_as::<DB, (String, String, i64)>(&sql);
            for l in &locations {
                query = query.bind(*l);
            }
            for s in chunk {
                query = query.bind(*s);
            }
            for (l, s, t) in query.fetch_all(&mut **tx).await? {
                found.insert((l, s), t);
            }
        }
        Ok(found)
    }

    /// `NotFound` naming the location or the product when either is unknown.
    async fn check_level_exists(
        tx: &mut Transaction<'static, DB>,
        location: &LocationCode,
        sku: &Sku,
    ) -> Result<(), TxError> {
        for (what, table, column, key) in [
            ("location", "locations", "code", location.as_str()),
            ("product", "products", "sku", sku.as_str()),
        ] {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1");
            let (n,): (i64,) = sqlx::query_as(&sql).bind(key).fetch_one(&mut **tx).await?;
            if n == 0 {
                return Err(StoreError::not_found(format!("{what} {key}")).into());
            }
        }
        Ok(())
    }

    pub(crate) async fn set_threshold(
        &self,
        location: &LocationCode,
        sku: &Sku,
        low_stock: i64,
        now: DateTime<Utc>,
    ) -> Result<Threshold, StoreError> {
        let at = micros(now);
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            Self::check_level_exists(&mut tx, location, sku).await?;
            sqlx::query(
                "INSERT INTO stock_thresholds (location, sku, low_stock, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (location, sku) DO UPDATE SET low_stock = excluded.low_stock, updated_at = excluded.updated_at",
            )
            .bind(location.as_str())
            .bind(sku.as_str())
            .bind(low_stock)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let mut events = vec![threshold_event(location, sku, Some(low_stock))?];
            let level: Option<(i64, i64)> = sqlx::query_as(
                "SELECT on_hand, reserved FROM stock_levels WHERE location = $1 AND sku = $2",
            )
            .bind(location.as_str())
            .bind(sku.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let (on_hand, reserved) = level.unwrap_or((0, 0));
            if on_hand - reserved <= low_stock {
                let new = NewAlert {
                    kind: alert::LOW_STOCK.to_owned(),
                    key: level_key(location.as_str(), sku.as_str()),
                    location: Some(location.to_string()),
                    sku: Some(sku.to_string()),
                    message: format!(
                        "available stock of {sku} at {location} is {}, at or below its new low-stock threshold of {low_stock}",
                        on_hand - reserved
                    ),
                    detail: serde_json::json!({
                        "location": location, "sku": sku, "on_hand": on_hand,
                        "available": on_hand - reserved, "threshold": low_stock,
                    }),
                };
                if let Some((_, event)) = Self::insert_alert(&mut tx, &new, at).await? {
                    events.push(event);
                }
            }
            Self::append_events(&mut tx, events, at).await?;
            tx.commit().await?;
            Ok(Threshold {
                location: location.to_string(),
                sku: sku.to_string(),
                low_stock,
                updated_at: at,
            })
        })
        .await
    }

    pub(crate) async fn get_threshold(
        &self,
        location: &LocationCode,
        sku: &Sku,
    ) -> Result<Threshold, StoreError> {
        let row: Option<ThresholdRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {THRESHOLD_COLUMNS} FROM stock_thresholds WHERE location = $1 AND sku = $2"
            ))
            .bind(location.as_str())
            .bind(sku.as_str())
            .fetch_optional(&self.reader)
            .await?)
        })
        .await?;
        row.map(Threshold::from)
            .ok_or_else(|| StoreError::not_found(format!("threshold of {location}/{sku}")))
    }

    pub(crate) async fn remove_threshold(
        &self,
        location: &LocationCode,
        sku: &Sku,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let done = sqlx::query("DELETE FROM stock_thresholds WHERE location = $1 AND sku = $2")
                .bind(location.as_str())
                .bind(sku.as_str())
                .execute(&mut *tx)
                .await?;
            if DB::rows_affected(&done) == 0 {
                return Err(StoreError::not_found(format!("threshold of {location}/{sku}")).into());
            }
            let event = threshold_event(location, sku, None)?;
            Self::append_events(&mut tx, vec![event], micros(now)).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn list_thresholds(
        &self,
        location: Option<&LocationCode>,
        after: Option<&(LocationCode, Sku)>,
        limit: i64,
    ) -> Result<Vec<Threshold>, StoreError> {
        let rows: Vec<ThresholdRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {THRESHOLD_COLUMNS} FROM stock_thresholds \
                 WHERE ($1 IS NULL OR location = $1) \
                   AND ($2 IS NULL OR location > $2 OR (location = $2 AND sku > $3)) \
                 ORDER BY location, sku LIMIT $4"
            ))
            .bind(location.map(LocationCode::as_str))
            .bind(after.map(|(l, _)| l.as_str()))
            .bind(after.map(|(_, s)| s.as_str()))
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
        })
        .await?;
        Ok(rows.into_iter().map(Threshold::from).collect())
    }

    pub(crate) async fn raise_alert(
        &self,
        new: NewAlert,
        now: DateTime<Utc>,
    ) -> Result<Raised, StoreError> {
        alert::kind("kind", &new.kind).map_err(|e| StoreError::Invalid(vec![e]))?;
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let raised = match Self::insert_alert(&mut tx, &new, now).await? {
                Some((alert, event)) => {
                    Self::append_events(&mut tx, vec![event], micros(now)).await?;
                    Raised {
                        alert,
                        created: true,
                    }
                }
                None => {
                    let row: AlertRow = sqlx::query_as(&format!(
                        "SELECT {ALERT_COLUMNS} FROM alerts WHERE kind = $1 AND alert_key = $2 AND state = 'open'"
                    ))
                    .bind(new.kind.as_str())
                    .bind(new.key.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                    Raised {
                        alert: Alert::try_from(row)?,
                        created: false,
                    }
                }
            };
            tx.commit().await?;
            Ok(raised)
        })
        .await
    }

    pub(crate) async fn get_alert(&self, id: i64) -> Result<Alert, StoreError> {
        let row: Option<AlertRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?)
        })
        .await?;
        row.ok_or_else(|| StoreError::not_found(format!("alert {id}")))?
            .try_into()
    }

    pub(crate) async fn list_alerts(
        &self,
        f: &AlertFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Alert>, StoreError> {
        let rows: Vec<AlertRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts \
                 WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR kind = $2) \
                   AND ($3 IS NULL OR location = $3) AND ($4 IS NULL OR sku = $4) \
                   AND ($5 IS NULL OR alert_id < $5) \
                 ORDER BY alert_id DESC LIMIT $6"
            ))
            .bind(f.state.map(AlertState::as_str))
            .bind(f.kind.as_deref())
            .bind(f.location.as_deref())
            .bind(f.sku.as_deref())
            .bind(before)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
        })
        .await?;
        rows.into_iter().map(Alert::try_from).collect()
    }

    pub(crate) async fn acknowledge_alert(
        &self,
        id: i64,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Alert, StoreError> {
        let at = micros(now);
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let row: Option<AlertRow> = sqlx::query_as(&format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = $1{}",
                DB::LOCK_ROWS
            ))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let mut alert = Alert::try_from(
                row.ok_or_else(|| StoreError::not_found(format!("alert {id}")))?,
            )?;
            if alert.state == AlertState::Acknowledged {
                tx.commit().await?;
                return Ok(alert);
            }
            sqlx::query(
                "UPDATE alerts SET state = 'acknowledged', acknowledged_at = $2, acknowledged_by = $3 WHERE alert_id = $1",
            )
            .bind(id)
            .bind(at)
            .bind(by)
            .execute(&mut *tx)
            .await?;
            alert.state = AlertState::Acknowledged;
            alert.acknowledged_at = Some(at);
            alert.acknowledged_by = Some(by.to_owned());
            Self::append_events(&mut tx, vec![alert_event("alert.acknowledged", &alert)], at)
                .await?;
            tx.commit().await?;
            Ok(alert)
        })
        .await
    }

    /// Restores an alert with its number and state.
    pub(crate) async fn restore_alert(
        tx: &mut Transaction<'static, DB>,
        a: &Alert,
    ) -> Result<(), TxError> {
        sqlx::query(&format!(
            "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(a.id)
        .bind(a.kind.as_str())
        .bind(a.key.as_str())
        .bind(a.state.as_str())
        .bind(a.location.as_deref())
        .bind(a.sku.as_deref())
        .bind(a.message.as_str())
        .bind(to_json(&a.detail))
        .bind(a.raised_at)
        .bind(a.acknowledged_at)
        .bind(a.acknowledged_by.as_deref())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Restores a threshold.
    pub(crate) async fn restore_threshold(
        tx: &mut Transaction<'static, DB>,
        t: &Threshold,
    ) -> Result<(), TxError> {
        sqlx::query(&format!(
            "INSERT INTO stock_thresholds ({THRESHOLD_COLUMNS}) VALUES ($1, $2, $3, $4)"
        ))
        .bind(t.location.as_str())
        .bind(t.sku.as_str())
        .bind(t.low_stock)
        .bind(t.updated_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// The `stock.threshold_updated` event (`low_stock` null when removed), in the level's
/// aggregate so it is ordered with the level's `stock.changed` events.
fn threshold_event(
    location: &LocationCode,
    sku: &Sku,
    low_stock: Option<i64>,
) -> Result<NewEvent, TxError> {
    let mut event = crate::events::catalog_event(
        "stock.threshold_updated",
        format!("stock:{location}/{sku}"),
        serde_json::json!({"location": location, "sku": sku, "low_stock": low_stock}),
    )?;
    event.location = Some(location.to_string());
    event.sku = Some(sku.to_string());
    Ok(event)
}
