//! An edge node's side of the sync with HQ, each step one transaction; and HQ's snapshot
//! of one store's figures that an edge node starts from.
//!
//! The local event log is the push queue: every ledger row at the store has its
//! `stock.changed` event, numbered in commit order on both databases, so the push cursor is
//! a local event seq. Rows written from HQ's figures are listed in `edge_mirrored` and never
//! pushed. HQ's figures are mirrored by `domain::edge::mirror_delta`: each level is HQ's
//! last known figure plus the node's own movements HQ has not shown back yet, so nothing is
//! counted twice whichever side sees a movement first. See
//! `docs/decisions/0009-edge-sync.md`.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use domain::FieldError;
use domain::ids::{LocationCode, MovementId, Sku};
use domain::stock::{Level, Movement, MovementKind};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::edge::{
    EdgeNote, EdgeState, EdgeSync, HqLevelRecord, HqStock, Mirrored, Outbox, PushAck, StockSnapshot,
};
use store::{BackupRecord, NewEvent, StoreError};

use crate::core::{Core, Dialect, TxError, now, retry};
use crate::rows::LevelRow;
use crate::stock::LedgerEntry;

const SYNC_COLUMNS: &str = "hq, location, push_cursor, stock_seq, catalog_seq, bootstrapped_at, online, \
     last_push_at, last_pull_at, last_sync_at, last_error, refused, created_at";

#[derive(sqlx::FromRow)]
struct SyncRow {
    hq: String,
    location: String,
    push_cursor: i64,
    stock_seq: i64,
    catalog_seq: i64,
    bootstrapped_at: Option<DateTime<Utc>>,
    online: bool,
    last_push_at: Option<DateTime<Utc>>,
    last_pull_at: Option<DateTime<Utc>>,
    last_sync_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    refused: i64,
    created_at: DateTime<Utc>,
}

impl From<SyncRow> for EdgeSync {
    fn from(r: SyncRow) -> Self {
        EdgeSync {
            hq: r.hq,
            location: LocationCode::from_trusted(r.location),
            push_cursor: r.push_cursor,
            stock_seq: r.stock_seq,
            catalog_seq: r.catalog_seq,
            bootstrapped_at: r.bootstrapped_at,
            online: r.online,
            last_push_at: r.last_push_at,
            last_pull_at: r.last_pull_at,
            last_sync_at: r.last_sync_at,
            last_error: r.last_error,
            refused: r.refused,
            created_at: r.created_at,
        }
    }
}

/// A ledger row of the outbox, with the local event that queued it.
#[derive(sqlx::FromRow)]
struct OutboxRow {
    event_seq: i64,
    mirrored: i64,
    #[sqlx(flatten)]
    movement: crate::rows::MovementRow,
}

/// The kinds HQ's movements API accepts, as stored: the only ones an edge node pushes.
fn pushable_kinds() -> String {
    let kinds: Vec<String> = MovementKind::EXTERNAL
        .iter()
        .map(|k| format!("'{}'", k.as_str()))
        .collect();
    format!("({})", kinds.join(", "))
}

