//! [`Store`] for every [`Core`]: the trait's methods delegate to the generic use cases.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use domain::catalog::{Location, NewLocation, NewProduct, Product, ProductPatch};
use domain::customer::{Customer, CustomerPatch};
use domain::ids::{LocationCode, Sku};
use domain::order::{NewOrder, Order, OrderFilter};
use domain::pricing::{PriceEntry, PriceList};
use domain::stock::{Level, Movement, NewMovement, Outcome};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use store::edge;
use store::{
    AuditEntry, AuditFilter, Event, EventFilter, ExportSink, ImportSummary, LevelFilter,
    LoginRecord, NewAudit, NewToken, NewUser, OrderCommand, PlaceMeta, Placed, Quote,
    RestoreSource, SinkState, Store, StoreError, TokenInfo, User, VerifyReport,
};

use domain::webhook::WebhookPatch;
use store::alerts::{Alert, AlertFilter, NewAlert, Raised, Threshold};
use store::webhooks::{
    Delivery, DisablePolicy, LeaseClaim, NewDelivery, NewWebhook, RecordedDelivery, Webhook,
};

use domain::count::{Count, NewCount, NewScans};
use domain::device::{Device, NewDevice};
use domain::ids::{CountId, DeviceId, SaleId, TransferId};
use domain::pos::{NewSale, Receipt};
use domain::rfid::ReadBatch;
use domain::transfer::{NewTransfer, Transfer};
use store::{ReadSummary, Recorded, RequestMeta, SeenTag, TransferFilter};

use crate::core::{Core, Dialect, map_sql};

