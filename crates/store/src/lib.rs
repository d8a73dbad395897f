//! The storage interface of Stockbook.
//!
//! [`Store`] speaks in use cases (`apply_movements`, `verify`, `export`) rather than generic
//! CRUD, so each backend owns its transactions and the server never sees one. Every backend
//! (SQLite, PostgreSQL) passes the same [`conformance`] suite, which is what lets a user
//! move between them with `backup` and `restore` and get the same answers.

pub mod backup;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::auth::Role;
use domain::catalog::{Location, NewLocation, NewProduct, Product, ProductPatch};
use domain::ids::{LocationCode, Sku};
use domain::stock::{Level, Movement, NewMovement, Outcome};
use serde::Serialize;

pub use backup::BackupRecord;
pub use error::StoreError;

/// Result of a storage operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Filter of a stock level listing.
#[derive(Debug, Clone, Default)]
pub struct LevelFilter {
    /// Only this location.
    pub location: Option<LocationCode>,
    /// Only this SKU.
    pub sku: Option<Sku>,
}

/// What an API token resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Internal id.
    pub token_id: i64,
    /// Human label given at issue time.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

/// Counts of an all-or-nothing product import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Products that did not exist before.
    pub created: usize,
    /// Existing products that were overwritten.
    pub updated: usize,
}

/// One broken invariant found by [`Store::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which invariant, e.g. `level_matches_ledger`.
    pub check: &'static str,
    /// The SKU concerned, if any.
    pub sku: Option<String>,
    /// The location concerned, if any.
    pub location: Option<String>,
    /// What was found against what was expected.
    pub detail: String,
}

/// What [`Store::verify`] checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Levels checked.
    pub levels: i64,
    /// Ledger rows summed.
    pub movements: i64,
    /// Every broken invariant; empty when all hold.
    pub violations: Vec<Violation>,
}

impl VerifyReport {
    /// True when every invariant holds.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Where [`Store::export`] writes a snapshot, record by record, in a fixed table order.
pub type ExportSink<'a> = dyn FnMut(BackupRecord) -> std::io::Result<()> + Send + 'a;

/// Where [`Store::restore`] reads records from, in the order `export` wrote them.
pub type RestoreSource<'a> =
    dyn Iterator<Item = Result<BackupRecord, backup::FormatError>> + Send + 'a;

/// Stockbook's storage: one implementation per database, each owning its transactions.
///
/// Every method is one transaction. Methods that write are all-or-nothing and safe to call
/// from many tasks and many processes at once.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The backend's name (`sqlite`, `postgres`) for logs, `/readyz` and reports.
    fn backend(&self) -> &'static str;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<()>;

    /// Creates a location; `Conflict` when its code exists.
    async fn create_location(&self, location: NewLocation) -> Result<Location>;
    /// Locations ordered by code, after `after`, at most `limit`.
    async fn list_locations(
        &self,
        after: Option<&LocationCode>,
        limit: i64,
    ) -> Result<Vec<Location>>;

    /// Creates a product; `Conflict` when its SKU exists or a GTIN belongs to another product.
    async fn create_product(&self, product: NewProduct) -> Result<Product>;
    /// One product; `NotFound` when unknown.
    async fn get_product(&self, sku: &Sku) -> Result<Product>;
    /// Changes a product; `NotFound` when unknown, `Conflict` on a GTIN of another product.
    async fn update_product(&self, sku: &Sku, patch: ProductPatch) -> Result<Product>;
    /// Products ordered by SKU, after `after`, at most `limit`.
    async fn list_products(&self, after: Option<&Sku>, limit: i64) -> Result<Vec<Product>>;
    /// Creates or overwrites every product in one transaction.
    async fn import_products(&self, products: Vec<NewProduct>) -> Result<ImportSummary>;

    /// Applies a batch of movements in one transaction and returns one outcome per movement,
    /// in input order. A movement whose id was applied before is a `Duplicate` carrying the
    /// first outcome and changes nothing. An unknown SKU or location refuses the whole batch
    /// with `Invalid` naming `movements[i].sku` / `.location`.
    async fn apply_movements(&self, batch: Vec<NewMovement>) -> Result<Vec<Outcome>>;
    /// The figures of one SKU at one location (zeros when nothing moved yet); `NotFound`
    /// when the SKU or the location is unknown.
    async fn get_level(&self, location: &LocationCode, sku: &Sku) -> Result<Level>;
    /// Levels ordered by (location, SKU), after `after`, at most `limit`.
    async fn list_levels(
        &self,
        filter: &LevelFilter,
        after: Option<&(LocationCode, Sku)>,
        limit: i64,
    ) -> Result<Vec<Level>>;
    /// The ledger of one level, newest first, with `seq` below `before`, at most `limit`.
    async fn list_movements(
        &self,
        location: &LocationCode,
        sku: &Sku,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Movement>>;

    /// Stores a new token by the hash of its secret.
    async fn insert_token(
        &self,
        name: &str,
        role: Role,
        secret_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenInfo>;
    /// The live token with this hash, if any.
    async fn find_token(&self, secret_hash: &str) -> Result<Option<TokenInfo>>;

    /// Recomputes every level from the ledger and checks every invariant of the stock model.
    async fn verify(&self) -> Result<VerifyReport>;
    /// Writes a consistent snapshot of everything, taken while writers go on.
    async fn export(&self, sink: &mut ExportSink<'_>) -> Result<()>;
    /// Loads a snapshot into this (empty) database in one transaction; `Conflict` when the
    /// database already holds data.
    async fn restore(&self, source: &mut RestoreSource<'_>) -> Result<u64>;
}

/// Everything in `store`, in export order, collected in memory: for tests that compare
/// whole databases and for small installations. `stockbook backup` streams instead.
pub async fn export_all(store: &dyn Store) -> Result<Vec<BackupRecord>> {
    let mut records = Vec::new();
    store
        .export(&mut |record| {
            records.push(record);
            Ok(())
        })
        .await?;
    Ok(records)
}
