//! The storage interface of Stockbook.
//!
//! [`Store`] speaks in use cases (`apply_movements`, `verify`, `export`) rather than generic
//! CRUD, so each backend owns its transactions and the server never sees one. Every backend
//! (SQLite, PostgreSQL) passes the same [`conformance`] suite, which is what lets a user
//! move between them with `backup` and `restore` and get the same answers.

pub mod alerts;
pub mod auth;
pub mod backup;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod edge;
mod error;
pub mod events;
pub mod retail;
pub mod sinks;
pub mod webhooks;

use async_trait::async_trait;
use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use domain::catalog::{Location, NewLocation, NewProduct, Product, ProductPatch};
use domain::count::{Count, NewCount, NewScans};
use domain::customer::{Customer, CustomerPatch};
use domain::device::{Device, NewDevice};
use domain::ids::{CountId, DeviceId, SaleId, TransferId};
use domain::ids::{LocationCode, Sku};
use domain::order::{NewOrder, Order, OrderFilter, OrderPatch, Quantities};
use domain::pos::{NewSale, Receipt};
use domain::pricing::{PriceEntry, PriceList, PriceSource};
use domain::rfid::ReadBatch;
use domain::stock::{Level, Movement, NewMovement, Outcome};
use domain::transfer::{NewTransfer, Transfer};
use serde::Serialize;

pub use auth::{
    AuditEntry, AuditFilter, LoginRecord, NewAudit, NewToken, NewUser, TokenInfo, User,
};
pub use backup::BackupRecord;
pub use error::StoreError;
pub use events::{Event, EventFilter, NewEvent};
pub use sinks::SinkState;

use alerts::{Alert, AlertFilter, NewAlert, Raised, Threshold};
pub use retail::{ReadSummary, Recorded, RequestMeta, SeenTag, TransferFilter};
use webhooks::{
    Delivery, DisablePolicy, LeaseClaim, NewDelivery, NewWebhook, RecordedDelivery, Webhook,
};

/// Result of a storage operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Filter of a stock level listing.
#[derive(Debug, Clone, Default)]
pub struct LevelFilter {
    /// Only this location.
    pub location: Option<LocationCode>,
    /// Only this SKU.
    pub sku: Option<Sku>,
    /// Only these locations (empty: all); how a caller bound to locations sees stock.
    pub within: Vec<LocationCode>,
}

/// Counts of an all-or-nothing product import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ImportSummary {
    /// Products that did not exist before.
    pub created: usize,
    /// Existing products that were overwritten.
    pub updated: usize,
}

/// One broken invariant found by [`Store::verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct VerifyReport {
    /// Levels checked.
    pub levels: i64,
    /// Ledger rows summed.
    pub movements: i64,
    /// Audit entries whose hash chain was checked.
    pub audit_entries: i64,
    /// Every broken invariant; empty when all hold.
    pub violations: Vec<Violation>,
}

impl VerifyReport {
    /// True when every invariant holds.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// The price a customer pays for a quantity of a SKU, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Quote {
    /// The product.
    pub sku: String,
    /// Base units priced.
    pub qty: i64,
    /// Price per base unit, minor units.
    pub unit_price: i64,
    /// Currency of the price.
    pub currency: String,
    /// Where the price came from.
    pub source: PriceSource,
    /// The quantity break that applied.
    pub min_qty: i64,
    /// The product's base unit.
    pub unit: String,
}

/// Who places an order and under which idempotency key.
#[derive(Debug, Clone)]
pub struct PlaceMeta {
    /// The new order's id (chosen by the caller, so it can be random).
    pub order_id: String,
    /// The client's `Idempotency-Key`.
    pub idempotency_key: String,
    /// A hash of the request; the same key with another hash is refused.
    pub request_hash: String,
    /// The token's name, for the timeline.
    pub actor: String,
    /// The order's date and time.
    pub now: DateTime<Utc>,
}

/// A placed order, and whether this call created it (false: an idempotent replay).
#[derive(Debug, Clone)]
pub struct Placed {
    /// The order.
    pub order: Order,
    /// False when the idempotency key named an existing order.
    pub created: bool,
}

