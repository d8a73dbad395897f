//! Stockbook's [`Store`] on SQLite and PostgreSQL.
//!
//! The business logic of storage (how a movement is applied, how `verify` recomputes the
//! ledger, how a snapshot is exported) is written once, generic over the database, in
//! [`Core`]. What truly differs between the two databases — connecting, how a write
//! transaction starts and locks, which errors are worth a retry, resetting sequences after a
//! restore — sits behind the small [`Dialect`] trait, implemented in `sqlite.rs` and
//! `postgres.rs`. SQL is written once in the common dialect of both (`$1` placeholders,
//! `ON CONFLICT`, `RETURNING`); the migrations are per database. See
//! `docs/decisions/0001-two-databases-one-core.md`.

mod alerts;
mod auth;
mod catalog;
mod core;
mod customers;
mod edge;
mod events;
mod ops;
mod orders;
pub mod postgres;
mod retail;
mod rows;
mod sinks;
pub mod sqlite;
mod stock;
mod store_impl;
pub mod testing;
mod webhooks;

use std::sync::Arc;

use store::{Store, StoreError};

pub use crate::core::{Core, Dialect};

/// Opens the database named by `url` (`sqlite://…` or `postgres://…`), creating a SQLite
/// file if missing, and brings its schema up to date.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::open(url).await?))
    } else {
        // The URL itself is not repeated: it may hold a password.
        let scheme = url.split(':').next().unwrap_or_default();
        Err(StoreError::Other(format!(
            "unsupported database URL scheme '{scheme}': use sqlite://PATH or postgres://…"
        )))
    }
}
