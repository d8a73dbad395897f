//! Applying movement batches to the ledger and the levels, and reading them back.
//!
//! A batch is one transaction. Its movements are applied in (location, SKU) order — the one
//! global lock order, so concurrent batches on PostgreSQL never deadlock — while outcomes
//! are returned in input order and movements of one level keep their input order.
//! For each movement the level row is locked first, then its id is looked up: a retry of
//! the same movement waits for the first to commit and then sees it as a duplicate.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use domain::FieldError;
use domain::ids::{LocationCode, MovementId, Sku};
use domain::stock::{
    Applied, Effect, Level, Movement, MovementKind, NewMovement, Outcome, Rejection,
};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::{LevelFilter, StoreError};

use crate::core::{Core, Dialect, TxError, now, placeholders, retry};
use crate::rows::{LevelRow, MOVEMENT_COLUMNS, MovementRow};

impl LedgerEntry {
    /// The ledger row as a movement, once the ledger gave it its position.
    pub(crate) fn into_movement(self, seq: i64) -> Movement {
        Movement {
            seq,
            id: self.id,
            sku: self.sku,
            location: self.location,
            kind: self.kind,
            qty: self.qty,
            on_hand_delta: self.on_hand_delta,
            reserved_delta: self.reserved_delta,
            on_hand_after: self.on_hand_after,
            reason: self.reason,
            occurred_at: self.occurred_at,
            recorded_at: self.recorded_at,
        }
    }
}

/// A level a movement changed, with its ledger row still to record.
struct Changed {
    /// The movement's index in its batch.
    index: usize,
    entry: LedgerEntry,
    /// The level's reserved figure after the change (for its event).
    reserved: i64,
}

/// A ledger row to append.
pub(crate) struct LedgerEntry {
    pub id: MovementId,
    pub location: LocationCode,
    pub sku: Sku,
    pub kind: MovementKind,
    pub qty: i64,
    pub on_hand_delta: i64,
    pub reserved_delta: i64,
    pub on_hand_after: i64,
    pub reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

/// Ledger rows per multi-row `INSERT` (11 parameters each, well within both databases'
/// limits).
const LEDGER_ROWS_PER_INSERT: usize = 100;

const LEVEL_COLUMNS: &str = "location, sku, on_hand, reserved, incoming, updated_at";

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
    pub(crate) async fn apply_movements(
        &self,
        batch: Vec<NewMovement>,
    ) -> Result<Vec<Outcome>, StoreError> {
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by(|&a, &b| {
            (&batch[a].location, &batch[a].sku).cmp(&(&batch[b].location, &batch[b].sku))
        });
        retry::<DB, _, _, _>(|| async {
            // With one writer (SQLite) the reads go first, on a reader, so the writer is held
            // only for the writes (see `Dialect::SERIAL_WRITERS`).
            let mut tx = if DB::SERIAL_WRITERS {
                self.reader.begin().await?
            } else {
                DB::begin_write(&self.writer).await?
            };
            Self::check_references(&mut tx, &batch).await?;
            // One lookup for the whole batch; a concurrent batch that commits the same id
            // meanwhile makes our ledger insert fail and the transaction retry, finding it.
            let ids: Vec<&str> = batch.iter().map(|m| m.id.as_str()).collect();
            let mut seen = Self::movements_by_id(&mut tx, &ids).await?;
            if DB::SERIAL_WRITERS {
                tx.commit().await?;
                tx = DB::begin_write(&self.writer).await?;
            }
            let recorded_at = now();
            let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
            let mut events = Vec::new();
            // Ledger rows go in one statement at the end; a movement whose id is still
            // pending (the same id twice in one batch) first has them recorded, so it is
            // judged against the first one as stored.
            let mut pending: Vec<Changed> = Vec::new();
            for &i in &order {
                let m = &batch[i];
                if pending.iter().any(|c| c.entry.id == m.id) {
                    Self::record_pending(
                        &mut tx,
                        &mut pending,
                        &mut outcomes,
                        &mut events,
                        &mut seen,
                    )
                    .await?;
                }
                if let Some(outcome) =
                    Self::change_level(&mut tx, i, m, recorded_at, &seen, &mut pending).await?
                {
                    outcomes[i] = Some(outcome);
                }
            }
            Self::record_pending(&mut tx, &mut pending, &mut outcomes, &mut events, &mut seen)
                .await?;
            Self::append_events(&mut tx, events, recorded_at).await?;
            tx.commit().await?;
            Ok(outcomes.into_iter().flatten().collect())
        })
        .await
    }