/// Something done to an existing order.
#[derive(Debug, Clone)]
pub enum OrderCommand {
    /// Accept at review (lifts a credit hold).
    Approve,
    /// Refuse at review, releasing reservations.
    Reject(Option<String>),
    /// Withdraw before the first shipment, releasing reservations.
    Cancel(Option<String>),
    /// Ship quantities (base units), turning reservation into an on_hand decrease.
    Ship(Quantities),
    /// Record delivery.
    Deliver,
    /// Take goods back after delivery, restocking them.
    Return(Quantities),
    /// Change lines, address or note; needs the current version.
    Edit(OrderPatch),
    /// Finish a partially shipped order, releasing what will not ship.
    Close(Option<String>),
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
    /// The product carrying this GTIN (14 digits), if any.
    async fn product_by_gtin(&self, gtin: &str) -> Result<Option<Product>>;
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

    /// Creates a customer; `Conflict` when its code exists, `Invalid` on an unknown tier.
    async fn create_customer(&self, customer: Customer) -> Result<Customer>;
    /// One customer; `NotFound` when unknown.
    async fn get_customer(&self, code: &str) -> Result<Customer>;
    /// Changes a customer; `Invalid` naming a bad field or an unknown tier.
    async fn update_customer(
        &self,
        code: &str,
        patch: CustomerPatch,
        now: DateTime<Utc>,
    ) -> Result<Customer>;
    /// Customers ordered by code, after `after`, at most `limit`.
    async fn list_customers(&self, after: Option<&str>, limit: i64) -> Result<Vec<Customer>>;

    /// Creates or replaces a price list with all its entries; `Invalid` on unknown SKUs.
    async fn put_price_list(&self, list: PriceList) -> Result<PriceList>;
    /// One price list with its entries; `NotFound` when unknown.
    async fn get_price_list(&self, code: &str) -> Result<PriceList>;
    /// Replaces every customer-specific price of a customer; `Invalid` on unknown SKUs.
    async fn put_customer_prices(
        &self,
        customer: &str,
        entries: Vec<PriceEntry>,
    ) -> Result<Vec<PriceEntry>>;
    /// A customer's own prices.
    async fn customer_prices(&self, customer: &str) -> Result<Vec<PriceEntry>>;
    /// The price `customer` pays for `qty` base units of `sku` on day `on`.
    async fn quote(&self, customer: &str, sku: &Sku, qty: i64, on: NaiveDate) -> Result<Quote>;

