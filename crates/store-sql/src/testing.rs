//! Fresh databases for tests of every crate: a new SQLite file per test, or a new
//! PostgreSQL schema per test on the server named by `STOCKBOOK_TEST_PG` (without it,
//! PostgreSQL tests skip and say so on stderr, which the test harness does not capture).
//!
//! Part of the library (not a dev-only module) so that the server's and the binary's tests
//! get exactly the databases the store's own tests get.

use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use store::{Store, StoreError};

/// Environment variable naming the PostgreSQL server tests may use.
pub const PG_ENV: &str = "STOCKBOOK_TEST_PG";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A database that exists for one test.
pub struct TestDatabase {
    /// The store on it.
    pub store: Arc<dyn Store>,
    /// A URL another process (the `stockbook` binary) can open it with.
    pub url: String,
    place: Place,
}

enum Place {
    Sqlite { dir: PathBuf },
    Postgres { admin: sqlx::PgPool, schema: String },
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let short: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(20)
        .collect();
    format!(
        "{short}_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
    .to_lowercase()
}

fn failed(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("test database: {what}: {e}"))
}

impl TestDatabase {
    /// A new SQLite database in a directory of its own under the system temp dir.
    pub async fn sqlite(name: &str) -> Result<Self, StoreError> {
        let dir = std::env::temp_dir().join(format!("stockbook-test-{}", unique(name)));
        std::fs::create_dir_all(&dir).map_err(|e| failed("creating its directory", e))?;
        let url = format!("sqlite://{}", dir.join("stockbook.db").display());
        let store = crate::connect(&url).await?;
        Ok(Self {
            store,
            url,
            place: Place::Sqlite { dir },
        })
    }

    /// A new schema on the `STOCKBOOK_TEST_PG` server, or `None` (after a note on stderr)
    /// when the variable is not set.
    pub async fn postgres(name: &str) -> Result<Option<Self>, StoreError> {
        let Some(server) = std::env::var(PG_ENV).ok().filter(|u| !u.is_empty()) else {
            let _ = writeln!(
                std::io::stderr(),
                "note: PostgreSQL test '{name}' skipped: set {PG_ENV}=postgres://… to run it"
            );
            return Ok(None);
        };
        let schema = format!("sbt_{}", unique(name));
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect(&server)
            .await
            .map_err(|e| failed(PG_ENV, e))?;
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .map_err(|e| failed("creating a schema", e))?;
        let separator = if server.contains('?') { '&' } else { '?' };
        let url = format!("{server}{separator}options=-c%20search_path%3D{schema}");
        let options = PgConnectOptions::from_str(&server)
            .map_err(|e| failed(PG_ENV, e))?
            .options([("search_path", schema.as_str())]);
        let store = Arc::new(crate::postgres::open_with(options, 20).await?);
        Ok(Some(Self {
            store,
            url,
            place: Place::Postgres { admin, schema },
        }))
    }

    /// Runs raw SQL on the database, bypassing the store (to simulate a hand edit).
    pub async fn raw(&self, sql: &str) -> Result<(), sqlx::Error> {
        match &self.place {
            Place::Sqlite { .. } => {
                let mut conn =
                    <sqlx::SqliteConnection as sqlx::Connection>::connect(&self.url).await?;
                sqlx::raw_sql(sql).execute(&mut conn).await.map(drop)
            }
            Place::Postgres { admin, schema } => {
                let mut conn = admin.acquire().await?;
                sqlx::raw_sql(&format!("SET search_path TO {schema}; {sql}"))
                    .execute(&mut *conn)
                    .await
                    .map(drop)
            }
        }
    }

    /// Removes the database (the SQLite directory, the PostgreSQL schema).
    pub async fn cleanup(self) {
        match self.place {
            Place::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Place::Postgres { admin, schema } => {
                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&admin)
                    .await;
            }
        }
    }
}
