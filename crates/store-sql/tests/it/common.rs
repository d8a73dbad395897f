//! Fresh databases for tests: a new SQLite file per test, a new PostgreSQL schema per test
//! when `STOCKBOOK_TEST_PG` names a server (otherwise those tests skip with a note).

#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use sqlx::postgres::PgConnectOptions;
use store::Store;
use store::conformance::TestDb;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}_{}_{}_{}",
        name,
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A SQLite database in a directory of its own.
pub struct SqliteDb {
    pub store: Arc<dyn Store>,
    pub dir: PathBuf,
    pub url: String,
}

impl SqliteDb {
    pub async fn raw(&self, sql: &str) {
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&self.url)
            .await
            .unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }
}

pub async fn sqlite(name: &str) -> SqliteDb {
    let dir = std::env::temp_dir().join(format!("stockbook-test-{}", unique(name)));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("stockbook.db").display());
    let store = store_sql::connect(&url).await.unwrap();
    SqliteDb { store, dir, url }
}

#[async_trait]
impl TestDb for SqliteDb {
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn cleanup(self: Box<Self>) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub async fn sqlite_db(name: &str) -> Option<Box<dyn TestDb>> {
    Some(Box::new(sqlite(name).await))
}

/// A PostgreSQL schema of its own on the server named by `STOCKBOOK_TEST_PG`.
pub struct PgDb {
    pub store: Arc<dyn Store>,
    pub admin: sqlx::PgPool,
    pub schema: String,
}

impl PgDb {
    pub async fn raw(&self, sql: &str) {
        let mut conn = self.admin.acquire().await.unwrap();
        sqlx::raw_sql(&format!("SET search_path TO {}; {sql}", self.schema))
            .execute(&mut *conn)
            .await
            .unwrap();
    }
}

pub fn pg_url() -> Option<String> {
    let url = std::env::var("STOCKBOOK_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "note: PostgreSQL test skipped: set STOCKBOOK_TEST_PG=postgres://… to run it"
        );
    }
    url
}

pub async fn postgres(name: &str) -> Option<PgDb> {
    let url = pg_url()?;
    let schema = unique(&format!("sbt_{}", &name[..name.len().min(24)])).to_lowercase();
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .expect("STOCKBOOK_TEST_PG reachable");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let options = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let store = Arc::new(store_sql::postgres::open_with(options, 20).await.unwrap());
    Some(PgDb {
        store,
        admin,
        schema,
    })
}

#[async_trait]
impl TestDb for PgDb {
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn cleanup(self: Box<Self>) {
        let _ = sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&self.admin)
            .await;
    }
}

pub async fn pg_db(name: &str) -> Option<Box<dyn TestDb>> {
    postgres(name)
        .await
        .map(|db| Box::new(db) as Box<dyn TestDb>)
}