/// The longest error text kept in the sync state.
const MAX_ERROR: usize = 500;

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// A ledger row written from HQ's figures.
struct MirrorRow<'a> {
    location: &'a LocationCode,
    sku: &'a Sku,
    id: MovementId,
    kind: MovementKind,
    qty: i64,
    delta: i64,
    reason: Option<String>,
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
    pub(crate) async fn edge_bind(
        &self,
        hq: &str,
        location: &LocationCode,
        at: DateTime<Utc>,
    ) -> Result<EdgeState, StoreError> {
        let at = crate::core::micros(at);
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            match Self::sync_row(&mut tx).await? {
                Some(row) if row.location != location.as_str() => {
                    return Err(StoreError::conflict(
                        "edge_bound_elsewhere",
                        format!(
                            "this database is the edge node of {}; use another database for {location}",
                            row.location
                        ),
                    )
                    .into());
                }
                Some(_) => {
                    sqlx::query("UPDATE edge_sync SET hq = $1, online = $2 WHERE edge_id = 1")
                        .bind(hq)
                        .bind(false)
                        .execute(&mut *tx)
                        .await?;
                }
                None => {
                    sqlx::query(
                        "INSERT INTO edge_sync (edge_id, hq, location, online, created_at) VALUES (1, $1, $2, $3, $4)",
                    )
                    .bind(hq)
                    .bind(location.as_str())
                    .bind(false)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            let state = Self::state_in(&mut tx).await?;
            tx.commit().await?;
            state.ok_or_else(|| StoreError::Other("the edge binding vanished".into()).into())
        })
        .await
    }

    pub(crate) async fn edge_state(&self) -> Result<Option<EdgeState>, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = self.reader.begin().await?;
            let state = Self::state_in(&mut tx).await?;
            tx.commit().await?;
            Ok(state)
        })
        .await
    }

    pub(crate) async fn edge_mirror(&self, stock: HqStock) -> Result<Mirrored, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let sync = Self::locked_sync(&mut tx).await?;
            let location = LocationCode::from_trusted(sync.location.clone());
            let skus: BTreeSet<&str> = stock.figures.iter().map(|f| f.sku.as_str()).collect();
            let known = Self::existing(&mut tx, "products", "sku", &skus).await?;
            let unknown: Vec<FieldError> = stock
                .figures
                .iter()
                .enumerate()
                .filter(|(_, f)| !known.contains(f.sku.as_str()))
                .map(|(i, f)| {
                    FieldError::new(
                        format!("figures[{i}].sku"),
                        "unknown_sku",
                        format!("no product {}", f.sku),
                    )
                })
                .collect();
            if !unknown.is_empty() {
                return Err(StoreError::Invalid(unknown).into());
            }
            let recorded_at = now();
            let mut summary = Mirrored::default();
            let mut events = Vec::new();
            for f in &stock.figures {
                let hq_before: Option<(i64,)> = sqlx::query_as(
                    "SELECT on_hand FROM edge_hq_levels WHERE location = $1 AND sku = $2",
                )
                .bind(location.as_str())
                .bind(f.sku.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let hq_before = hq_before.map_or(0, |(h,)| h);
                // Whose movement was it? The node's own when its ledger holds the same facts
                // under that id, written here rather than mirrored.
                let own = match &f.movement {
                    Some(m) => Self::own_delta(&mut tx, &location, &f.sku, m).await?,
                    None => None,
                };
                let delta = domain::edge::mirror_delta(hq_before, f.on_hand, own.map(|o| o.1));
                sqlx::query(
                    "INSERT INTO edge_hq_levels (location, sku, on_hand) VALUES ($1, $2, $3) \
                     ON CONFLICT (location, sku) DO UPDATE SET on_hand = excluded.on_hand",
                )
                .bind(location.as_str())
                .bind(f.sku.as_str())
                .bind(f.on_hand)
                .execute(&mut *tx)
                .await?;
                if own.is_some() {
                    summary.own += 1;
                }
                if delta == 0 {
                    continue;
                }
                let row = match (&f.movement, own) {
                    (None, _) => MirrorRow {
                        location: &location,
                        sku: &f.sku,
                        id: MovementId::from_trusted(format!(
                            "edge:open:{}:{}",
                            stock.stock_seq, f.sku
                        )),
                        kind: MovementKind::Adjustment,
                        qty: delta,
                        delta,
                        reason: Some("HQ's figure when this edge node started".into()),
                    },
                    (Some(m), Some((_, applied))) => MirrorRow {
                        location: &location,
                        sku: &f.sku,
                        id: MovementId::from_trusted(format!("edge:hq:{}", m.event_seq)),
                        kind: MovementKind::Adjustment,
                        qty: delta,
                        delta,
                        reason: Some(clip(
                            &format!(
                                "HQ applied {} as {}, this node as {applied}",
                                m.id, m.on_hand_delta
                            ),
                            domain::stock::MAX_REASON,
                        )),
                    },
                    (Some(m), None) => {
                        // HQ's id, unless this node's ledger already uses it for something else.
                        let taken = Self::movement_seq(&mut tx, m.id.as_str()).await?.is_some();
                        MirrorRow {
                            location: &location,
                            sku: &f.sku,
                            id: if taken {
                                MovementId::from_trusted(format!("edge:hq:{}", m.event_seq))
                            } else {
                                m.id.clone()
                            },
                            kind: MovementKind::from_stored(&m.kind)
                                .unwrap_or(MovementKind::Adjustment),
                            qty: m.qty,
                            delta,
                            reason: m.reason.clone(),
                        }
                    }
                };
                if own.is_some() {
                    summary.corrected += 1;
                } else {
                    summary.foreign += 1;
                }
                Self::write_mirror(&mut tx, &row, recorded_at, &mut events).await?;
            }
            sqlx::query(
                "UPDATE edge_sync SET stock_seq = CASE WHEN $1 > stock_seq THEN $1 ELSE stock_seq END, \
                 last_pull_at = $2, \
                 catalog_seq = CASE WHEN $3 > catalog_seq THEN $3 ELSE catalog_seq END, \
                 bootstrapped_at = CASE WHEN $4 THEN COALESCE(bootstrapped_at, $2) ELSE bootstrapped_at END \
                 WHERE edge_id = 1",
            )
            .bind(stock.stock_seq)
            .bind(recorded_at)
            .bind(stock.bootstrap.unwrap_or(0))
            .bind(stock.bootstrap.is_some())
            .execute(&mut *tx)
            .await?;
            Self::note_in_sync(&mut tx, &sync, recorded_at).await?;
            Self::append_events(&mut tx, events, recorded_at).await?;
            tx.commit().await?;
            Ok(summary)
        })
        .await
    }

    pub(crate) async fn edge_outbox(&self, limit: i64) -> Result<Outbox, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = self.reader.begin().await?;
            let sync = Self::sync_row(&mut tx)
                .await?
                .ok_or_else(|| StoreError::not_found("edge binding"))?;
            let rows: Vec<OutboxRow> = sqlx::query_as(
                "SELECT e.seq AS event_seq, \
                        (SELECT COUNT(*) FROM edge_mirrored x WHERE x.movement_seq = m.seq) AS mirrored, \
                        m.seq, m.movement_id, m.location, m.sku, m.kind, m.qty, m.on_hand_delta, \
                        m.reserved_delta, m.on_hand_after, m.reason, m.occurred_at, m.recorded_at \
                 FROM events e JOIN stock_movements m ON m.movement_id = substr(e.event_id, 7) \
                 WHERE e.seq > $1 AND e.type = 'stock.changed' AND e.location = $2 \
                 ORDER BY e.seq LIMIT $3",
            )
            .bind(sync.push_cursor)
            .bind(sync.location.as_str())
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            let up_to = rows.last().map_or(sync.push_cursor, |r| r.event_seq);
            let mut outbox = Outbox {
                movements: Vec::with_capacity(rows.len()),
                up_to,
                skipped: 0,
            };
            for row in rows {
                let mirrored = row.mirrored > 0;
                let movement = Movement::try_from(row.movement)?;
                if mirrored || !MovementKind::EXTERNAL.contains(&movement.kind) {
                    outbox.skipped += 1;
                } else {
                    outbox.movements.push(movement);
                }
            }
            Ok(outbox)
        })
        .await
    }

    pub(crate) async fn edge_pushed(&self, ack: PushAck) -> Result<(), StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let sync = Self::locked_sync(&mut tx).await?;
            let recorded_at = now();
            let mut events = Vec::new();
            for refusal in &ack.refused {
                let found: Option<(i64, String, String, i64)> = sqlx::query_as(
                    "SELECT seq, location, sku, on_hand_delta FROM stock_movements WHERE movement_id = $1",
                )
                .bind(refusal.id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let Some((seq, location, sku, applied)) = found else {
                    continue;
                };
                let delta = domain::edge::refused_delta(applied);
                if delta == 0 {
                    continue;
                }
                let (location, sku) = (LocationCode::from_trusted(location), Sku::from_trusted(sku));
                let row = MirrorRow {
                    location: &location,
                    sku: &sku,
                    id: MovementId::from_trusted(format!("edge:refused:{seq}")),
                    kind: MovementKind::Adjustment,
                    qty: delta,
                    delta,
                    reason: Some(clip(
                        &format!("HQ refused {} ({}): {}", refusal.id, refusal.code, refusal.message),
                        domain::stock::MAX_REASON,
                    )),
                };
                Self::write_mirror(&mut tx, &row, recorded_at, &mut events).await?;
            }
            let error = ack.refused.last().map(|r| {
                clip(
                    &format!("HQ refused movement {} ({}): {}", r.id, r.code, r.message),
                    MAX_ERROR,
                )
            });
            sqlx::query(
                "UPDATE edge_sync SET push_cursor = CASE WHEN $1 > push_cursor THEN $1 ELSE push_cursor END, \
                 last_push_at = CASE WHEN $2 THEN $3 ELSE last_push_at END, \
                 refused = refused + $4, last_error = COALESCE($5, last_error) WHERE edge_id = 1",
            )
            .bind(ack.up_to)
            .bind(ack.pushed > 0)
            .bind(crate::core::micros(ack.now))
            .bind(ack.refused.len() as i64)
            .bind(error)
            .execute(&mut *tx)
            .await?;
            if ack.pushed > 0 {
                Self::note_in_sync(&mut tx, &sync, recorded_at).await?;
            }
            Self::append_events(&mut tx, events, recorded_at).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn edge_note(&self, note: EdgeNote) -> Result<(), StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let sync = Self::locked_sync(&mut tx).await?;
            match &note {
                EdgeNote::Link { online, error, now } => {
                    sqlx::query(
                        "UPDATE edge_sync SET online = $1, last_error = COALESCE($2, last_error) WHERE edge_id = 1",
                    )
                    .bind(*online)
                    .bind(error.as_deref().map(|e| clip(e, MAX_ERROR)))
                    .execute(&mut *tx)
                    .await?;
                    // Going offline or coming back with nothing pending: the two agreed until now.
                    Self::note_in_sync(&mut tx, &sync, crate::core::micros(*now)).await?;
                }
                EdgeNote::CatalogSeq(seq) => {
                    sqlx::query(
                        "UPDATE edge_sync SET catalog_seq = CASE WHEN $1 > catalog_seq THEN $1 ELSE catalog_seq END \
                         WHERE edge_id = 1",
                    )
                    .bind(*seq)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn edge_snapshot(
        &self,
        location: &LocationCode,
    ) -> Result<StockSnapshot, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_snapshot(&self.reader).await?;
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM locations WHERE code = $1")
                .bind(location.as_str())
                .fetch_one(&mut *tx)
                .await?;
            if n == 0 {
                return Err(StoreError::not_found(format!("location {location}")).into());
            }
            let (head,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) FROM events")
                .fetch_one(&mut *tx)
                .await?;
            let rows: Vec<LevelRow> = sqlx::query_as(
                "SELECT location, sku, on_hand, reserved, incoming, updated_at FROM stock_levels \
                 WHERE location = $1 ORDER BY sku",
            )
            .bind(location.as_str())
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(StockSnapshot {
                head,
                levels: rows.into_iter().map(Level::from).collect(),
            })
        })
        .await
    }

    /// The edge tables into a backup (nothing on a node that is not an edge node).
    pub(crate) async fn export_edge(
        tx: &mut Transaction<'static, DB>,
        write: &mut (dyn FnMut(BackupRecord) -> Result<(), StoreError> + Send),
    ) -> Result<(), TxError> {
        if let Some(row) = Self::sync_row(tx).await? {
            write(BackupRecord::EdgeSync(EdgeSync::from(row)))?;
        }
        let levels: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT location, sku, on_hand FROM edge_hq_levels ORDER BY location, sku",
        )
        .fetch_all(&mut **tx)
        .await?;
        for (location, sku, on_hand) in levels {
            write(BackupRecord::EdgeHqLevel(HqLevelRecord {
                location: LocationCode::from_trusted(location),
                sku: Sku::from_trusted(sku),
                on_hand,
            }))?;
        }
        let mirrored: Vec<(i64,)> =
            sqlx::query_as("SELECT movement_seq FROM edge_mirrored ORDER BY movement_seq")
                .fetch_all(&mut **tx)
                .await?;
        for (movement_seq,) in mirrored {
            write(BackupRecord::EdgeMirrored { movement_seq })?;
        }
        Ok(())
    }

    /// Restores one edge record; `false` when `record` is not one.
    pub(crate) async fn restore_edge(
        tx: &mut Transaction<'static, DB>,
        record: &BackupRecord,
    ) -> Result<bool, TxError> {
        match record {
            BackupRecord::EdgeSync(s) => {
                sqlx::query(&format!(
                    "INSERT INTO edge_sync (edge_id, {SYNC_COLUMNS}) \
                     VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ))
                .bind(s.hq.as_str())
                .bind(s.location.as_str())
                .bind(s.push_cursor)
                .bind(s.stock_seq)
                .bind(s.catalog_seq)
                .bind(s.bootstrapped_at)
                .bind(s.online)
                .bind(s.last_push_at)
                .bind(s.last_pull_at)
                .bind(s.last_sync_at)
                .bind(s.last_error.as_deref())
                .bind(s.refused)
                .bind(s.created_at)
                .execute(&mut **tx)
                .await?;
            }
            BackupRecord::EdgeHqLevel(l) => {
                sqlx::query(
                    "INSERT INTO edge_hq_levels (location, sku, on_hand) VALUES ($1, $2, $3)",
                )
                .bind(l.location.as_str())
                .bind(l.sku.as_str())
                .bind(l.on_hand)
                .execute(&mut **tx)
                .await?;
            }
            BackupRecord::EdgeMirrored { movement_seq } => {
                sqlx::query("INSERT INTO edge_mirrored (movement_seq) VALUES ($1)")
                    .bind(*movement_seq)
                    .execute(&mut **tx)
                    .await?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    async fn sync_row(tx: &mut Transaction<'static, DB>) -> Result<Option<SyncRow>, TxError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {SYNC_COLUMNS} FROM edge_sync WHERE edge_id = 1"
        ))
        .fetch_optional(&mut **tx)
        .await?)
    }

    /// The binding, locked until commit; `NotFound` on a database that is not an edge node's.
    async fn locked_sync(tx: &mut Transaction<'static, DB>) -> Result<SyncRow, TxError> {
        let row: Option<SyncRow> = sqlx::query_as(&format!(
            "SELECT {SYNC_COLUMNS} FROM edge_sync WHERE edge_id = 1{}",
            DB::LOCK_ROWS
        ))
        .fetch_optional(&mut **tx)
        .await?;
        row.ok_or_else(|| StoreError::not_found("edge binding").into())
    }

    async fn state_in(tx: &mut Transaction<'static, DB>) -> Result<Option<EdgeState>, TxError> {
        let Some(row) = Self::sync_row(tx).await? else {
            return Ok(None);
        };
        let pending = Self::pending(tx, row.push_cursor, &row.location).await?;
        Ok(Some(EdgeState {
            sync: EdgeSync::from(row),
            pending_movements: pending,
        }))
    }

    /// The node's own pushable movements at the store after the push cursor.
    async fn pending(
        tx: &mut Transaction<'static, DB>,
        cursor: i64,
        location: &str,
    ) -> Result<i64, TxError> {
        let (n,): (i64,) = sqlx::query_as(&format!(
            "SELECT COUNT(*) FROM events e JOIN stock_movements m ON m.movement_id = substr(e.event_id, 7) \
             WHERE e.seq > $1 AND e.type = 'stock.changed' AND e.location = $2 AND m.kind IN {} \
               AND NOT EXISTS (SELECT 1 FROM edge_mirrored x WHERE x.movement_seq = m.seq)",
            pushable_kinds()
        ))
        .bind(cursor)
        .bind(location)
        .fetch_one(&mut **tx)
        .await?;
        Ok(n)
    }

    /// After an exchange with HQ: when nothing is pending, the node and HQ agree as of `at`.
    async fn note_in_sync(
        tx: &mut Transaction<'static, DB>,
        sync: &SyncRow,
        at: DateTime<Utc>,
    ) -> Result<(), TxError> {
        let (cursor,): (i64,) =
            sqlx::query_as("SELECT push_cursor FROM edge_sync WHERE edge_id = 1")
                .fetch_one(&mut **tx)
                .await?;
        if Self::pending(tx, cursor, &sync.location).await? == 0 {
            sqlx::query("UPDATE edge_sync SET last_sync_at = $1 WHERE edge_id = 1")
                .bind(at)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// The local change a movement HQ reports made here, when it is this node's own: the
    /// ledger holds the same facts under that id in a row that was not mirrored.
    async fn own_delta(
        tx: &mut Transaction<'static, DB>,
        location: &LocationCode,
        sku: &Sku,
        m: &store::edge::HqMovement,
    ) -> Result<Option<(i64, i64)>, TxError> {
        let row: Option<(i64, String, String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT m.seq, m.location, m.sku, m.kind, m.qty, m.on_hand_delta, \
                    (SELECT COUNT(*) FROM edge_mirrored x WHERE x.movement_seq = m.seq) \
             FROM stock_movements m WHERE m.movement_id = $1",
        )
        .bind(m.id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.and_then(|(seq, loc, s, kind, qty, delta, mirrored)| {
            (mirrored == 0
                && loc == location.as_str()
                && s == sku.as_str()
                && kind == m.kind
                && qty == m.qty)
                .then_some((seq, delta))
        }))
    }

    async fn movement_seq(
        tx: &mut Transaction<'static, DB>,
        id: &str,
    ) -> Result<Option<i64>, TxError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT seq FROM stock_movements WHERE movement_id = $1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        Ok(row.map(|(s,)| s))
    }

    /// Applies a change from HQ's figures to a level, unconditionally (HQ's figure is a
    /// fact, even below zero), as a ledger row listed in `edge_mirrored` with its
    /// `stock.changed` event marked `"origin": "hq"`.
    async fn write_mirror(
        tx: &mut Transaction<'static, DB>,
        row: &MirrorRow<'_>,
        recorded_at: DateTime<Utc>,
        events: &mut Vec<NewEvent>,
    ) -> Result<(), TxError> {
        let (on_hand, reserved) = Self::lock_level(tx, row.location, row.sku).await?;
        let after = on_hand + row.delta;
        sqlx::query(
            "UPDATE stock_levels SET on_hand = $3, updated_at = $4 WHERE location = $1 AND sku = $2",
        )
        .bind(row.location.as_str())
        .bind(row.sku.as_str())
        .bind(after)
        .bind(recorded_at)
        .execute(&mut **tx)
        .await?;
        let entry = LedgerEntry {
            id: row.id.clone(),
            location: row.location.clone(),
            sku: row.sku.clone(),
            kind: row.kind,
            qty: row.qty,
            on_hand_delta: row.delta,
            reserved_delta: 0,
            on_hand_after: after,
            reason: row.reason.clone(),
            occurred_at: recorded_at,
            recorded_at,
        };
        let seq = Self::record_movement(tx, &entry).await?;
        sqlx::query("INSERT INTO edge_mirrored (movement_seq) VALUES ($1)")
            .bind(seq)
            .execute(&mut **tx)
            .await?;
        let mut event = crate::events::stock_changed(&entry, seq, reserved);
        if let Some(movement) = event.data.get_mut("movement") {
            movement["origin"] = serde_json::Value::from("hq");
        }
        events.push(event);
        Ok(())
    }
}
