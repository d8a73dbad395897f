//! The databases a bench run makes and removes: a SQLite file in a new temp directory, or
//! a new PostgreSQL database created on the `--pg` server and dropped at the end (with
//! `FORCE`, so a server killed mid-run cannot keep it alive).

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// A database that exists for one bench run.
pub enum Target {
    /// A SQLite file in a directory of its own.
    Sqlite {
        /// The directory, removed at the end.
        dir: PathBuf,
        /// `sqlite://…/stockbook.db`.
        url: String,
    },
    /// A database on the `--pg` server.
    Postgres {
        /// A connection to the server's maintenance database, to drop ours at the end.
        admin: PgPool,
        /// Our database's name.
        name: String,
        /// Its URL.
        url: String,
    },
}

/// A name no other run uses at the same time.
fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}_{nanos}", std::process::id())
}

impl Target {
    /// A new SQLite database under the system temp directory.
    pub fn sqlite() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("stockbook-bench-{}", unique()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let url = format!("sqlite://{}", dir.join("stockbook.db").display());
        Ok(Self::Sqlite { dir, url })
    }

    /// A new database on the PostgreSQL server at `server_url`.
    pub async fn postgres(server_url: &str) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(server_url)
            .context("reading the --pg URL")?
            // DROP … WITH (FORCE) waits for the server's backends; that is not worth a warning.
            .disable_statement_logging();
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .context("connecting to the --pg server")?;
        let name = format!("stockbook_bench_{}", unique());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .with_context(|| format!("creating the database {name}"))?;
        let url = with_database(server_url, &name);
        Ok(Self::Postgres { admin, name, url })
    }

    /// The URL Stockbook opens it with.
    pub fn url(&self) -> &str {
        match self {
            Target::Sqlite { url, .. } | Target::Postgres { url, .. } => url,
        }
    }

    /// The PostgreSQL database's name (none on SQLite).
    pub fn postgres_database(&self) -> Option<&str> {
        match self {
            Target::Sqlite { .. } => None,
            Target::Postgres { name, .. } => Some(name),
        }
    }

    /// Removes the database, even while the server may still hold connections.
    pub async fn remove(self) {
        match self {
            Target::Sqlite { dir, .. } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Target::Postgres { admin, name, .. } => {
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                if let Err(e) = sqlx::query(&drop).execute(&admin).await {
                    tracing::warn!(%e, database = %name, "could not drop the bench database");
                }
            }
        }
    }
}

/// `url` with its database (path) replaced by `name`, keeping user, host and parameters.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_database_replaces_only_the_path_of_the_server_url() {
        let cases = [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/b",
            ),
            (
                "postgres://u:p@h/db?sslmode=disable",
                "postgres://u:p@h/b?sslmode=disable",
            ),
            ("postgresql://h:5432", "postgresql://h:5432/b"),
        ];
        for (server, expected) in cases {
            assert_eq!(with_database(server, "b"), expected, "{server}");
        }
    }
}
