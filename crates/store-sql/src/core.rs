//! The generic heart of the SQL backends: the pools, the transaction retry loop and the
//! mapping of driver errors to [`StoreError`].

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{Database, Pool, Transaction};
use store::StoreError;

/// What differs between the databases; everything else is shared.
#[async_trait]
pub trait Dialect: Database + Sized {
    /// Name shown in logs and reports.
    const BACKEND: &'static str;
    /// Suffix that locks selected rows until commit (`FOR UPDATE`), or empty where the
    /// database serialises writers anyway (SQLite).
    const LOCK_ROWS: &'static str;
    /// An SQL expression for the database's clock in milliseconds since the epoch, so
    /// leases held by different nodes are judged by one clock.
    const NOW_MILLIS: &'static str;

    /// Starts a transaction that will write. SQLite takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers never deadlock upgrading a read lock.
    async fn begin_write(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, sqlx::Error>;

    /// Starts a read-only transaction that sees one consistent snapshot for its whole life.
    async fn begin_snapshot(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, sqlx::Error>;

    /// True for errors that a fresh attempt of the same transaction may not meet again
    /// (serialisation failures, deadlocks, a busy database).
    fn is_transient(error: &sqlx::Error) -> bool;

    /// Serialises transactions that use the same idempotency key until they end, so the
    /// second one sees the first one's order (SQLite's single writer does so already).
    async fn lock_key(tx: &mut Transaction<'static, Self>, key: &str) -> Result<(), sqlx::Error>;

    /// True where one write transaction runs at a time (SQLite). Then events become visible
    /// in `seq` order, so every visible event is final and readers need no horizon; and a
    /// write path does its reads on a reader connection before it takes the writer.
    const SERIAL_WRITERS: bool;

    /// A one-row query that marks the transaction as appending to the event log until it
    /// ends; the append joins it to its rows, so the mark is taken before the first number
    /// without a round trip of its own, and [`Dialect::event_horizon`] can wait for it
    /// (decision 0011). Empty where writers are serial anyway.
    const APPEND_MARK: &'static str;

    /// The settled horizon of the event log: the highest `seq` such that every event
    /// numbered up to it is visible or was rolled back, so that no later commit can fill a
    /// gap below it. Waits for the transactions appending at the time of the call, at most
    /// `wait`; `None` if they did not end by then. Never called inside a transaction that
    /// appends. Where writers are serial, simply the highest `seq`.
    async fn event_horizon(pool: &Pool<Self>, wait: Duration) -> Result<Option<i64>, sqlx::Error>;

    /// `n` order sequence numbers (behind `SO-YYYYMMDD-NNNNNN`) at once: unique and
    /// increasing, taken without blocking other orders where the database allows.
    async fn next_order_seqs(
        tx: &mut Transaction<'static, Self>,
        n: usize,
    ) -> Result<Vec<i64>, sqlx::Error>;

    /// Brings identity sequences past restored ids, so new rows do not collide with them.
    async fn after_restore(tx: &mut Transaction<'static, Self>) -> Result<(), sqlx::Error>;

    /// Rows changed by a statement (sqlx has no trait for it).
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// Several writes as one statement, sent in one round trip, sharing one list of `$N`
    /// parameters. SQLite runs them in turn (sqlx binds `$N` by number in each); PostgreSQL
    /// runs them as data-modifying `WITH` parts, concurrently and on one snapshot, with
    /// foreign keys checked at the end. So: writes only, none of them reading what another
    /// one writes or changing the same row, and no rows returned.
    fn batch(statements: &[String]) -> String;
}

/// The generic store: a pool for writes and a pool for reads (the same pool on PostgreSQL;
/// on SQLite one writer connection and several readers, as WAL allows).
pub struct Core<DB: Database> {
    pub(crate) writer: Pool<DB>,
    pub(crate) reader: Pool<DB>,
    /// Group commit of order placements (decision 0012).
    pub(crate) group: crate::orders::Group<DB>,
}

impl<DB: Database> Core<DB> {
    /// A store over already migrated pools.
    pub fn new(writer: Pool<DB>, reader: Pool<DB>) -> Self {
        Self {
            writer,
            reader,
            group: crate::orders::Group::default(),
        }
    }
}

/// How many times a transaction is tried before a transient error is given up on.
const ATTEMPTS: u32 = 8;

/// An error inside a transaction: from the driver (maybe retried) or a decided outcome.
#[derive(Debug)]
pub(crate) enum TxError {
    Sql(sqlx::Error),
    Store(StoreError),
    /// Another transaction got there first in a way a fresh attempt will see (a racing
    /// insert of the same unique key); try again.
    Retry(sqlx::Error),
    /// A group commit this work was part of did not commit; try again alone.
    Again,
}

impl From<sqlx::Error> for TxError {
    fn from(e: sqlx::Error) -> Self {
        TxError::Sql(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

/// Runs `attempt` until it succeeds, fails for good, or has met a transient error
/// [`ATTEMPTS`] times, waiting a little longer (with jitter) after each.
pub(crate) async fn retry<DB, T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    DB: Dialect,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, TxError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(TxError::Retry(e)) if tries < ATTEMPTS => e,
            Err(TxError::Again) if tries < ATTEMPTS => {
                // At once: the group's failure says nothing about this attempt.
                continue;
            }
            Err(TxError::Sql(e)) if tries < ATTEMPTS && DB::is_transient(&e) => e,
            Err(e) => return Err(e.into_store(DB::is_transient)),
        };
        let jitter = u64::from(Utc::now().timestamp_subsec_micros() % 1000);
        tracing::debug!(tries, %error, "transient database error, retrying");
        tokio::time::sleep(Duration::from_micros(500 * (1 << tries.min(6)) + jitter)).await;
    }
}

impl TxError {
    /// The error a caller sees once no retry is left.
    pub(crate) fn into_store(self, is_transient: fn(&sqlx::Error) -> bool) -> StoreError {
        match self {
            TxError::Sql(e) | TxError::Retry(e) => map_sql(e, is_transient),
            TxError::Store(e) => e,
            TxError::Again => StoreError::Unavailable("a group commit kept failing".to_owned()),
        }
    }
}

/// Maps a driver error that was not retried (or no longer) to a [`StoreError`].
pub(crate) fn map_sql(e: sqlx::Error, is_transient: fn(&sqlx::Error) -> bool) -> StoreError {
    if let Some(db) = e.as_database_error().filter(|db| db.is_unique_violation()) {
        // The database's message names constraints and values: log it, do not show it.
        tracing::debug!(detail = db.message(), "unique violation");
        return StoreError::conflict("already_exists", "a record with this key already exists");
    }
    if is_transient(&e) {
        return StoreError::Unavailable(e.to_string());
    }
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Other(other.to_string()),
    }
}

/// Now, at the precision both databases keep (microseconds), so that what a write returns
/// equals what a later read returns.
pub(crate) fn now() -> DateTime<Utc> {
    micros(Utc::now())
}

/// A time cut to microseconds, the precision both databases keep.
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// Builds `$first, $first+1, …` placeholders for an `IN (…)` list of `n` values.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
