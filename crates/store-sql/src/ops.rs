//! Operations on the whole database: `verify`, `export` (backup), `restore`, and tokens.

use chrono::{DateTime, NaiveDate, Utc};
use domain::catalog::Location;
use domain::customer::Customer;
use domain::order::{Order, OrderStatus};
use domain::stock::{Level, Movement};
use futures_util::TryStreamExt;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::{BackupRecord, ExportSink, RestoreSource, StoreError, VerifyReport, Violation};

use crate::core::{Core, Dialect, TxError, retry};
use crate::events::{EVENT_COLUMNS, EventRow};
use crate::orders::OPEN_STATUSES;
use crate::rows::{
    CUSTOMER_COLUMNS, CustomerRow, LocationRow, MOVEMENT_COLUMNS, MovementRow, ORDER_COLUMNS,
    OrderRow, PRODUCT_COLUMNS, ProductRow, to_json,
};

impl<DB: Dialect> Core<DB>
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
    pub(crate) async fn verify(&self) -> Result<VerifyReport, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_snapshot(&self.reader).await?;
            let mut report = VerifyReport::default();
            let rows: Vec<(String, String, i64, i64, i64, i64, i64)> = sqlx::query_as(
                "SELECT l.location, l.sku, l.on_hand, l.reserved, l.incoming, \
                        CAST(COALESCE(SUM(m.on_hand_delta), 0) AS BIGINT), \
                        CAST(COALESCE(SUM(m.reserved_delta), 0) AS BIGINT) \
                 FROM stock_levels l LEFT JOIN stock_movements m ON m.location = l.location AND m.sku = l.sku \
                 GROUP BY l.location, l.sku, l.on_hand, l.reserved, l.incoming ORDER BY l.location, l.sku",
            )
            .fetch_all(&mut *tx)
            .await?;
            let in_transit = Self::in_transit(&mut tx).await?;
            for (location, sku, on_hand, reserved, incoming, ledger_on_hand, ledger_reserved) in rows {
                let carried = in_transit.get(&(location.clone(), sku.clone())).copied().unwrap_or(0);
                report.levels += 1;
                let mut violation = |check, detail: String| {
                    report.violations.push(Violation { check, sku: Some(sku.clone()), location: Some(location.clone()), detail });
                };
                if on_hand != ledger_on_hand {
                    violation("on_hand_matches_ledger", format!("on_hand is {on_hand}, the ledger sums to {ledger_on_hand}"));
                }
                if reserved != ledger_reserved {
                    violation("reserved_matches_ledger", format!("reserved is {reserved}, the ledger sums to {ledger_reserved}"));
                }
                if reserved < 0 {
                    violation("reserved_not_negative", format!("reserved is {reserved}"));
                }
                if incoming != carried {
                    violation("incoming_matches_transfers", format!("incoming is {incoming}, transfers in transit carry {carried}"));
                }
            }
            // Each ledger row's on_hand_after must continue the running sum of its level.
            let breaks: Vec<(String, String, i64, String)> = sqlx::query_as(
                "SELECT location, sku, seq, movement_id FROM ( \
                   SELECT location, sku, seq, movement_id, on_hand_after, \
                          SUM(on_hand_delta) OVER (PARTITION BY location, sku ORDER BY seq) AS running \
                   FROM stock_movements) t \
                 WHERE running <> on_hand_after ORDER BY location, sku, seq",
            )
            .fetch_all(&mut *tx)
            .await?;
            for (location, sku, seq, id) in breaks {
                report.violations.push(Violation {
                    check: "ledger_running_sum",
                    sku: Some(sku),
                    location: Some(location),
                    detail: format!("movement {id} (seq {seq}) records an on_hand_after that its predecessors do not sum to"),
                });
            }
                        // Each ledger row has its stock.changed event in the log.
            let (unlogged,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM stock_movements m \
                 WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = 'stock:' || m.movement_id)",
            )
            .fetch_one(&mut *tx)
            .await?;
            if unlogged > 0 {
                report.violations.push(Violation {
                    check: "every_change_has_an_event",
                    sku: None,
                    location: None,
                    detail: format!("{unlogged} ledger rows have no stock.changed event"),
                });
            }
            // Each level's reservation is exactly what open orders hold there.
            let promised: Vec<(String, String, i64, i64)> = sqlx::query_as(&format!(
                "SELECT l.location, l.sku, l.reserved, COALESCE(r.held, 0) FROM stock_levels l LEFT JOIN ( \
                   SELECT o.location, ol.sku, CAST(SUM(ol.reserved_qty) AS BIGINT) AS held \
                   FROM order_lines ol JOIN orders o ON o.order_id = ol.order_id \
                   WHERE o.status IN {OPEN_STATUSES} GROUP BY o.location, ol.sku) r \
                 ON r.location = l.location AND r.sku = l.sku \
                 WHERE l.reserved <> COALESCE(r.held, 0) ORDER BY l.location, l.sku"
            ))
            .fetch_all(&mut *tx)
            .await?;
            for (location, sku, reserved, held) in promised {
                report.violations.push(Violation {
                    check: "reserved_matches_open_orders",
                    sku: Some(sku),
                    location: Some(location),
                    detail: format!("reserved is {reserved}, open orders hold {held}"),
                });
            }
            let (closed,): (i64,) = sqlx::query_as(&format!(
                "SELECT COUNT(*) FROM order_lines ol JOIN orders o ON o.order_id = ol.order_id \
                 WHERE o.status NOT IN {OPEN_STATUSES} AND ol.reserved_qty <> 0"
            ))
            .fetch_one(&mut *tx)
            .await?;
            if closed > 0 {
                report.violations.push(Violation {
                    check: "closed_orders_hold_nothing",
                    sku: None,
                    location: None,
                    detail: format!("{closed} lines of closed orders still hold reservations"),
                });
            }
            let (movements, distinct): (i64, i64) =
                sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT movement_id) FROM stock_movements").fetch_one(&mut *tx).await?;
            report.movements = movements;
            if movements != distinct {
                report.violations.push(Violation {
                    check: "movement_applied_once",
                    sku: None,
                    location: None,
                    detail: format!("{} movement ids appear more than once", movements - distinct),
                });
            }
            report.audit_entries = Self::verify_audit(&mut tx, &mut report.violations).await?;
            tx.commit().await?;
            Ok(report)
        })
        .await
    }

    pub(crate) async fn export(&self, sink: &mut ExportSink<'_>) -> Result<(), StoreError> {
        let mut tx = DB::begin_snapshot(&self.reader)
            .await
            .map_err(|e| crate::core::map_sql(e, DB::is_transient))?;
        let result = Self::export_in(&mut tx, sink).await;
        tx.rollback()
            .await
            .map_err(|e| crate::core::map_sql(e, DB::is_transient))?;
        result.map_err(|e| e.into_store(DB::is_transient))
    }

    async fn export_in(
        tx: &mut Transaction<'static, DB>,
        sink: &mut ExportSink<'_>,
    ) -> Result<(), TxError> {
        let write = |sink: &mut ExportSink<'_>, record| {
            sink(record).map_err(|e| StoreError::Other(format!("writing the backup: {e}")))
        };
        {
            let mut rows = sqlx::query_as::<DB, LocationRow>(
                "SELECT code, name, kind, time_zone, created_at FROM locations ORDER BY code",
            )
            .fetch(&mut **tx);
            while let Some(row) = rows.try_next().await? {
                write(sink, BackupRecord::Location(Location::try_from(row)?))?;
            }
        }
        let products: Vec<ProductRow> = sqlx::query_as(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM products ORDER BY sku"
        ))
        .fetch_all(&mut **tx)
        .await?;
        let mut products = products.into_iter().peekable();
        while products.peek().is_some() {
            let chunk: Vec<ProductRow> = products.by_ref().take(500).collect();
            for product in Self::complete_products(tx, chunk).await? {
                write(sink, BackupRecord::Product(product))?;
            }
        }
        {
            let mut rows = sqlx::query_as::<DB, crate::rows::LevelRow>(
                "SELECT location, sku, on_hand, reserved, incoming, updated_at FROM stock_levels ORDER BY location, sku",
            )
            .fetch(&mut **tx);
            while let Some(row) = rows.try_next().await? {
                write(sink, BackupRecord::Level(Level::from(row)))?;
            }
        }
        {
            let sql = format!("SELECT {MOVEMENT_COLUMNS} FROM stock_movements ORDER BY seq");
            let mut rows = sqlx::query_as::<DB, MovementRow>(&sql).fetch(&mut **tx);
            while let Some(row) = rows.try_next().await? {
                write(sink, BackupRecord::Movement(Movement::try_from(row)?))?;
            }
        }
        Self::export_auth(tx, &mut |record| write(sink, record)).await?;
        let lists: Vec<(String,)> = sqlx::query_as("SELECT code FROM price_lists ORDER BY code")
            .fetch_all(&mut **tx)
            .await?;
        for (code,) in lists {
            write(
                sink,
                BackupRecord::PriceList(Self::read_price_list(tx, &code).await?),
            )?;
        }
        let customers: Vec<CustomerRow> = sqlx::query_as(&format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers ORDER BY code"
        ))
        .fetch_all(&mut **tx)
        .await?;
        for row in customers {
            let customer = Customer::try_from(row)?;
            let entries = Self::read_entries(tx, "customer", &customer.code).await?;
            let code = customer.code.clone();
            write(sink, BackupRecord::Customer(customer))?;
            if !entries.is_empty() {
                write(
                    sink,
                    BackupRecord::CustomerPrices {
                        customer: code,
                        entries,
                    },
                )?;
            }
        }
        let orders: Vec<OrderRow> = sqlx::query_as(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders ORDER BY order_seq"
        ))
        .fetch_all(&mut **tx)
        .await?;
        for row in orders {
            let seq = row.order_seq;
            write(
                sink,
                BackupRecord::Order {
                    seq,
                    order: Box::new(Self::complete_order(tx, row).await?),
                },
            )?;
        }
        let keys: Vec<(String, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT idempotency_key, request_hash, order_id, created_at FROM idempotency_keys ORDER BY idempotency_key",
        )
        .fetch_all(&mut **tx)
        .await?;
        for (key, request_hash, order_id, created_at) in keys {
            write(
                sink,
                BackupRecord::IdempotencyKey {
                    key,
                    request_hash,
                    order_id,
                    created_at,
                },
            )?;
        }
        {
            let sql = format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq");
            let mut rows = sqlx::query_as::<DB, EventRow>(&sql).fetch(&mut **tx);
            while let Some(row) = rows.try_next().await? {
                write(
                    sink,
                    BackupRecord::Event {
                        event: store::Event::try_from(row)?,
                    },
                )?;
            }
        }
        let sinks: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT sink, kind, last_seq FROM relay_sinks ORDER BY sink")
                .fetch_all(&mut **tx)
                .await?;
        for (name, kind, cursor) in sinks {
            write(
                sink,
                BackupRecord::SinkCursor {
                    sink: name,
                    kind,
                    cursor,
                },
            )?;
        }
        Self::export_retail(tx, &mut |record| write(sink, record)).await?;
        Self::export_alerts_and_webhooks(tx, sink).await
    }

    /// Thresholds, alerts and webhook subscriptions (with their secrets and positions; the
    /// delivery log and leases are working state and stay behind).
    async fn export_alerts_and_webhooks(
        tx: &mut Transaction<'static, DB>,
        sink: &mut ExportSink<'_>,
    ) -> Result<(), TxError> {
        let write = |sink: &mut ExportSink<'_>, record| {
            sink(record).map_err(|e| StoreError::Other(format!("writing the backup: {e}")))
        };
        let thresholds: Vec<crate::alerts::ThresholdRow> = sqlx::query_as(&format!(
            "SELECT {} FROM stock_thresholds ORDER BY location, sku",
            crate::alerts::THRESHOLD_COLUMNS
        ))
        .fetch_all(&mut **tx)
        .await?;
        for row in thresholds {
            write(sink, BackupRecord::Threshold(row.into()))?;
        }
        {
            let sql = format!(
                "SELECT {} FROM alerts ORDER BY alert_id",
                crate::alerts::ALERT_COLUMNS
            );
            let mut rows = sqlx::query_as::<DB, crate::alerts::AlertRow>(&sql).fetch(&mut **tx);
            while let Some(row) = rows.try_next().await? {
                write(sink, BackupRecord::Alert(row.try_into()?))?;
            }
        }
        let webhooks: Vec<crate::webhooks::WebhookRow> = sqlx::query_as(&format!(
            "SELECT {} FROM webhooks ORDER BY webhook_id",
            crate::webhooks::WEBHOOK_COLUMNS
        ))
        .fetch_all(&mut **tx)
        .await?;
        for row in webhooks {
            write(sink, BackupRecord::Webhook(row.try_into()?))?;
        }
        Self::export_edge(tx, &mut |record| write(sink, record)).await?;
        Ok(())
    }

    pub(crate) async fn restore(&self, source: &mut RestoreSource<'_>) -> Result<u64, StoreError> {
        let mut tx = DB::begin_write(&self.writer)
            .await
            .map_err(|e| crate::core::map_sql(e, DB::is_transient))?;
        let result = Self::restore_in(&mut tx, source).await;
        let result = match result {
            Ok(n) => tx.commit().await.map(|()| n).map_err(TxError::from),
            Err(e) => Err(e),
        };
        result.map_err(|e| e.into_store(DB::is_transient))
    }

    async fn restore_in(
        tx: &mut Transaction<'static, DB>,
        source: &mut RestoreSource<'_>,
    ) -> Result<u64, TxError> {
        let (rows,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM locations) + (SELECT COUNT(*) FROM products) + (SELECT COUNT(*) FROM api_tokens)",
        )
        .fetch_one(&mut **tx)
        .await?;
        if rows > 0 {
            return Err(StoreError::conflict(
                "not_empty",
                "restore needs an empty database; this one holds data",
            )
            .into());
        }
        let mut count = 0;
        for record in source {
            let record = record.map_err(|e| StoreError::Other(format!("backup: {e}")))?;
            Self::restore_record(tx, record).await?;
            count += 1;
        }
        DB::after_restore(tx).await?;
        Ok(count)
    }

    async fn restore_record(
        tx: &mut Transaction<'static, DB>,
        record: BackupRecord,
    ) -> Result<(), TxError> {
        match record {
            BackupRecord::Location(l) => {
                sqlx::query("INSERT INTO locations (code, name, kind, time_zone, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(l.code.as_str())
                    .bind(l.name)
                    .bind(l.kind.as_str())
                    .bind(l.time_zone)
                    .bind(l.created_at)
                    .execute(&mut **tx)
                    .await?;
            }
            BackupRecord::Product(p) => {
                if !Self::insert_product(tx, &p).await? {
                    return Err(StoreError::conflict(
                        "already_exists",
                        format!("product {} twice in the backup", p.sku),
                    )
                    .into());
                }
            }
            BackupRecord::Level(l) => {
                sqlx::query(
                    "INSERT INTO stock_levels (location, sku, on_hand, reserved, incoming, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(l.location.as_str())
                .bind(l.sku.as_str())
                .bind(l.on_hand)
                .bind(l.reserved)
                .bind(l.incoming)
                .bind(l.updated_at)
                .execute(&mut **tx)
                .await?;
            }
            BackupRecord::Movement(m) => {
                sqlx::query(&format!(
                    "INSERT INTO stock_movements ({MOVEMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ))
                .bind(m.seq)
                .bind(m.id.as_str())
                .bind(m.location.as_str())
                .bind(m.sku.as_str())
                .bind(m.kind.as_str())
                .bind(m.qty)
                .bind(m.on_hand_delta)
                .bind(m.reserved_delta)
                .bind(m.on_hand_after)
                .bind(m.reason)
                .bind(m.occurred_at)
                .bind(m.recorded_at)
                .execute(&mut **tx)
                .await?;
            }
            BackupRecord::User(u) => Self::restore_user(tx, u).await?,
            BackupRecord::Token(t) => Self::restore_token(tx, t).await?,
            BackupRecord::Audit(e) => Self::restore_audit(tx, e).await?,
            BackupRecord::PriceList(list) => {
                sqlx::query("INSERT INTO price_lists (code, name, currency, updated_at) VALUES ($1, $2, $3, $4)")
                    .bind(list.code.as_str())
                    .bind(list.name.as_str())
                    .bind(list.currency.as_str())
                    .bind(crate::core::now())
                    .execute(&mut **tx)
                    .await?;
                Self::replace_rules(tx, "price_list", &list.code, &list.entries).await?;
            }
            BackupRecord::Customer(c) => {
                sqlx::query(&format!("INSERT INTO customers ({CUSTOMER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"))
                    .bind(c.code.as_str())
                    .bind(c.name.as_str())
                    .bind(c.status.as_str())
                    .bind(c.price_tier.as_deref())
                    .bind(c.credit_limit)
                    .bind(c.auto_confirm)
                    .bind(to_json(&c.contacts))
                    .bind(to_json(&c.ship_to))
                    .bind(c.created_at)
                    .bind(c.updated_at)
                    .execute(&mut **tx)
                    .await?;
            }
            BackupRecord::CustomerPrices { customer, entries } => {
                Self::replace_rules(tx, "customer", &customer, &entries).await?
            }
            BackupRecord::Order { seq, order } => Self::restore_order(tx, seq, &order).await?,
            BackupRecord::IdempotencyKey {
                key,
                request_hash,
                order_id,
                created_at,
            } => {
                sqlx::query("INSERT INTO idempotency_keys (idempotency_key, request_hash, order_id, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(key)
                    .bind(request_hash)
                    .bind(order_id)
                    .bind(created_at)
                    .execute(&mut **tx)
                    .await?;
            }
            BackupRecord::Event { event } => Self::restore_event(tx, &event).await?,
            BackupRecord::SinkCursor { sink, kind, cursor } => {
                // A relay may have registered the sink before the restore: the backup wins.
                sqlx::query(
                    "INSERT INTO relay_sinks (sink, kind, last_seq, lease_until, updated_at) VALUES ($1, $2, $3, 0, $4) \
                     ON CONFLICT (sink) DO UPDATE SET kind = $2, last_seq = $3, holder = NULL, lease_until = 0",
                )
                .bind(sink)
                .bind(kind)
                .bind(cursor)
                .bind(crate::core::now())
                .execute(&mut **tx)
                .await?;
            }
            BackupRecord::Threshold(t) => Self::restore_threshold(tx, &t).await?,
            BackupRecord::Alert(a) => Self::restore_alert(tx, &a).await?,
            BackupRecord::Webhook(w) => Self::restore_webhook(tx, &w).await?,
            BackupRecord::Device(d) => Self::restore_device(tx, &d).await?,
            BackupRecord::Sale(s) => Self::restore_sale(tx, &s).await?,
            BackupRecord::Tag(t) => Self::restore_tag(tx, &t).await?,
            BackupRecord::Count(c) => Self::restore_count(tx, &c).await?,
            BackupRecord::Transfer(t) => Self::restore_transfer(tx, &t).await?,
            BackupRecord::EdgeSync(_)
            | BackupRecord::EdgeHqLevel(_)
            | BackupRecord::EdgeMirrored { .. } => {
                Self::restore_edge(tx, &record).await?;
            }
            BackupRecord::End { .. } => {}
        }
        Ok(())
    }

    async fn restore_order(
        tx: &mut Transaction<'static, DB>,
        seq: i64,
        o: &Order,
    ) -> Result<(), TxError> {
        sqlx::query(&format!(
            "INSERT INTO orders ({ORDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(o.id.as_str())
        .bind(seq)
        .bind(o.number.as_str())
        .bind(o.customer.as_str())
        .bind(o.location.as_str())
        .bind(o.status.as_str())
        .bind(o.version)
        .bind(o.credit_hold)
        .bind(o.currency.as_str())
        .bind(o.total)
        .bind(o.ship_to.as_ref().map(to_json))
        .bind(o.note.as_deref())
        .bind(o.requested_date)
        .bind(o.created_at)
        .bind(o.updated_at)
        .execute(&mut **tx)
        .await?;
        Self::insert_lines(tx, &o.id, &o.lines).await?;
        for (i, e) in o.timeline.iter().enumerate() {
            sqlx::query(
                "INSERT INTO order_events (order_id, event_no, at, actor, action, from_status, to_status, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(o.id.as_str())
            .bind(i as i64 + 1)
            .bind(e.at)
            .bind(e.actor.as_str())
            .bind(e.action.as_str())
            .bind(e.from.map(OrderStatus::as_str))
            .bind(e.to.map(OrderStatus::as_str))
            .bind(e.detail.as_deref())
            .execute(&mut **tx)
            .await?;
        }
        for sh in &o.shipments {
            sqlx::query("INSERT INTO shipments (order_id, shipment_no, carrier, tracking_number, shipped_at, lines) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(o.id.as_str())
                .bind(sh.shipment_no)
                .bind(sh.carrier.as_deref())
                .bind(sh.tracking_number.as_deref())
                .bind(sh.shipped_at)
                .bind(to_json(&sh.lines))
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}