#[async_trait]
impl<DB: Dialect> Store for Core<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<DateTime<Utc>>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> NaiveDate: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<NaiveDate>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    fn backend(&self) -> &'static str {
        DB::BACKEND
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map(drop)
            .map_err(|e| map_sql(e, DB::is_transient))
    }

    async fn create_location(&self, location: NewLocation) -> Result<Location, StoreError> {
        Core::create_location(self, location).await
    }

    async fn list_locations(
        &self,
        after: Option<&LocationCode>,
        limit: i64,
    ) -> Result<Vec<Location>, StoreError> {
        Core::list_locations(self, after, limit).await
    }

    async fn create_product(&self, product: NewProduct) -> Result<Product, StoreError> {
        Core::create_product(self, product).await
    }

    async fn get_product(&self, sku: &Sku) -> Result<Product, StoreError> {
        Core::get_product(self, sku).await
    }

    async fn product_by_gtin(&self, gtin: &str) -> Result<Option<Product>, StoreError> {
        Core::product_by_gtin(self, gtin).await
    }

    async fn update_product(&self, sku: &Sku, patch: ProductPatch) -> Result<Product, StoreError> {
        Core::update_product(self, sku, patch).await
    }

    async fn list_products(
        &self,
        after: Option<&Sku>,
        limit: i64,
    ) -> Result<Vec<Product>, StoreError> {
        Core::list_products(self, after, limit).await
    }

    async fn import_products(
        &self,
        products: Vec<NewProduct>,
    ) -> Result<ImportSummary, StoreError> {
        Core::import_products(self, products).await
    }

    async fn apply_movements(&self, batch: Vec<NewMovement>) -> Result<Vec<Outcome>, StoreError> {
        Core::apply_movements(self, batch).await
    }

    async fn get_level(&self, location: &LocationCode, sku: &Sku) -> Result<Level, StoreError> {
        Core::get_level(self, location, sku).await
    }

    async fn list_levels(
        &self,
        filter: &LevelFilter,
        after: Option<&(LocationCode, Sku)>,
        limit: i64,
    ) -> Result<Vec<Level>, StoreError> {
        Core::list_levels(self, filter, after, limit).await
    }

    async fn list_movements(
        &self,
        location: &LocationCode,
        sku: &Sku,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Movement>, StoreError> {
        Core::list_movements(self, location, sku, before, limit).await
    }

    async fn create_customer(&self, customer: Customer) -> Result<Customer, StoreError> {
        Core::create_customer(self, customer).await
    }

    async fn get_customer(&self, code: &str) -> Result<Customer, StoreError> {
        Core::get_customer(self, code).await
    }

    async fn update_customer(
        &self,
        code: &str,
        patch: CustomerPatch,
        now: DateTime<Utc>,
    ) -> Result<Customer, StoreError> {
        Core::update_customer(self, code, patch, now).await
    }

    async fn list_customers(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Customer>, StoreError> {
        Core::list_customers(self, after, limit).await
    }

    async fn put_price_list(&self, list: PriceList) -> Result<PriceList, StoreError> {
        Core::put_price_list(self, list).await
    }

    async fn get_price_list(&self, code: &str) -> Result<PriceList, StoreError> {
        Core::get_price_list(self, code).await
    }

    async fn put_customer_prices(
        &self,
        customer: &str,
        entries: Vec<PriceEntry>,
    ) -> Result<Vec<PriceEntry>, StoreError> {
        Core::put_customer_prices(self, customer, entries).await
    }

    async fn customer_prices(&self, customer: &str) -> Result<Vec<PriceEntry>, StoreError> {
        Core::customer_prices(self, customer).await
    }

    async fn quote(
        &self,
        customer: &str,
        sku: &Sku,
        qty: i64,
        on: NaiveDate,
    ) -> Result<Quote, StoreError> {
        Core::quote(self, customer, sku, qty, on).await
    }

    async fn place_order(&self, order: NewOrder, meta: PlaceMeta) -> Result<Placed, StoreError> {
        Core::place_order(self, order, meta).await
    }

    async fn get_order(&self, id_or_number: &str) -> Result<Order, StoreError> {
        Core::get_order(self, id_or_number).await
    }

    async fn list_orders(
        &self,
        filter: &OrderFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<(i64, Order)>, StoreError> {
        Core::list_orders(self, filter, before, limit).await
    }

    async fn act_on_order(
        &self,
        id: &str,
        command: OrderCommand,
        expected_version: Option<i64>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        Core::act_on_order(self, id, command, expected_version, actor, now).await
    }

    async fn events_after(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        Core::events_after(self, after, filter, limit).await
    }

    async fn event_head(&self) -> Result<i64, StoreError> {
        Core::event_head(self).await
    }

    async fn insert_token(&self, token: NewToken) -> Result<TokenInfo, StoreError> {
        Core::insert_token(self, token).await
    }

    async fn list_tokens(&self) -> Result<Vec<store::backup::TokenRecord>, StoreError> {
        Core::list_tokens(self).await
    }

    async fn revoke_token(
        &self,
        token_id: i64,
        now: DateTime<Utc>,
    ) -> Result<store::backup::TokenRecord, StoreError> {
        Core::revoke_token(self, token_id, now).await
    }

    async fn find_token(
        &self,
        secret_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenInfo>, StoreError> {
        Core::find_token(self, secret_hash, now).await
    }

    async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        Core::create_user(self, user).await
    }

    async fn list_users(&self, after: Option<&str>, limit: i64) -> Result<Vec<User>, StoreError> {
        Core::list_users(self, after, limit).await
    }

    async fn disable_user(&self, username: &str, now: DateTime<Utc>) -> Result<User, StoreError> {
        Core::disable_user(self, username, now).await
    }

    async fn login_record(&self, username: &str) -> Result<Option<LoginRecord>, StoreError> {
        Core::login_record(self, username).await
    }

    async fn note_login(
        &self,
        username: &str,
        succeeded: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Core::note_login(self, username, succeeded, now).await
    }

    async fn append_audits(&self, entries: Vec<NewAudit>) -> Result<Vec<AuditEntry>, StoreError> {
        Core::append_audits(self, entries).await
    }

    async fn list_audit(
        &self,
        filter: &AuditFilter,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        Core::list_audit(self, filter, after, limit).await
    }

    async fn verify(&self) -> Result<VerifyReport, StoreError> {
        Core::verify(self).await
    }

    async fn export(&self, sink: &mut ExportSink<'_>) -> Result<(), StoreError> {
        Core::export(self, sink).await
    }

    async fn restore(&self, source: &mut RestoreSource<'_>) -> Result<u64, StoreError> {
        Core::restore(self, source).await
    }

    // --- Broker relays: sink cursors and leases ---

    async fn acquire_sink(
        &self,
        sink: &str,
        kind: &str,
        holder: &str,
        ttl_ms: i64,
    ) -> Result<Option<SinkState>, StoreError> {
        Core::acquire_sink(self, sink, kind, holder, ttl_ms).await
    }

    async fn advance_sink(
        &self,
        sink: &str,
        holder: &str,
        cursor: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        Core::advance_sink(self, sink, holder, cursor, ttl_ms).await
    }

    async fn record_sink_error(
        &self,
        sink: &str,
        holder: &str,
        error: &str,
    ) -> Result<bool, StoreError> {
        Core::record_sink_error(self, sink, holder, error).await
    }

    async fn release_sink(&self, sink: &str, holder: &str) -> Result<(), StoreError> {
        Core::release_sink(self, sink, holder).await
    }

    async fn list_sinks(&self) -> Result<Vec<SinkState>, StoreError> {
        Core::list_sinks(self).await
    }

    // ---- Alerts, low-stock thresholds, webhooks (issue 5, items 3 and 7) ----------------

    async fn set_threshold(
        &self,
        location: &LocationCode,
        sku: &Sku,
        low_stock: i64,
        now: DateTime<Utc>,
    ) -> Result<Threshold, StoreError> {
        Core::set_threshold(self, location, sku, low_stock, now).await
    }

    async fn get_threshold(
        &self,
        location: &LocationCode,
        sku: &Sku,
    ) -> Result<Threshold, StoreError> {
        Core::get_threshold(self, location, sku).await
    }

    async fn remove_threshold(
        &self,
        location: &LocationCode,
        sku: &Sku,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Core::remove_threshold(self, location, sku, now).await
    }

    async fn list_thresholds(
        &self,
        location: Option<&LocationCode>,
        after: Option<&(LocationCode, Sku)>,
        limit: i64,
    ) -> Result<Vec<Threshold>, StoreError> {
        Core::list_thresholds(self, location, after, limit).await
    }

    async fn raise_alert(&self, alert: NewAlert, now: DateTime<Utc>) -> Result<Raised, StoreError> {
        Core::raise_alert(self, alert, now).await
    }

    async fn get_alert(&self, id: i64) -> Result<Alert, StoreError> {
        Core::get_alert(self, id).await
    }

    async fn list_alerts(
        &self,
        filter: &AlertFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Alert>, StoreError> {
        Core::list_alerts(self, filter, before, limit).await
    }

    async fn acknowledge_alert(
        &self,
        id: i64,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Alert, StoreError> {
        Core::acknowledge_alert(self, id, by, now).await
    }

    async fn create_webhook(
        &self,
        webhook: NewWebhook,
        now: DateTime<Utc>,
    ) -> Result<Webhook, StoreError> {
        Core::create_webhook(self, webhook, now).await
    }

    async fn get_webhook(&self, id: i64) -> Result<Webhook, StoreError> {
        Core::get_webhook(self, id).await
    }

    async fn list_webhooks(
        &self,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Webhook>, StoreError> {
        Core::list_webhooks(self, after, limit).await
    }

    async fn update_webhook(
        &self,
        id: i64,
        patch: WebhookPatch,
        now: DateTime<Utc>,
    ) -> Result<Webhook, StoreError> {
        Core::update_webhook(self, id, patch, now).await
    }

    async fn delete_webhook(&self, id: i64) -> Result<(), StoreError> {
        Core::delete_webhook(self, id).await
    }

    async fn replay_webhook(
        &self,
        id: i64,
        from_seq: i64,
        now: DateTime<Utc>,
    ) -> Result<Webhook, StoreError> {
        Core::replay_webhook(self, id, from_seq, now).await
    }

    async fn list_deliveries(
        &self,
        webhook_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        Core::list_deliveries(self, webhook_id, before, limit).await
    }

    async fn get_delivery(
        &self,
        webhook_id: i64,
        delivery_id: i64,
    ) -> Result<Delivery, StoreError> {
        Core::get_delivery(self, webhook_id, delivery_id).await
    }

    async fn event_at(&self, seq: i64) -> Result<Event, StoreError> {
        Core::event_at(self, seq).await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Core::acquire_lease(self, name, holder, now, until).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        Core::release_lease(self, name, holder).await
    }

    async fn record_delivery(
        &self,
        delivery: NewDelivery,
        expected_seq: i64,
        claim: &LeaseClaim,
        policy: &DisablePolicy,
    ) -> Result<RecordedDelivery, StoreError> {
        Core::record_delivery(self, delivery, expected_seq, claim, policy).await
    }

    async fn skip_webhook_events(
        &self,
        webhook_id: i64,
        from: i64,
        to: i64,
        claim: &LeaseClaim,
    ) -> Result<bool, StoreError> {
        Core::skip_webhook_events(self, webhook_id, from, to, claim).await
    }

    // ---- Stores: devices, POS, RFID, cycle counts, transfers ----------------------------

    async fn register_device(
        &self,
        device: NewDevice,
        token: NewToken,
    ) -> Result<Device, StoreError> {
        Core::register_device(self, device, token).await
    }

    async fn get_device(&self, id: &DeviceId) -> Result<Device, StoreError> {
        Core::get_device(self, id).await
    }

    async fn list_devices(
        &self,
        within: &[LocationCode],
        after: Option<&DeviceId>,
        limit: i64,
    ) -> Result<Vec<Device>, StoreError> {
        Core::list_devices(self, within, after, limit).await
    }

    async fn disable_device(
        &self,
        id: &DeviceId,
        now: DateTime<Utc>,
    ) -> Result<Device, StoreError> {
        Core::disable_device(self, id, now).await
    }

    async fn record_sale(
        &self,
        sale: NewSale,
        meta: RequestMeta,
    ) -> Result<Recorded<Receipt>, StoreError> {
        Core::record_sale(self, sale, meta).await
    }

    async fn get_sale(&self, id: &SaleId) -> Result<Receipt, StoreError> {
        Core::get_sale(self, id).await
    }

    async fn record_reads(
        &self,
        location: &LocationCode,
        batch: ReadBatch,
        window: chrono::Duration,
    ) -> Result<ReadSummary, StoreError> {
        Core::record_reads(self, location, batch, window).await
    }

    async fn list_tags(
        &self,
        location: &LocationCode,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SeenTag>, StoreError> {
        Core::list_tags(self, location, after, limit).await
    }

    async fn open_count(&self, count: NewCount, actor: &str) -> Result<Count, StoreError> {
        Core::open_count(self, count, actor).await
    }

    async fn get_count(&self, id: &CountId) -> Result<Count, StoreError> {
        Core::get_count(self, id).await
    }

    async fn add_count_scans(&self, id: &CountId, scans: NewScans) -> Result<Count, StoreError> {
        Core::add_count_scans(self, id, scans).await
    }

    async fn close_count(
        &self,
        id: &CountId,
        approve: bool,
        actor: &str,
    ) -> Result<Count, StoreError> {
        Core::close_count(self, id, approve, actor).await
    }

    async fn create_transfer(
        &self,
        transfer: NewTransfer,
        meta: RequestMeta,
    ) -> Result<Recorded<Transfer>, StoreError> {
        Core::create_transfer(self, transfer, meta).await
    }

    async fn get_transfer(&self, id: &TransferId) -> Result<Transfer, StoreError> {
        Core::get_transfer(self, id).await
    }

    async fn list_transfers(
        &self,
        filter: &TransferFilter,
        after: Option<&TransferId>,
        limit: i64,
    ) -> Result<Vec<Transfer>, StoreError> {
        Core::list_transfers(self, filter, after, limit).await
    }

    async fn ship_transfer(&self, id: &TransferId, actor: &str) -> Result<Transfer, StoreError> {
        Core::ship_transfer(self, id, actor).await
    }

    async fn receive_transfer(
        &self,
        id: &TransferId,
        arrived: Option<Vec<(Sku, i64)>>,
        actor: &str,
    ) -> Result<Transfer, StoreError> {
        Core::receive_transfer(self, id, arrived, actor).await
    }

    // ---- Edge nodes ----

    async fn edge_bind(
        &self,
        hq: &str,
        location: &LocationCode,
        now: DateTime<Utc>,
    ) -> Result<edge::EdgeState, StoreError> {
        Core::edge_bind(self, hq, location, now).await
    }

    async fn edge_state(&self) -> Result<Option<edge::EdgeState>, StoreError> {
        Core::edge_state(self).await
    }

    async fn edge_mirror(&self, stock: edge::HqStock) -> Result<edge::Mirrored, StoreError> {
        Core::edge_mirror(self, stock).await
    }

    async fn edge_outbox(&self, limit: i64) -> Result<edge::Outbox, StoreError> {
        Core::edge_outbox(self, limit).await
    }

    async fn edge_pushed(&self, ack: edge::PushAck) -> Result<(), StoreError> {
        Core::edge_pushed(self, ack).await
    }

    async fn edge_note(&self, note: edge::EdgeNote) -> Result<(), StoreError> {
        Core::edge_note(self, note).await
    }

    async fn edge_snapshot(
        &self,
        location: &LocationCode,
    ) -> Result<edge::StockSnapshot, StoreError> {
        Core::edge_snapshot(self, location).await
    }
}