    /// Refuses the batch, naming each field, when it names a SKU or location that does not exist.
    async fn check_references(
        tx: &mut Transaction<'static, DB>,
        batch: &[NewMovement],
    ) -> Result<(), TxError> {
        let skus: BTreeSet<&str> = batch.iter().map(|m| m.sku.as_str()).collect();
        let locations: BTreeSet<&str> = batch.iter().map(|m| m.location.as_str()).collect();
        let known_skus = Self::existing(tx, "products", "sku", &skus).await?;
        let known_locations = Self::existing(tx, "locations", "code", &locations).await?;
        let mut errors = Vec::new();
        for (i, m) in batch.iter().enumerate() {
            if !known_skus.contains(m.sku.as_str()) {
                errors.push(FieldError::new(
                    format!("movements[{i}].sku"),
                    "unknown_sku",
                    format!("no product {}", m.sku),
                ));
            }
            if !known_locations.contains(m.location.as_str()) {
                errors.push(FieldError::new(
                    format!("movements[{i}].location"),
                    "unknown_location",
                    format!("no location {}", m.location),
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Invalid(errors).into())
        }
    }

    /// Which of `keys` exist in `table.column`.
    pub(crate) async fn existing(
        tx: &mut Transaction<'static, DB>,
        table: &str,
        column: &str,
        keys: &BTreeSet<&str>,
    ) -> Result<HashSet<String>, TxError> {
        let keys: Vec<&str> = keys.iter().copied().collect();
        let mut found = HashSet::new();
        for chunk in keys.chunks(500) {
            let sql = format!(
                "SELECT {column} FROM {table} WHERE {column} IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_as::<DB, (String,)>(&sql);
            for key in chunk {
                query = query.bind(*key);
            }
            found.extend(query.fetch_all(&mut **tx).await?.into_iter().map(|(k,)| k));
        }
        Ok(found)
    }

    pub(crate) async fn apply_one(
        tx: &mut Transaction<'static, DB>,
        m: &NewMovement,
        recorded_at: DateTime<Utc>,
        events: &mut Vec<store::NewEvent>,
        seen: &mut HashMap<String, Movement>,
    ) -> Result<Outcome, TxError> {
        let mut pending = Vec::with_capacity(1);
        let mut outcomes = vec![None];
        if let Some(outcome) = Self::change_level(tx, 0, m, recorded_at, seen, &mut pending).await?
        {
            return Ok(outcome);
        }
        Self::record_pending(tx, &mut pending, &mut outcomes, events, seen).await?;
        outcomes
            .pop()
            .flatten()
            .ok_or_else(|| StoreError::Other(format!("movement {} got no outcome", m.id)).into())
    }

    /// Records the ledger rows of changed levels in one statement, in the order they were
    /// changed, and settles their outcomes (by their index in the batch) and events.
    async fn record_pending(
        tx: &mut Transaction<'static, DB>,
        pending: &mut Vec<Changed>,
        outcomes: &mut [Option<Outcome>],
        events: &mut Vec<store::NewEvent>,
        seen: &mut HashMap<String, Movement>,
    ) -> Result<(), TxError> {
        if pending.is_empty() {
            return Ok(());
        }
        let entries: Vec<&LedgerEntry> = pending.iter().map(|c| &c.entry).collect();
        let seqs = Self::record_movements(tx, &entries).await?;
        for (c, seq) in pending.drain(..).zip(seqs) {
            events.push(crate::events::stock_changed(&c.entry, seq, c.reserved));
            let movement = c.entry.into_movement(seq);
            if let Some(slot) = outcomes.get_mut(c.index) {
                *slot = Some(Outcome::Applied(Applied::of(&movement)));
            }
            seen.insert(movement.id.to_string(), movement);
        }
        Ok(())
    }

    /// Applies movement `m` (number `index` of its batch) to its level and queues its
    /// ledger row on `pending`; or returns its outcome when it changes nothing (a duplicate
    /// of a movement in `seen`, a reused id, a refused decrease).
    async fn change_level(
        tx: &mut Transaction<'static, DB>,
        index: usize,
        m: &NewMovement,
        recorded_at: DateTime<Utc>,
        seen: &HashMap<String, Movement>,
        pending: &mut Vec<Changed>,
    ) -> Result<Option<Outcome>, TxError> {
        if let Some(first) = seen.get(m.id.as_str()) {
            return Ok(Some(if first.same_facts(m) {
                Outcome::Duplicate(Applied::of(first))
            } else {
                Outcome::Rejected {
                    error: Rejection {
                        code: "id_reused",
                        message: format!(
                            "movement id {} was used before for another movement",
                            m.id
                        ),
                    },
                }
            }));
        }
        let effect = m.kind.effect(m.qty);
        let changed = match effect {
            // One conditional statement: the database applies the rule of `Effect::delta_from`
            // (a decrease may not go below zero unless the movement may) and locks the row.
            Effect::Delta {
                on_hand: delta,
                may_go_negative,
            } => Self::add_to_level(tx, m, delta, may_go_negative || delta >= 0, recorded_at)
                .await?
                .map(|(after, reserved)| (delta, after, reserved)),
            Effect::SetTo(_) => {
                let (on_hand, reserved) = Self::lock_level(tx, &m.location, &m.sku).await?;
                let delta = effect.delta_from(on_hand).unwrap_or(0);
                sqlx::query("UPDATE stock_levels SET on_hand = $3, updated_at = $4 WHERE location = $1 AND sku = $2")
                    .bind(m.location.as_str())
                    .bind(m.sku.as_str())
                    .bind(on_hand + delta)
                    .bind(recorded_at)
                    .execute(&mut **tx)
                    .await?;
                Some((delta, on_hand + delta, reserved))
            }
        };
        let Some((delta, after, reserved)) = changed else {
            let (on_hand, _) = Self::lock_level(tx, &m.location, &m.sku).await?;
            return Ok(Some(Outcome::Rejected {
                error: Rejection {
                    code: "insufficient_stock",
                    message: format!(
                        "on_hand is {on_hand}; this {} would take it below zero",
                        m.kind.as_str()
                    ),
                },
            }));
        };
        let entry = LedgerEntry {
            id: m.id.clone(),
            location: m.location.clone(),
            sku: m.sku.clone(),
            kind: m.kind,
            qty: m.qty,
            on_hand_delta: delta,
            reserved_delta: 0,
            on_hand_after: after,
            reason: m.reason.clone(),
            occurred_at: crate::core::micros(m.occurred_at),
            recorded_at,
        };
        pending.push(Changed {
            index,
            entry,
            reserved,
        });
        Ok(None)
    }

    /// Adds `delta` to a level's on_hand unless it is a decrease that would leave it below
    /// zero (`always` lifts that condition), creating the level at zero if missing. Returns
    /// on_hand and reserved after, or `None` when refused.
    async fn add_to_level(
        tx: &mut Transaction<'static, DB>,
        m: &NewMovement,
        delta: i64,
        always: bool,
        at: DateTime<Utc>,
    ) -> Result<Option<(i64, i64)>, TxError> {
        let update = "UPDATE stock_levels SET on_hand = on_hand + $3, updated_at = $5 \
             WHERE location = $1 AND sku = $2 AND ($4 OR on_hand + $3 >= 0) RETURNING on_hand, reserved";
        for attempt in 0..2 {
            let changed: Option<(i64, i64)> = sqlx::query_as(update)
                .bind(m.location.as_str())
                .bind(m.sku.as_str())
                .bind(delta)
                .bind(always)
                .bind(at)
                .fetch_optional(&mut **tx)
                .await?;
            if changed.is_some() || attempt == 1 {
                return Ok(changed);
            }
            // No row changed: the level is missing (or being created by another
            // transaction, which this insert waits for), or the decrease is refused. Make
            // sure it exists, then try once more; a second refusal is final.
            sqlx::query(
                "INSERT INTO stock_levels (location, sku, on_hand, reserved, incoming) VALUES ($1, $2, 0, 0, 0) \
                 ON CONFLICT (location, sku) DO NOTHING",
            )
            .bind(m.location.as_str())
            .bind(m.sku.as_str())
            .execute(&mut **tx)
            .await?;
        }
        Ok(None)
    }

    /// The movements already recorded under any of these ids.
    async fn movements_by_id(
        tx: &mut Transaction<'static, DB>,
        ids: &[&str],
    ) -> Result<HashMap<String, Movement>, TxError> {
        let mut found = HashMap::new();
        for chunk in ids.chunks(500) {
            let sql = format!(
                "SELECT {MOVEMENT_COLUMNS} FROM stock_movements WHERE movement_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_as::<DB, MovementRow>(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut **tx).await? {
                let movement = Movement::try_from(row)?;
                found.insert(movement.id.to_string(), movement);
            }
        }
        Ok(found)
    }

    /// Appends rows to the ledger with multi-row `INSERT`s and returns their positions, in
    /// the order of `entries`. A unique violation is retried as in [`Core::record_movement`].
    pub(crate) async fn record_movements(
        tx: &mut Transaction<'static, DB>,
        entries: &[&LedgerEntry],
    ) -> Result<Vec<i64>, TxError> {
        let mut seqs = Vec::with_capacity(entries.len());
        for chunk in entries.chunks(LEDGER_ROWS_PER_INSERT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(1 + i * 11, 11)))
                .collect();
            let sql = format!(
                "INSERT INTO stock_movements (movement_id, location, sku, kind, qty, on_hand_delta, \
                 reserved_delta, on_hand_after, reason, occurred_at, recorded_at) VALUES {} \
                 RETURNING movement_id, seq",
                rows.join(", ")
            );
            let mut query = sqlx::query_as::<DB, (String, i64)>(&sql);
            for e in chunk {
                query = query
                    .bind(e.id.as_str())
                    .bind(e.location.as_str())
                    .bind(e.sku.as_str())
                    .bind(e.kind.as_str())
                    .bind(e.qty)
                    .bind(e.on_hand_delta)
                    .bind(e.reserved_delta)
                    .bind(e.on_hand_after)
                    .bind(e.reason.as_deref())
                    .bind(e.occurred_at)
                    .bind(e.recorded_at);
            }
            let returned: HashMap<String, i64> = query
                .fetch_all(&mut **tx)
                .await
                .map_err(|e| match e.as_database_error() {
                    Some(db) if db.is_unique_violation() => TxError::Retry(e),
                    _ => TxError::Sql(e),
                })?
                .into_iter()
                .collect();
            // RETURNING promises no row order; the ids are unique, so match by them.
            for e in chunk {
                let seq = returned.get(e.id.as_str()).copied().ok_or_else(|| {
                    StoreError::Other(format!("the ledger did not return movement {}", e.id))
                })?;
                seqs.push(seq);
            }
        }
        Ok(seqs)
    }

    /// Appends a row to the ledger and returns its position. A unique violation means the
    /// same id was just applied at another level by a transaction that committed after this
    /// one looked; the next attempt finds it, so it is retried.
    pub(crate) async fn record_movement(
        tx: &mut Transaction<'static, DB>,
        e: &LedgerEntry,
    ) -> Result<i64, TxError> {
        Self::record_movements(tx, &[e])
            .await?
            .pop()
            .ok_or_else(|| {
                StoreError::Other(format!("the ledger did not return movement {}", e.id)).into()
            })
    }

    /// Locks the level row of (location, SKU) until commit, creating it at zero if missing,
    /// and returns its on_hand and reserved.
    pub(crate) async fn lock_level(
        tx: &mut Transaction<'static, DB>,
        location: &LocationCode,
        sku: &Sku,
    ) -> Result<(i64, i64), TxError> {
        let select = format!(
            "SELECT on_hand, reserved FROM stock_levels WHERE location = $1 AND sku = $2{}",
            DB::LOCK_ROWS
        );
        for _ in 0..2 {
            let row: Option<(i64, i64)> = sqlx::query_as(&select)
                .bind(location.as_str())
                .bind(sku.as_str())
                .fetch_optional(&mut **tx)
                .await?;
            if let Some(levels) = row {
                return Ok(levels);
            }
            sqlx::query(
                "INSERT INTO stock_levels (location, sku, on_hand, reserved, incoming) VALUES ($1, $2, 0, 0, 0) \
                 ON CONFLICT (location, sku) DO NOTHING",
            )
            .bind(location.as_str())
            .bind(sku.as_str())
            .execute(&mut **tx)
            .await?;
        }
        Err(StoreError::Other(format!(
            "stock level {location}/{sku} vanished while being created"
        ))
        .into())
    }

    pub(crate) async fn get_level(
        &self,
        location: &LocationCode,
        sku: &Sku,
    ) -> Result<Level, StoreError> {
        retry::<DB, _, _, _>(|| async {
            // The common case is one statement, no transaction: the level exists.
            let row: Option<LevelRow> = sqlx::query_as(&format!(
                "SELECT {LEVEL_COLUMNS} FROM stock_levels WHERE location = $1 AND sku = $2"
            ))
            .bind(location.as_str())
            .bind(sku.as_str())
            .fetch_optional(&self.reader)
            .await?;
            if let Some(row) = row {
                return Ok(Level::from(row));
            }
            let mut tx = self.reader.begin().await?;
            for (what, table, column, key) in [
                ("location", "locations", "code", location.as_str()),
                ("product", "products", "sku", sku.as_str()),
            ] {
                let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1");
                let (n,): (i64,) = sqlx::query_as(&sql).bind(key).fetch_one(&mut *tx).await?;
                if n == 0 {
                    return Err(StoreError::not_found(format!("{what} {key}")).into());
                }
            }
            Ok(Level::empty(sku.clone(), location.clone()))
        })
        .await
    }

    pub(crate) async fn list_levels(
        &self,
        filter: &LevelFilter,
        after: Option<&(LocationCode, Sku)>,
        limit: i64,
    ) -> Result<Vec<Level>, StoreError> {
        let within = if filter.within.is_empty() {
            String::new()
        } else {
            format!("AND location IN ({})", placeholders(6, filter.within.len()))
        };
        let sql = format!(
            "SELECT {LEVEL_COLUMNS} FROM stock_levels \
             WHERE ($1 IS NULL OR location = $1) AND ($2 IS NULL OR sku = $2) \
               AND ($3 IS NULL OR location > $3 OR (location = $3 AND sku > $4)) {within} \
             ORDER BY location, sku LIMIT $5"
        );
        let rows: Vec<LevelRow> = retry::<DB, _, _, _>(|| async {
            let mut query = sqlx::query_as(&sql)
                .bind(filter.location.as_ref().map(LocationCode::as_str))
                .bind(filter.sku.as_ref().map(Sku::as_str))
                .bind(after.map(|(l, _)| l.as_str()))
                .bind(after.map(|(_, s)| s.as_str()))
                .bind(limit);
            for location in &filter.within {
                query = query.bind(location.as_str());
            }
            Ok(query.fetch_all(&self.reader).await?)
        })
        .await?;
        Ok(rows.into_iter().map(Level::from).collect())
    }

    pub(crate) async fn list_movements(
        &self,
        location: &LocationCode,
        sku: &Sku,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Movement>, StoreError> {
        let rows: Vec<MovementRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {MOVEMENT_COLUMNS} FROM stock_movements \
                 WHERE location = $1 AND sku = $2 AND ($3 IS NULL OR seq < $3) ORDER BY seq DESC LIMIT $4"
            ))
            .bind(location.as_str())
            .bind(sku.as_str())
            .bind(before)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
        })
        .await?;
        rows.into_iter().map(Movement::try_from).collect()
    }
}