    /// Places an order in one transaction: validates references and units, prices every
    /// line, checks expected prices and credit, reserves every line (all or nothing) and
    /// records the order, its timeline and the reservations in the ledger. The same
    /// idempotency key with the same request returns the first order.
    async fn place_order(&self, order: NewOrder, meta: PlaceMeta) -> Result<Placed>;
    /// One order by id or number; `NotFound` when unknown.
    async fn get_order(&self, id_or_number: &str) -> Result<Order>;
    /// Orders newest first, placed before the order with sequence `before`, with each
    /// order's sequence for the next cursor.
    async fn list_orders(
        &self,
        filter: &OrderFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<(i64, Order)>>;
    /// Applies a command to an order in one transaction, checking its status (and its
    /// version, when given) under a lock.
    async fn act_on_order(
        &self,
        id: &str,
        command: OrderCommand,
        expected_version: Option<i64>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Order>;

    /// Events after `after` in log order, at most `limit`, passing `filter`; only events up
    /// to the log's settled horizon, so none can appear later below the last one returned.
    async fn events_after(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> Result<Vec<Event>>;
    /// The head of the log for a reader that starts "from now" (0 when empty): no event
    /// committed later has a lower `seq`. Where writers commit concurrently (PostgreSQL) it
    /// may be a little below the newest visible event, never above.
    async fn event_head(&self) -> Result<i64>;

    /// Stores a new token by the hash of its secret.
    async fn insert_token(&self, token: NewToken) -> Result<TokenInfo>;
    /// Every token ever issued (hashes included, secrets never stored), oldest first.
    async fn list_tokens(&self) -> Result<Vec<backup::TokenRecord>>;
    /// Revokes a token by id; `NotFound` when unknown. Revoking twice keeps the first time.
    async fn revoke_token(&self, token_id: i64, now: DateTime<Utc>) -> Result<backup::TokenRecord>;
    /// The live token with this hash at `now`: not revoked, not expired, and not belonging
    /// to a disabled user.
    async fn find_token(&self, secret_hash: &str, now: DateTime<Utc>) -> Result<Option<TokenInfo>>;

    /// Creates a user; `Conflict` when the username is taken.
    async fn create_user(&self, user: NewUser) -> Result<User>;
    /// Users ordered by username, after `after`, at most `limit`.
    async fn list_users(&self, after: Option<&str>, limit: i64) -> Result<Vec<User>>;
    /// Disables a user and revokes every token issued to it; `NotFound` when unknown.
    async fn disable_user(&self, username: &str, now: DateTime<Utc>) -> Result<User>;
    /// What a login needs to check a user's password, or `None` for an unknown username.
    async fn login_record(&self, username: &str) -> Result<Option<LoginRecord>>;
    /// Counts a failed login of an existing user, or resets the count after a success.
    async fn note_login(&self, username: &str, succeeded: bool, now: DateTime<Utc>) -> Result<()>;

    /// Appends entries to the audit trail in one transaction, in the order given, each
    /// chained to the one before: all of them or none.
    async fn append_audits(&self, entries: Vec<NewAudit>) -> Result<Vec<AuditEntry>>;
    /// Appends one entry to the audit trail, chaining it to the previous one.
    async fn append_audit(&self, entry: NewAudit) -> Result<AuditEntry> {
        self.append_audits(vec![entry])
            .await?
            .pop()
            .ok_or_else(|| StoreError::Other("the audit trail appended nothing".to_owned()))
    }
    /// Audit entries in order, after `after`, at most `limit`, passing `filter`.
    async fn list_audit(
        &self,
        filter: &AuditFilter,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>>;

    /// Recomputes every level from the ledger and checks every invariant of the stock model.
    async fn verify(&self) -> Result<VerifyReport>;
    /// Writes a consistent snapshot of everything, taken while writers go on.
    async fn export(&self, sink: &mut ExportSink<'_>) -> Result<()>;
    /// Loads a snapshot into this (empty) database in one transaction; `Conflict` when the
    /// database already holds data.
    async fn restore(&self, source: &mut RestoreSource<'_>) -> Result<u64>;

    // --- Broker relays: sink cursors and leases (docs/decisions/0007-broker-relay.md) ---

    /// Takes or renews the lease of `sink` for `holder` for `ttl_ms` milliseconds (creating
    /// the sink at cursor 0 when new) and returns its state; `None` while another holder's
    /// lease is live. Expiry is judged on the database's clock.
    async fn acquire_sink(
        &self,
        sink: &str,
        kind: &str,
        holder: &str,
        ttl_ms: i64,
    ) -> Result<Option<SinkState>>;
    /// Moves the cursor of `sink` forward to `cursor` (never back) and renews the lease;
    /// false, changing nothing, when `holder` no longer holds it.
    async fn advance_sink(
        &self,
        sink: &str,
        holder: &str,
        cursor: i64,
        ttl_ms: i64,
    ) -> Result<bool>;
    /// Records the last error of `sink` (for operators); false when `holder` lost the lease.
    async fn record_sink_error(&self, sink: &str, holder: &str, error: &str) -> Result<bool>;
    /// Gives the lease up at once (on shutdown), so another node takes over without waiting.
    async fn release_sink(&self, sink: &str, holder: &str) -> Result<()>;
    /// Every sink, by name.
    async fn list_sinks(&self) -> Result<Vec<SinkState>>;

    // ---- Alerts, low-stock thresholds, webhooks (issue 5, items 3 and 7) ----------------

    /// Sets the low-stock threshold of a level (`NotFound` for an unknown location or SKU)
    /// and raises `low_stock` at once when the level already is at or below it.
    async fn set_threshold(
        &self,
        location: &LocationCode,
        sku: &Sku,
        low_stock: i64,
        now: DateTime<Utc>,
    ) -> Result<Threshold>;
    /// The threshold of a level; `NotFound` when none is set.
    async fn get_threshold(&self, location: &LocationCode, sku: &Sku) -> Result<Threshold>;
    /// Removes the threshold of a level; `NotFound` when none is set.
    async fn remove_threshold(
        &self,
        location: &LocationCode,
        sku: &Sku,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Thresholds ordered by (location, SKU), after `after`, at most `limit`.
    async fn list_thresholds(
        &self,
        location: Option<&LocationCode>,
        after: Option<&(LocationCode, Sku)>,
        limit: i64,
    ) -> Result<Vec<Threshold>>;
    /// Raises an alert with its `alert.raised` event, unless an open alert of the same kind
    /// and key exists (then returns that one, `created: false`, and changes nothing).
    async fn raise_alert(&self, alert: NewAlert, now: DateTime<Utc>) -> Result<Raised>;
    /// One alert; `NotFound` when unknown.
    async fn get_alert(&self, id: i64) -> Result<Alert>;
    /// Alerts newest first, with `id` below `before`, at most `limit`.
    async fn list_alerts(
        &self,
        filter: &AlertFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Alert>>;
    /// Acknowledges an open alert (with its `alert.acknowledged` event); acknowledging it
    /// again returns it unchanged. `NotFound` when unknown.
    async fn acknowledge_alert(&self, id: i64, by: &str, now: DateTime<Utc>) -> Result<Alert>;

    /// Creates a subscription that starts delivering after the current log head.
    async fn create_webhook(&self, webhook: NewWebhook, now: DateTime<Utc>) -> Result<Webhook>;
    /// One subscription; `NotFound` when unknown.
    async fn get_webhook(&self, id: i64) -> Result<Webhook>;
    /// Subscriptions by id, after `after`, at most `limit`.
    async fn list_webhooks(&self, after: Option<i64>, limit: i64) -> Result<Vec<Webhook>>;
    /// Changes a subscription; enabling it clears its failures. `NotFound` when unknown.
    async fn update_webhook(
        &self,
        id: i64,
        patch: domain::webhook::WebhookPatch,
        now: DateTime<Utc>,
    ) -> Result<Webhook>;
    /// Deletes a subscription with its delivery log; `NotFound` when unknown.
    async fn delete_webhook(&self, id: i64) -> Result<()>;
    /// Delivers again from event `from_seq` on (in order): moves `delivered_seq` back to
    /// `from_seq - 1`. `Invalid` naming `from_seq` when that is not a rewind.
    async fn replay_webhook(&self, id: i64, from_seq: i64, now: DateTime<Utc>) -> Result<Webhook>;
    /// A subscription's delivery log, newest first, with `id` below `before`, at most
    /// `limit`; `NotFound` when the subscription is unknown.
    async fn list_deliveries(
        &self,
        webhook_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Delivery>>;
    /// One logged attempt of one subscription; `NotFound` when unknown.
    async fn get_delivery(&self, webhook_id: i64, delivery_id: i64) -> Result<Delivery>;
    /// The event at `seq`; `NotFound` when there is none.
    async fn event_at(&self, seq: i64) -> Result<Event>;
    /// Takes or renews the lease `name` for `holder` until `until`: true when `holder` now
    /// holds it (it was free, expired at `now`, or already its own).
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool>;
    /// Gives a lease up, if `holder` holds it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<()>;
    /// Logs an attempt and applies it to the subscription in one transaction: a 2xx moves
    /// `delivered_seq` to the event (only if it still is `expected_seq` and the claim's
    /// holder still holds the lease, which is renewed), a failure counts towards `policy`,
    /// which may disable the subscription and raise `webhook_failing`.
    async fn record_delivery(
        &self,
        delivery: NewDelivery,
        expected_seq: i64,
        claim: &LeaseClaim,
        policy: &DisablePolicy,
    ) -> Result<RecordedDelivery>;
    /// Moves `delivered_seq` from `from` to `to` over events the subscription does not
    /// want (only if it still is `from` and the claim holds); false when nothing moved.
    async fn skip_webhook_events(
        &self,
        webhook_id: i64,
        from: i64,
        to: i64,
        claim: &LeaseClaim,
    ) -> Result<bool>;

    // ---- Stores: devices, POS, RFID, cycle counts, transfers (docs/stores.md) ----------
    // Every write below is one transaction that appends its events; stock moves go through
    // the ledger like any other movement.

    /// Registers a device with its token (stored by hash) in one transaction; `Conflict`
    /// when the id exists, `Invalid` on an unknown location.
    async fn register_device(&self, device: NewDevice, token: NewToken) -> Result<Device>;
    /// One device; `NotFound` when unknown.
    async fn get_device(&self, id: &DeviceId) -> Result<Device>;
    /// Devices by id, after `after`, at most `limit`, at `within` (empty: everywhere).
    async fn list_devices(
        &self,
        within: &[LocationCode],
        after: Option<&DeviceId>,
        limit: i64,
    ) -> Result<Vec<Device>>;
    /// Disables a device and revokes its token; disabling twice keeps the first time.
    async fn disable_device(&self, id: &DeviceId, now: DateTime<Utc>) -> Result<Device>;

    /// Records a POS sale or return in one transaction: resolves every line to a product,
    /// prices it, posts its `sale` / `return` movements (a sale even below zero), records
    /// the receipt and its events. The same id with the same request answers the first
    /// receipt (`created: false`); with another request, `Conflict` `sale_id_reused`.
    async fn record_sale(&self, sale: NewSale, meta: RequestMeta) -> Result<Recorded<Receipt>>;
    /// A sale or return with the units returned of each line since; `NotFound` when unknown.
    async fn get_sale(&self, id: &SaleId) -> Result<Receipt>;

    /// Records a batch of RFID reads at a location: de-duplicates each EPC within `window`
    /// (across requests too), remembers the tags seen, and feeds the location's open count.
    async fn record_reads(
        &self,
        location: &LocationCode,
        batch: ReadBatch,
        window: chrono::Duration,
    ) -> Result<ReadSummary>;
    /// Tags seen at a location by EPC, after `after`, at most `limit`.
    async fn list_tags(
        &self,
        location: &LocationCode,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SeenTag>>;

    /// Opens a count with a snapshot of the book figures in scope; `Conflict` `count_open`
    /// when the location has an open count, `Invalid` on unknown SKUs or location.
    async fn open_count(&self, count: NewCount, actor: &str) -> Result<Count>;
    /// One count with its comparison per SKU; `NotFound` when unknown.
    async fn get_count(&self, id: &CountId) -> Result<Count>;
    /// Adds scanned quantities to an open count; a batch id seen before changes nothing.
    async fn add_count_scans(&self, id: &CountId, scans: NewScans) -> Result<Count>;
    /// Approves (posting the count corrections) or cancels an open count.
    async fn close_count(&self, id: &CountId, approve: bool, actor: &str) -> Result<Count>;

    /// Creates a transfer; the same id with the same request answers the first one.
    async fn create_transfer(
        &self,
        transfer: NewTransfer,
        meta: RequestMeta,
    ) -> Result<Recorded<Transfer>>;
    /// One transfer; `NotFound` when unknown.
    async fn get_transfer(&self, id: &TransferId) -> Result<Transfer>;
    /// Transfers by id, after `after`, at most `limit`.
    async fn list_transfers(
        &self,
        filter: &TransferFilter,
        after: Option<&TransferId>,
        limit: i64,
    ) -> Result<Vec<Transfer>>;
    /// Ships an open transfer (its source must have the units available); shipping a
    /// shipped transfer again answers it unchanged.
    async fn ship_transfer(&self, id: &TransferId, actor: &str) -> Result<Transfer>;
    /// Receives a shipped transfer: what arrived (`None`: exactly what was shipped).
    async fn receive_transfer(
        &self,
        id: &TransferId,
        arrived: Option<Vec<(Sku, i64)>>,
        actor: &str,
    ) -> Result<Transfer>;

    // ---- Edge nodes: one store's node syncing with HQ (docs/decisions/0009-edge-sync.md) ----

    /// Binds this database to an HQ and a store, once; later calls may change the HQ URL
    /// but not the store (`Conflict`). Marks the link offline until the sync reaches HQ.
    async fn edge_bind(
        &self,
        hq: &str,
        location: &LocationCode,
        now: DateTime<Utc>,
    ) -> Result<edge::EdgeState>;
    /// The sync state, or `None` when this database is not an edge node's.
    async fn edge_state(&self) -> Result<Option<edge::EdgeState>>;
    /// Mirrors HQ's figures for the store into the local ledger and advances the stock
    /// cursor, in one transaction: each level becomes HQ's figure plus the node's own
    /// movements HQ has not shown back yet (`domain::edge::mirror_delta`). `Invalid` names
    /// a SKU this database does not know.
    async fn edge_mirror(&self, stock: edge::HqStock) -> Result<edge::Mirrored>;
    /// The node's own movements at the store after the push cursor, at most `limit`.
    async fn edge_outbox(&self, limit: i64) -> Result<edge::Outbox>;
    /// Records HQ's acknowledgement of a push in one transaction: takes back each refused
    /// movement locally and moves the push cursor.
    async fn edge_pushed(&self, ack: edge::PushAck) -> Result<()>;
    /// Records the link state or the catalog cursor.
    async fn edge_note(&self, note: edge::EdgeNote) -> Result<()>;
    /// HQ side: a location's levels and the event head they reflect, from one snapshot.
    async fn edge_snapshot(&self, location: &LocationCode) -> Result<edge::StockSnapshot>;
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
