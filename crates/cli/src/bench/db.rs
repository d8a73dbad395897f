//! The bench's own connections to a bench database: the ceilings' work, the settings a
//! report names, and the bulk loads of the growth figures.
//!
//! The ceilings work on scratch tables of the bench's own (`bench_ledger`, `bench_levels`
//! for stock; `bench_orders`, `bench_order_lines`, `bench_stock` for orders), never on
//! Stockbook's. Their connections are configured as the store
//! configures its own (WAL, `synchronous = NORMAL`, one writer and four readers on SQLite;
//! one pool of 20 on PostgreSQL), so both sides of a ratio get the same durability and the
//! same pool.

use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::seed::{location_code, sku_code};
use super::target::Target;

/// One movement as a ceiling applies it.
#[derive(Debug, Clone)]
pub struct Move {
    /// Unique id (the idempotency key).
    pub id: String,
    /// Location code.
    pub location: String,
    /// SKU.
    pub sku: String,
    /// Signed change of on_hand.
    pub qty: i64,
}

const INSERT_LEDGER: &str = "INSERT INTO bench_ledger (movement_id, location, sku, qty) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (movement_id) DO NOTHING";
const UPDATE_LEVEL: &str = "UPDATE bench_levels SET on_hand = on_hand + $3 \
     WHERE location = $1 AND sku = $2 AND on_hand + $3 >= 0";
const POINT_READ: &str =
    "SELECT location, sku, on_hand FROM bench_levels WHERE location = $1 AND sku = $2";
const INSERT_ORDER: &str = "INSERT INTO bench_orders (order_id, customer, total, created_at) \
     VALUES ($1, $2, $3, $4)";
const INSERT_ORDER_LINE: &str = "INSERT INTO bench_order_lines (order_id, line_no, sku, qty, price) \
     VALUES ($1, $2, $3, $4, $5)";
const DECREMENT: &str = "UPDATE bench_stock SET available = available - $2 \
     WHERE sku = $1 AND available >= $2";

/// One line of the New-Order-like ceiling.
#[derive(Debug, Clone)]
pub struct OrderLine {
    /// SKU.
    pub sku: String,
    /// Units taken from stock.
    pub qty: i64,
    /// Price per unit, stored on the line.
    pub price: i64,
}

/// A product of the order catalog, as [`Scratch::load_catalog`] loads it.
#[derive(Debug, Clone)]
pub struct CatalogProduct {
    /// SKU.
    pub sku: String,
    /// List price per base unit (`pcs`), minor units.
    pub price: i64,
    /// Whether it can be ordered in packs (`箱`).
    pub pack: bool,
    /// Opening on_hand at the catalog's location.
    pub stock: i64,
}

/// What a conditional decrement found short: a ceiling's "insufficient stock".
#[derive(Debug)]
pub struct Short(pub String);

impl std::fmt::Display for Short {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "insufficient stock of {}", self.0)
    }
}

impl std::error::Error for Short {}

/// The bench's own connections to a target, for ceilings, settings and bulk loads.
pub enum Scratch {
    /// One writer and four read-only readers, as the SQLite store has.
    Sqlite {
        /// The single writer.
        writer: SqlitePool,
        /// The readers.
        reader: SqlitePool,
    },
    /// One pool of 20, as the PostgreSQL store has.
    Postgres(PgPool),
}

/// The idempotent insert-and-update of a batch, written once for both pools.
macro_rules! apply_batch {
    ($tx:expr, $batch:expr) => {{
        for m in $batch {
            let inserted = sqlx::query(INSERT_LEDGER)
                .bind(m.id.as_str())
                .bind(m.location.as_str())
                .bind(m.sku.as_str())
                .bind(m.qty)
                .execute(&mut *$tx)
                .await?
                .rows_affected();
            if inserted == 1 {
                let updated = sqlx::query(UPDATE_LEVEL)
                    .bind(m.location.as_str())
                    .bind(m.sku.as_str())
                    .bind(m.qty)
                    .execute(&mut *$tx)
                    .await?
                    .rows_affected();
                anyhow::ensure!(updated == 1, "no scratch level {}/{}", m.location, m.sku);
            }
        }
    }};
}

