//! Cycle counts: open with a snapshot, feed by scans (RFID feeds them in `rfid.rs`),
//! compare, approve with count corrections in the ledger, or cancel. The arithmetic and
//! why it is right while the store keeps selling: `domain::count`.
//!
//! Lock order: the count row first, then stock levels in SKU order; RFID reads lock the
//! count row before their levels too, and sales never lock a count.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use domain::FieldError;
use domain::code::{self, CodeTarget};
use domain::count::{Count, CountStatus, NewCount, NewScans};
use domain::ids::{CountId, LocationCode, Sku};
use domain::pos::ItemRef;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::StoreError;

use super::count_close::closed;
use super::{floor_event, json, random_id};
use crate::core::{Core, Dialect, TxError, now, retry};
use crate::rows::{from_json, to_json};

pub(crate) const COUNT_COLUMNS: &str =
    "count_id, location, status, skus, opened_by, opened_at, closed_by, closed_at";

#[derive(sqlx::FromRow)]
pub(crate) struct CountRow {
    pub count_id: String,
    pub location: String,
    pub status: String,
    pub skus: Option<String>,
    pub opened_by: String,
    pub opened_at: DateTime<Utc>,
    pub closed_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl CountRow {
    pub(crate) fn status(&self) -> Result<CountStatus, StoreError> {
        CountStatus::from_stored(&self.status)
            .ok_or_else(|| StoreError::Other(format!("stored count status {}", self.status)))
    }

    pub(crate) fn scope(&self) -> Result<Option<Vec<Sku>>, StoreError> {
        self.skus
            .as_deref()
            .map(|s| from_json("count skus", s))
            .transpose()
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
    pub(crate) async fn open_count(&self, c: NewCount, actor: &str) -> Result<Count, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let at = now();
            Self::require_location(&mut tx, "location", &c.location).await?;
            if let Some(skus) = &c.skus {
                let list: Vec<&Sku> = skus.iter().collect();
                Self::require_skus(&mut tx, &list, |i| format!("skus[{i}]")).await?;
            }
            let taken: Option<(String,)> = sqlx::query_as("SELECT count_id FROM counts WHERE count_id = $1")
                .bind(c.id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Err(StoreError::conflict("already_exists", format!("count {} exists", c.id)).into());
            }
            if let Some((open, _)) = Self::open_count_at(&mut tx, &c.location).await? {
                return Err(StoreError::conflict(
                    "count_open",
                    format!("count {open} is open at {}; approve or cancel it first", c.location),
                )
                .into());
            }
            sqlx::query(&format!(
                "INSERT INTO counts ({COUNT_COLUMNS}) VALUES ($1, $2, 'open', $3, $4, $5, NULL, NULL)"
            ))
            .bind(c.id.as_str())
            .bind(c.location.as_str())
            .bind(c.skus.as_ref().map(to_json))
            .bind(actor)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|e| match e.as_database_error() {
                // Another count opened here meanwhile (the one-open-count index).
                Some(db) if db.is_unique_violation() => TxError::Retry(e),
                _ => TxError::Sql(e),
            })?;
            // The snapshot: one statement, so one consistent view of the levels.
            let levels: Vec<(String, i64)> =
                sqlx::query_as("SELECT sku, on_hand FROM stock_levels WHERE location = $1 ORDER BY sku")
                    .bind(c.location.as_str())
                    .fetch_all(&mut *tx)
                    .await?;
            let levels: HashMap<String, i64> = levels.into_iter().collect();
            let scope: Vec<(String, i64)> = match &c.skus {
                Some(skus) => skus
                    .iter()
                    .map(|s| (s.to_string(), levels.get(s.as_str()).copied().unwrap_or(0)))
                    .collect(),
                None => levels.into_iter().collect(),
            };
            for (sku, on_hand) in &scope {
                sqlx::query(
                    "INSERT INTO count_lines (count_id, sku, in_scope, expected_at_open, expected) \
                     VALUES ($1, $2, TRUE, TRUE, $3)",
                )
                .bind(c.id.as_str())
                .bind(sku.as_str())
                .bind(*on_hand)
                .execute(&mut *tx)
                .await?;
            }
            let count = Self::read_count(&mut tx, &c.id).await?;
            let mut data = json(&count)?;
            data["lines"] = serde_json::Value::from(count.lines.len());
            let event = floor_event(
                format!("count:{}:opened", c.id),
                "count.opened",
                format!("count:{}", c.id),
                &c.location,
                data,
            );
            Self::append_events(&mut tx, vec![event], at).await?;
            tx.commit().await?;
            Ok(count)
        })
        .await
    }

    /// The open count at a location, locked until commit, with its scope.
    pub(crate) async fn open_count_at(
        tx: &mut Transaction<'static, DB>,
        location: &LocationCode,
    ) -> Result<Option<(CountId, Option<Vec<Sku>>)>, TxError> {
        let row: Option<CountRow> = sqlx::query_as(&format!(
            "SELECT {COUNT_COLUMNS} FROM counts WHERE location = $1 AND status = 'open'{}",
            DB::LOCK_ROWS
        ))
        .bind(location.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        match row {
            Some(row) => Ok(Some((
                CountId::from_trusted(row.count_id.clone()),
                row.scope()?,
            ))),
            None => Ok(None),
        }
    }

    /// Adds counted units to a SKU's line (creating it, as found-not-expected, if missing)
    /// and records the book figure of this moment.
    pub(crate) async fn add_to_count_line(
        tx: &mut Transaction<'static, DB>,
        count: &CountId,
        sku: &Sku,
        in_scope: bool,
        (scanned, rfid): (i64, i64),
        book: i64,
        at: DateTime<Utc>,
    ) -> Result<(), TxError> {
        sqlx::query(
            "INSERT INTO count_lines (count_id, sku, in_scope, expected_at_open, expected, scanned, rfid, book, counted_at) \
             VALUES ($1, $2, $3, FALSE, 0, $4, $5, $6, $7) \
             ON CONFLICT (count_id, sku) DO UPDATE SET scanned = count_lines.scanned + excluded.scanned, \
             rfid = count_lines.rfid + excluded.rfid, book = excluded.book, counted_at = excluded.counted_at",
        )
        .bind(count.as_str())
        .bind(sku.as_str())
        .bind(in_scope)
        .bind(scanned)
        .bind(rfid)
        .bind(book)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// The count row, locked until commit, refusing a count that is not open (unless it
    /// already is in `done`, which a retry of the same action finds).
    pub(super) async fn lock_count(
        tx: &mut Transaction<'static, DB>,
        id: &CountId,
    ) -> Result<CountRow, TxError> {
        let row: Option<CountRow> = sqlx::query_as(&format!(
            "SELECT {COUNT_COLUMNS} FROM counts WHERE count_id = $1{}",
            DB::LOCK_ROWS
        ))
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.ok_or_else(|| StoreError::not_found(format!("count {id}")))?)
    }

    pub(crate) async fn add_count_scans(
        &self,
        id: &CountId,
        scans: NewScans,
    ) -> Result<Count, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let row = Self::lock_count(&mut tx, id).await?;
            if let Some(batch) = &scans.batch_id {
                let fresh = sqlx::query(
                    "INSERT INTO count_batches (count_id, batch_id) VALUES ($1, $2) ON CONFLICT (count_id, batch_id) DO NOTHING",
                )
                .bind(id.as_str())
                .bind(batch.as_str())
                .execute(&mut *tx)
                .await?;
                if DB::rows_affected(&fresh) == 0 {
                    let count = Self::read_count(&mut tx, id).await?;
                    tx.commit().await?;
                    return Ok(count);
                }
            }
            if row.status()? != CountStatus::Open {
                return Err(closed(id, row.status()?).into());
            }
            let at = now();
            let location = LocationCode::from_trusted(row.location.clone());
            let scope = row.scope()?;
            let items: Vec<&ItemRef> = scans.lines.iter().map(|l| &l.item).collect();
            let products = Self::resolve_items(&mut tx, &items).await?;
            let mut deltas: BTreeMap<Sku, (i64, usize)> = BTreeMap::new();
            for (i, (line, p)) in scans.lines.iter().zip(&products).enumerate() {
                let units = match &line.item {
                    ItemRef::Sku(_) => line.times,
                    ItemRef::Code(c) => {
                        let target = CodeTarget { factor: p.factor, unit_price: p.price };
                        let field = format!("lines[{i}].code");
                        let (q, _) = code::quantity(&field, c, line.times.abs(), &target)
                            .map_err(|e| StoreError::Invalid(vec![e]))?;
                        q * line.times.signum()
                    }
                };
                let entry = deltas.entry(p.sku.clone()).or_insert((0, i));
                entry.0 += units;
                entry.1 = i;
            }
            let current: HashMap<String, i64> = sqlx::query_as::<DB, (String, i64)>(
                "SELECT sku, scanned FROM count_lines WHERE count_id = $1",
            )
            .bind(id.as_str())
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
            let mut errors = Vec::new();
            for (sku, (delta, last)) in &deltas {
                let now_scanned = current.get(sku.as_str()).copied().unwrap_or(0);
                if now_scanned + delta < 0 {
                    errors.push(FieldError::new(
                        format!("lines[{last}].qty"),
                        "below_zero",
                        format!("{sku} has {now_scanned} scanned; taking back {} leaves less than none", -delta),
                    ));
                }
            }
            if !errors.is_empty() {
                return Err(StoreError::Invalid(errors).into());
            }
            for (sku, (delta, _)) in &deltas {
                let (on_hand, _) = Self::lock_level(&mut tx, &location, sku).await?;
                let in_scope = scope.as_ref().is_none_or(|s| s.contains(sku));
                Self::add_to_count_line(&mut tx, id, sku, in_scope, (*delta, 0), on_hand, at).await?;
            }
            let data = serde_json::json!({
                "count_id": id,
                "batch_id": scans.batch_id,
                "lines": deltas.iter().map(|(sku, (q, _))| serde_json::json!({"sku": sku, "qty": q})).collect::<Vec<_>>(),
            });
            let event = floor_event(random_id()?, "count.scanned", format!("count:{id}"), &location, data);
            Self::append_events(&mut tx, vec![event], at).await?;
            let count = Self::read_count(&mut tx, id).await?;
            tx.commit().await?;
            Ok(count)
        })
        .await
    }
}
