//! An edge node's side of the sync with HQ, each step one transaction; and HQ's snapshot
//! of one store's figures that an edge node starts from.
//!
//! The local event log is the push queue: every ledger row at the store has its
//! `stock.changed` event, so the push cursor is a local event seq read up to the log's
//! settled horizon ([`outbox`], decision 0011). Rows written from HQ's figures are listed in
//! `edge_mirrored` and never pushed ([`mirror`]). This module holds the binding, the sync
//! state, HQ's snapshot and the backup of the edge tables. See
//! `docs/decisions/0009-edge-sync.md`.

mod mirror;
mod outbox;

use chrono::{DateTime, NaiveDate, Utc};
use domain::ids::{LocationCode, Sku};
use domain::stock::{Level, MovementKind};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::edge::{EdgeNote, EdgeState, EdgeSync, HqLevelRecord, StockSnapshot};
use store::{BackupRecord, StoreError};

use crate::core::{Core, Dialect, TxError, retry};
use crate::rows::LevelRow;

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

/// The kinds HQ's movements API accepts, as stored: the only ones an edge node pushes.
pub(crate) fn pushable_kinds() -> String {
    let kinds: Vec<String> = MovementKind::EXTERNAL
        .iter()
        .map(|k| format!("'{}'", k.as_str()))
        .collect();
    format!("({})", kinds.join(", "))
}

/// The longest error text kept in the sync state.
pub(crate) const MAX_ERROR: usize = 500;

pub(crate) fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
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
        // Settled before the snapshot starts, so the snapshot holds every event up to the
        // head; it may hold some after it too, which the node then mirrors again (each
        // carries its level's figure, so that is harmless).
        let head = self.event_head().await?;
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_snapshot(&self.reader).await?;
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM locations WHERE code = $1")
                .bind(location.as_str())
                .fetch_one(&mut *tx)
                .await?;
            if n == 0 {
                return Err(StoreError::not_found(format!("location {location}")).into());
            }
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
}