/// The New-Order-like transaction's statements, written once for both pools: the header,
/// one insert per line, one conditional decrement per line (lines come sorted by SKU).
macro_rules! new_order {
    ($tx:expr, $id:expr, $customer:expr, $lines:expr) => {{
        let total: i64 = $lines.iter().map(|l| l.qty * l.price).sum();
        sqlx::query(INSERT_ORDER)
            .bind($id)
            .bind($customer)
            .bind(total)
            .bind(chrono::Utc::now())
            .execute(&mut *$tx)
            .await?;
        for (no, l) in $lines.iter().enumerate() {
            sqlx::query(INSERT_ORDER_LINE)
                .bind($id)
                .bind(no as i64 + 1)
                .bind(l.sku.as_str())
                .bind(l.qty)
                .bind(l.price)
                .execute(&mut *$tx)
                .await?;
        }
        for l in $lines {
            let done = sqlx::query(DECREMENT)
                .bind(l.sku.as_str())
                .bind(l.qty)
                .execute(&mut *$tx)
                .await?
                .rows_affected();
            if done != 1 {
                return Err(Short(l.sku.clone()).into());
            }
        }
    }};
}

impl Scratch {
    /// Connects to `target` and creates the scratch tables.
    pub async fn open(target: &Target) -> anyhow::Result<Self> {
        let scratch = match target {
            Target::Sqlite { url, .. } => {
                let options = SqliteConnectOptions::from_str(url)?
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    // Lock waits are part of what a ceiling measures, not worth a warning.
                    .disable_statement_logging();
                let pool = |n: u32, options: SqliteConnectOptions| {
                    SqlitePoolOptions::new()
                        .max_connections(n)
                        .acquire_timeout(Duration::from_secs(30))
                        .connect_with(options)
                };
                let writer = pool(1, options.clone()).await?;
                for sql in scratch_tables("INTEGER", "TEXT") {
                    sqlx::query(&sql).execute(&writer).await?;
                }
                let reader = pool(4, options.read_only(true)).await?;
                Scratch::Sqlite { writer, reader }
            }
            Target::Postgres { url, .. } => {
                let pool = PgPoolOptions::new()
                    .max_connections(20)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(PgConnectOptions::from_str(url)?.disable_statement_logging())
                    .await?;
                for sql in scratch_tables("BIGINT", "TIMESTAMPTZ") {
                    sqlx::query(&sql).execute(&pool).await?;
                }
                Scratch::Postgres(pool)
            }
        };
        Ok(scratch)
    }

    /// The database's version.
    pub async fn version(&self) -> anyhow::Result<String> {
        Ok(match self {
            Scratch::Sqlite { writer, .. } => {
                sqlx::query_scalar("SELECT sqlite_version()")
                    .fetch_one(writer)
                    .await?
            }
            Scratch::Postgres(pool) => {
                sqlx::query_scalar("SHOW server_version")
                    .fetch_one(pool)
                    .await?
            }
        })
    }

    /// The settings that decide what a commit costs, as the database reports them.
    pub async fn durability(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut settings = Vec::new();
        match self {
            Scratch::Sqlite { writer, .. } => {
                let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                    .fetch_one(writer)
                    .await?;
                let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                    .fetch_one(writer)
                    .await?;
                let sync = match sync {
                    0 => "OFF",
                    1 => "NORMAL",
                    2 => "FULL",
                    3 => "EXTRA",
                    _ => "unknown",
                };
                settings.push(("journal_mode".to_owned(), mode));
                settings.push(("synchronous".to_owned(), sync.to_owned()));
            }
            Scratch::Postgres(pool) => {
                for name in [
                    "synchronous_commit",
                    "fsync",
                    "wal_sync_method",
                    "shared_buffers",
                ] {
                    let value: String = sqlx::query_scalar(&format!("SHOW {name}"))
                        .fetch_one(pool)
                        .await?;
                    settings.push((name.to_owned(), value));
                }
            }
        }
        Ok(settings)
    }

