//! SQLite: the embedded default. One writer connection (SQLite allows one writer at a time;
//! queueing in the pool is cheaper than `SQLITE_BUSY`) and several readers, in WAL mode so
//! readers never block the writer. `synchronous = NORMAL`: a committed transaction survives
//! a crash of the process; on power loss the last transactions may roll back.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Sqlite, Transaction};
use store::StoreError;

use crate::core::{Core, Dialect, map_sql};

/// The SQLite store.
pub type SqliteStore = Core<Sqlite>;

#[async_trait]
impl Dialect for Sqlite {
    const BACKEND: &'static str = "sqlite";
    const LOCK_ROWS: &'static str = "";
    const NOW_MILLIS: &'static str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

    async fn begin_write(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn begin_snapshot(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, sqlx::Error> {
        // A deferred transaction's first read fixes its WAL snapshot until it ends.
        pool.begin().await
    }

    fn is_transient(error: &sqlx::Error) -> bool {
        // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes (low byte).
        error
            .as_database_error()
            .and_then(|e| e.code())
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6))
    }

    // One writer at a time: events become visible in the order they are numbered.
    const SERIAL_WRITERS: bool = true;

    const APPEND_MARK: &'static str = "";

    async fn event_horizon(pool: &Pool<Self>, _wait: Duration) -> Result<Option<i64>, sqlx::Error> {
        let (head,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) FROM events")
            .fetch_one(pool)
            .await?;
        Ok(Some(head))
    }

    async fn lock_key(_tx: &mut Transaction<'static, Self>, _key: &str) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn next_order_seqs(
        tx: &mut Transaction<'static, Self>,
        n: usize,
    ) -> Result<Vec<i64>, sqlx::Error> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let (last,): (i64,) = sqlx::query_as(
            "UPDATE counters SET value = value + $1 WHERE name = 'order_number' RETURNING value",
        )
        .bind(n)
        .fetch_one(&mut **tx)
        .await?;
        Ok((last - n + 1..=last).collect())
    }

    async fn after_restore(tx: &mut Transaction<'static, Self>) -> Result<(), sqlx::Error> {
        // INTEGER PRIMARY KEYs continue after the largest restored rowid by themselves; the
        // order counter does not.
        sqlx::query(
            "UPDATE counters SET value = (SELECT COALESCE(MAX(order_seq), 0) FROM orders) WHERE name = 'order_number'",
        )
        .execute(&mut **tx)
        .await
        .map(drop)
    }

    fn batch(statements: &[String]) -> String {
        statements.join(";\n")
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

/// Opens (creating if missing) and migrates the SQLite database at `url`.
pub async fn open(url: &str) -> Result<SqliteStore, StoreError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Other(format!("bad SQLite URL: {e}")))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    let unavailable = |e: sqlx::Error| map_sql(e, Sqlite::is_transient);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options.clone())
        .await
        .map_err(unavailable)?;
    sqlx::migrate!("./migrations/sqlite")
        .run(&writer)
        .await
        .map_err(|e| StoreError::Other(format!("migrating the SQLite database: {e}")))?;
    let reader = SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options.read_only(true))
        .await
        .map_err(unavailable)?;
    Ok(Core::new(writer, reader))
}
