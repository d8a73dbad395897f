//! PostgreSQL: for many stateless nodes. Row locks (`FOR UPDATE`) taken in one global order
//! serialise writers of one level; READ COMMITTED is enough because every write locks what
//! it reads. Serialisation failures and deadlocks (which the lock order should prevent) are
//! retried by the shared loop.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Postgres, Transaction};
use store::StoreError;

use crate::core::{Core, Dialect, map_sql};

/// The PostgreSQL store.
pub type PgStore = Core<Postgres>;

#[async_trait]
impl Dialect for Postgres {
    const BACKEND: &'static str = "postgres";
    const LOCK_ROWS: &'static str = " FOR UPDATE";
    // clock_timestamp(), not now(): the time of the statement, not of the transaction start.
    const NOW_MILLIS: &'static str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

    async fn begin_write(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, sqlx::Error> {
        pool.begin().await
    }

    async fn begin_snapshot(pool: &Pool<Self>) -> Result<Transaction<'static, Self>, sqlx::Error> {
        pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
    }

    fn is_transient(error: &sqlx::Error) -> bool {
        // serialization_failure, deadlock_detected
        error
            .as_database_error()
            .and_then(|e| e.code())
            .is_some_and(|c| c == "40001" || c == "40P01")
    }

    async fn after_restore(tx: &mut Transaction<'static, Self>) -> Result<(), sqlx::Error> {
        sqlx::query(
            "SELECT setval('order_numbers', COALESCE(MAX(order_seq), 0) + 1, false) FROM orders",
        )
        .execute(&mut **tx)
        .await?;
        for (table, column) in [
            ("stock_movements", "seq"),
            ("api_tokens", "token_id"),
            ("users", "user_id"),
            ("price_rules", "price_rule_id"),
            ("events", "seq"),
            ("alerts", "alert_id"),
            ("webhooks", "webhook_id"),
        ] {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), COALESCE(MAX({column}), 0) + 1, false) FROM {table}"
            ))
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    // Concurrent transactions take numbers in append order and may commit in another.
    const SERIAL_WRITERS: bool = false;

    // A shared lock on a key naming the log, held to the end of the transaction: appenders
    // never wait for each other; `stockbook_event_horizon` (migration 0009) finds them in
    // `pg_locks`. The planner keeps a subquery with a volatile function as its own node,
    // evaluated before the join yields the first row and so before the first `nextval`.
    const APPEND_MARK: &'static str =
        "SELECT pg_advisory_xact_lock_shared(7415, 'events'::regclass::oid::int)";

    async fn event_horizon(pool: &Pool<Self>, wait: Duration) -> Result<Option<i64>, sqlx::Error> {
        let wait_ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
        let (horizon,): (Option<i64>,) = sqlx::query_as("SELECT stockbook_event_horizon($1)")
            .bind(wait_ms)
            .fetch_one(pool)
            .await?;
        Ok(horizon)
    }

    async fn lock_key(tx: &mut Transaction<'static, Self>, key: &str) -> Result<(), sqlx::Error> {
        // A transaction-scoped advisory lock on the key's hash; released at commit/rollback.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(key)
            .execute(&mut **tx)
            .await
            .map(drop)
    }

    fn batch(statements: &[String]) -> String {
        match statements.split_last() {
            None => String::new(),
            Some((last, [])) => last.clone(),
            Some((last, parts)) => {
                let parts: Vec<String> = parts
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("w{i} AS ({s})"))
                    .collect();
                format!("WITH {} {last}", parts.join(", "))
            }
        }
    }

    async fn next_order_seqs(
        tx: &mut Transaction<'static, Self>,
        n: usize,
    ) -> Result<Vec<i64>, sqlx::Error> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT nextval('order_numbers') FROM generate_series(1, $1) ORDER BY 1",
        )
        .bind(i64::try_from(n).unwrap_or(i64::MAX))
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows.into_iter().map(|(seq,)| seq).collect())
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }
}

/// Connects to and migrates the PostgreSQL database at `url`.
pub async fn open(url: &str) -> Result<PgStore, StoreError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Other(format!("bad PostgreSQL URL: {e}")))?;
    open_with(options, 20).await
}

/// Connects with explicit options (tests use them to pick a schema) and migrates.
pub async fn open_with(
    options: PgConnectOptions,
    max_connections: u32,
) -> Result<PgStore, StoreError> {
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .map_err(|e| map_sql(e, Postgres::is_transient))?;
    sqlx::migrate!("./migrations/postgres")
        .run(&pool)
        .await
        .map_err(|e| StoreError::Other(format!("migrating the PostgreSQL database: {e}")))?;
    Ok(Core::new(pool.clone(), pool))
}