    /// The write ceiling: a batch in one transaction, each movement an idempotent insert
    /// into the scratch ledger and a conditional update of its scratch level. Returns the
    /// movements done.
    pub async fn apply(&self, batch: &[Move]) -> anyhow::Result<u64> {
        match self {
            Scratch::Sqlite { writer, .. } => {
                let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
                apply_batch!(tx, batch);
                tx.commit().await?;
            }
            Scratch::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                apply_batch!(tx, batch);
                tx.commit().await?;
            }
        }
        Ok(batch.len() as u64)
    }

    /// The orders ceiling: a New-Order-like transaction (header, a line insert and a
    /// conditional decrement per line, commit). A short line rolls it back with [`Short`].
    pub async fn new_order(
        &self,
        id: &str,
        customer: &str,
        lines: &[OrderLine],
    ) -> anyhow::Result<u64> {
        match self {
            Scratch::Sqlite { writer, .. } => {
                let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
                new_order!(tx, id, customer, lines);
                tx.commit().await?;
            }
            Scratch::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                new_order!(tx, id, customer, lines);
                tx.commit().await?;
            }
        }
        Ok(1)
    }

    /// The hot-row ceiling: one transaction that takes `qty` of `sku` only while that many
    /// are available. [`Short`] when they are not.
    pub async fn decrement(&self, sku: &str, qty: i64) -> anyhow::Result<u64> {
        let done = match self {
            Scratch::Sqlite { writer, .. } => {
                let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
                let done = sqlx::query(DECREMENT)
                    .bind(sku)
                    .bind(qty)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                done
            }
            Scratch::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let done = sqlx::query(DECREMENT)
                    .bind(sku)
                    .bind(qty)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                done
            }
        };
        anyhow::ensure!(done == 1, Short(sku.to_owned()));
        Ok(1)
    }

    /// Stocks `available` units of each of `skus` in the ceilings' `bench_stock`.
    pub async fn stock(&self, skus: &[String], available: i64) -> anyhow::Result<()> {
        for chunk in skus.chunks(ROWS_PER_STATEMENT) {
            // Codes of the bench's own format: no quotes to escape.
            let values: Vec<String> = chunk
                .iter()
                .map(|s| format!("('{s}', {available})"))
                .collect();
            let sql = format!(
                "INSERT INTO bench_stock (sku, available) VALUES {}",
                values.join(", ")
            );
            match self {
                Scratch::Sqlite { writer, .. } => {
                    sqlx::query(&sql).execute(writer).await?;
                }
                Scratch::Postgres(pool) => {
                    sqlx::query(&sql).execute(pool).await?;
                }
            }
        }
        Ok(())
    }

    /// A query of the bench's own whose single row holds `T` (the correctness checks read
    /// Stockbook's tables directly, with no API in between).
    pub async fn scalar<T>(&self, sql: &str, bind: &str) -> anyhow::Result<T>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + for<'r> sqlx::Decode<'r, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>
            + Send
            + Unpin,
    {
        Ok(match self {
            Scratch::Sqlite { writer, .. } => {
                sqlx::query_scalar(sql).bind(bind).fetch_one(writer).await?
            }
            Scratch::Postgres(pool) => sqlx::query_scalar(sql).bind(bind).fetch_one(pool).await?,
        })
    }

    /// The read ceiling: one scratch level by primary key.
    pub async fn point_read(&self, location: &str, sku: &str) -> anyhow::Result<u64> {
        let found = match self {
            Scratch::Sqlite { reader, .. } => sqlx::query(POINT_READ)
                .bind(location)
                .bind(sku)
                .fetch_optional(reader)
                .await?
                .is_some(),
            Scratch::Postgres(pool) => sqlx::query(POINT_READ)
                .bind(location)
                .bind(sku)
                .fetch_optional(pool)
                .await?
                .is_some(),
        };
        anyhow::ensure!(found, "no scratch level {location}/{sku}");
        Ok(1)
    }

    /// Grows the catalog with products `first..end` (SKU numbers) stocked at every one of
    /// `locations` locations, by multi-row INSERTs in a few large transactions. Rows go
    /// into the scratch levels and, when `stockbook` is set, into Stockbook's `products` and
    /// `stock_levels` too (unset: to mirror rows the store already seeded).
    pub async fn grow(
        &self,
        first: usize,
        end: usize,
        locations: usize,
        stockbook: bool,
    ) -> anyhow::Result<()> {
        let now = chrono::Utc::now();
        let chunk = 100_000 / locations.max(1);
        let mut start = first;
        while start < end {
            let stop = (start + chunk).min(end);
            let statements = growth_statements(start, stop, locations, stockbook);
            match self {
                Scratch::Sqlite { writer, .. } => {
                    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
                    for (sql, timed) in &statements {
                        let query = sqlx::query(sql);
                        let query = if *timed { query.bind(now) } else { query };
                        query.execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                }
                Scratch::Postgres(pool) => {
                    let mut tx = pool.begin().await?;
                    for (sql, timed) in &statements {
                        let query = sqlx::query(sql);
                        let query = if *timed { query.bind(now) } else { query };
                        query.execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                }
            }
            start = stop;
        }
        self.analyze().await
    }

    /// On PostgreSQL, fresh statistics after a bulk load, so the planner sees the tables as
    /// they now are (as autovacuum would soon do). Nothing on SQLite, whose store does not
    /// analyze either.
    pub async fn analyze(&self) -> anyhow::Result<()> {
        if let Scratch::Postgres(pool) = self {
            sqlx::query("ANALYZE").execute(pool).await?;
        }
        Ok(())
    }

    /// Loads a catalog to order from in bulk, in one transaction: each of `products` and
    /// its stock level at `location`, which must exist.
    pub async fn load_catalog(
        &self,
        products: &[CatalogProduct],
        pack_factor: i64,
        location: &str,
    ) -> anyhow::Result<()> {
        let mut statements = Vec::new();
        for chunk in products.chunks(ROWS_PER_STATEMENT) {
            // Codes and numbers of the bench's own making: nothing to escape.
            let rows = |f: &dyn Fn(&CatalogProduct) -> Option<String>| {
                chunk.iter().filter_map(f).collect::<Vec<_>>().join(", ")
            };
            statements.push(format!(
                "INSERT INTO products (sku, name, unit, price, currency, active, created_at, updated_at) VALUES {}",
                rows(&|p| Some(format!(
                    "('{}', 'bench order product', 'pcs', {}, 'CNY', TRUE, $1, $1)",
                    p.sku, p.price
                )))
            ));
            let packs = rows(&|p| {
                p.pack
                    .then(|| format!("('{}', '箱', {pack_factor}, 0)", p.sku))
            });
            if !packs.is_empty() {
                statements.push(format!(
                    "INSERT INTO product_packs (sku, unit, factor, position) VALUES {packs}"
                ));
            }
            statements.push(format!(
                "INSERT INTO stock_levels (location, sku, on_hand, updated_at) VALUES {}",
                rows(&|p| Some(format!("('{location}', '{}', {}, $1)", p.sku, p.stock)))
            ));
        }
        let now = chrono::Utc::now();
        match self {
            Scratch::Sqlite { writer, .. } => {
                let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
                for sql in &statements {
                    sqlx::query(sql).bind(now).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Scratch::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                for sql in &statements {
                    sqlx::query(sql).bind(now).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
        }
        self.analyze().await
    }

    /// Closes the connections.
    pub async fn close(self) {
        match self {
            Scratch::Sqlite { writer, reader } => {
                reader.close().await;
                writer.close().await;
            }
            Scratch::Postgres(pool) => pool.close().await,
        }
    }
}

/// The scratch tables, with `int` as the integer type and `ts` as the timestamp type.
fn scratch_tables(int: &str, ts: &str) -> [String; 5] {
    [
        format!(
            "CREATE TABLE bench_ledger (movement_id TEXT PRIMARY KEY, location TEXT NOT NULL, \
             sku TEXT NOT NULL, qty {int} NOT NULL)"
        ),
        format!(
            "CREATE TABLE bench_levels (location TEXT NOT NULL, sku TEXT NOT NULL, \
             on_hand {int} NOT NULL, PRIMARY KEY (location, sku))"
        ),
        format!(
            "CREATE TABLE bench_orders (order_id TEXT PRIMARY KEY, customer TEXT NOT NULL, \
             total {int} NOT NULL, created_at {ts} NOT NULL)"
        ),
        format!(
            "CREATE TABLE bench_order_lines (order_id TEXT NOT NULL, line_no {int} NOT NULL, \
             sku TEXT NOT NULL, qty {int} NOT NULL, price {int} NOT NULL, \
             PRIMARY KEY (order_id, line_no))"
        ),
        format!(
            "CREATE TABLE bench_stock (sku TEXT PRIMARY KEY, available {int} NOT NULL \
             CHECK (available >= 0))"
        ),
    ]
}

/// Rows per multi-row INSERT: large enough that statements are few, small enough to stay
/// far below any statement-size limit.
const ROWS_PER_STATEMENT: usize = 1_000;

/// The INSERTs that add products `first..end` and their levels at `locations` locations,
/// each with whether it takes the timestamp as `$1`. Every value is generated here (codes
/// of our own format, no quotes).
fn growth_statements(
    first: usize,
    end: usize,
    locations: usize,
    stockbook: bool,
) -> Vec<(String, bool)> {
    let products: Vec<String> = (first..end)
        .map(|p| {
            format!(
                "('{}', 'bench product', 'pcs', 100, 'CNY', TRUE, $1, $1)",
                sku_code(p)
            )
        })
        .collect();
    let levels: Vec<(String, String)> = (first..end)
        .flat_map(|p| (0..locations).map(move |l| (location_code(l), sku_code(p))))
        .collect();
    let mut out = Vec::new();
    for rows in products.chunks(ROWS_PER_STATEMENT).filter(|_| stockbook) {
        out.push((
            format!(
                "INSERT INTO products (sku, name, unit, price, currency, active, created_at, updated_at) VALUES {}",
                rows.join(", ")
            ),
            true,
        ));
    }
    for rows in levels.chunks(ROWS_PER_STATEMENT) {
        let values = |with_time: bool| {
            rows.iter()
                .map(|(l, s)| {
                    if with_time {
                        format!("('{l}', '{s}', 1000, $1)")
                    } else {
                        format!("('{l}', '{s}', 1000)")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if stockbook {
            out.push((
                format!(
                    "INSERT INTO stock_levels (location, sku, on_hand, updated_at) VALUES {}",
                    values(true)
                ),
                true,
            ));
        }
        out.push((
            format!(
                "INSERT INTO bench_levels (location, sku, on_hand) VALUES {}",
                values(false)
            ),
            false,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_adds_one_level_per_product_and_location() {
        assert_eq!(growth_statements(10, 12, 3, false).len(), 1);
        let statements = growth_statements(10, 12, 3, true);
        let sql: Vec<&str> = statements.iter().map(|(s, _)| s.as_str()).collect();
        let sql = sql.join("\n");
        assert_eq!(sql.matches("bench product").count(), 2);
        assert_eq!(sql.matches(", 1000, $1)").count(), 6);
        assert_eq!(sql.matches(", 1000)").count(), 6);
        assert_eq!(statements.iter().filter(|(_, timed)| !timed).count(), 1);
    }
}
