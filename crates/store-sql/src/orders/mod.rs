//! Orders in storage: reading them, and the stock moves an order makes.
//!
//! Every stock effect of an order is a conditional update of its level plus a ledger row
//! in the same transaction, with a movement id derived from the order number, the timeline
//! entry and the SKU (`SO-20261122-000042:e3:TEA-1`; producers' ids cannot contain `:`), so
//! the ledger tells which order did what. Levels of one order are always touched in SKU order (the global lock order).

mod act;
mod group;
mod place;

pub(crate) use group::Group;

use chrono::{DateTime, NaiveDate, Utc};
use domain::ids::{LocationCode, MovementId, Sku};
use domain::order::{
    Order, OrderFilter, OrderLine, OrderStatus, Shipment, Shortage, TimelineEntry,
};
use domain::stock::MovementKind;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::{NewEvent, StoreError};

use crate::core::{Core, Dialect, TxError, retry};
use crate::rows::{
    EventRow, LINE_COLUMNS, LineRow, ORDER_COLUMNS, OrderRow, ShipmentRow, from_json,
};
use crate::stock::LedgerEntry;

/// The statuses whose lines hold reservations, as SQL.
pub(crate) const OPEN_STATUSES: &str = "('pending_review', 'confirmed', 'partially_shipped')";

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
    pub(crate) async fn get_order(&self, id_or_number: &str) -> Result<Order, StoreError> {
        retry::<DB, _, _, _>(|| async {
            // One snapshot, so lines, shipments and timeline agree with the version.
            let mut tx = DB::begin_snapshot(&self.reader).await?;
            let row = Self::order_row(&mut tx, id_or_number, false).await?;
            let order = Self::complete_order(&mut tx, row).await?;
            tx.commit().await?;
            Ok(order)
        })
        .await
    }

    pub(crate) async fn list_orders(
        &self,
        f: &OrderFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<(i64, Order)>, StoreError> {
        let pattern = f.q.as_ref().map(|q| {
            let escaped = q
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        let within = if f.within.is_empty() {
            String::new()
        } else {
            format!(
                "AND location IN ({})",
                crate::core::placeholders(9, f.within.len())
            )
        };
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM orders o \
             WHERE ($1 IS NULL OR customer = $1) AND ($2 IS NULL OR status = $2) \
               AND ($3 IS NULL OR created_at >= $3) AND ($4 IS NULL OR created_at < $4) \
               AND ($5 IS NULL OR EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.order_id AND l.sku = $5)) \
               AND ($6 IS NULL OR LOWER(number) LIKE $6 ESCAPE '\\' OR LOWER(COALESCE(note, '')) LIKE $6 ESCAPE '\\') \
               AND ($7 IS NULL OR order_seq < $7) {within} \
             ORDER BY order_seq DESC LIMIT $8"
        );
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_snapshot(&self.reader).await?;
            let mut query = sqlx::query_as(&sql)
                .bind(f.customer.as_deref())
                .bind(f.status.map(OrderStatus::as_str))
                .bind(f.from.map(crate::core::micros))
                .bind(f.to.map(crate::core::micros))
                .bind(f.sku.as_ref().map(Sku::as_str))
                .bind(pattern.as_deref())
                .bind(before)
                .bind(limit);
            for location in &f.within {
                query = query.bind(location.as_str());
            }
            let rows: Vec<OrderRow> = query.fetch_all(&mut *tx).await?;
            let mut orders = Vec::with_capacity(rows.len());
            for row in rows {
                let seq = row.order_seq;
                orders.push((seq, Self::complete_order(&mut tx, row).await?));
            }
            tx.commit().await?;
            Ok(orders)
        })
        .await
    }

    /// The order's row by id or number, locked until commit when `lock`.
    pub(crate) async fn order_row(
        tx: &mut Transaction<'static, DB>,
        id_or_number: &str,
        lock: bool,
    ) -> Result<OrderRow, TxError> {
        let lock = if lock { DB::LOCK_ROWS } else { "" };
        let row: Option<OrderRow> = sqlx::query_as(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = $1 OR number = $1{lock}"
        ))
        .bind(id_or_number)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.ok_or_else(|| StoreError::not_found(format!("order {id_or_number}")))?)
    }

    pub(crate) async fn order_lines(
        tx: &mut Transaction<'static, DB>,
        order_id: &str,
    ) -> Result<Vec<OrderLine>, TxError> {
        let rows: Vec<LineRow> = sqlx::query_as(&format!(
            "SELECT {LINE_COLUMNS} FROM order_lines WHERE order_id = $1 ORDER BY line_no"
        ))
        .bind(order_id)
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows
            .into_iter()
            .map(OrderLine::try_from)
            .collect::<Result<_, _>>()?)
    }

    /// The whole order: its row with lines, shipments and timeline.
    pub(crate) async fn complete_order(
        tx: &mut Transaction<'static, DB>,
        row: OrderRow,
    ) -> Result<Order, TxError> {
        let lines = Self::order_lines(tx, &row.order_id).await?;
        let events: Vec<EventRow> = sqlx::query_as(
            "SELECT at, actor, action, from_status, to_status, detail FROM order_events WHERE order_id = $1 ORDER BY event_no",
        )
        .bind(row.order_id.as_str())
        .fetch_all(&mut **tx)
        .await?;
        let shipments: Vec<ShipmentRow> = sqlx::query_as(
            "SELECT shipment_no, carrier, tracking_number, shipped_at, lines FROM shipments WHERE order_id = $1 ORDER BY shipment_no",
        )
        .bind(row.order_id.as_str())
        .fetch_all(&mut **tx)
        .await?;
        Ok(Order {
            status: row.status()?,
            ship_to: row
                .ship_to
                .as_deref()
                .map(|s| from_json("ship_to", s))
                .transpose()?,
            timeline: events
                .into_iter()
                .map(TimelineEntry::try_from)
                .collect::<Result<_, _>>()?,
            shipments: shipments
                .into_iter()
                .map(Shipment::try_from)
                .collect::<Result<_, _>>()?,
            lines,
            id: row.order_id,
            number: row.number,
            customer: row.customer,
            location: row.location,
            version: row.version,
            credit_hold: row.credit_hold,
            currency: row.currency,
            total: row.total,
            note: row.note,
            requested_date: row.requested_date,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    /// Value of what the customer's open orders (but `except`) have not shipped yet, summed
    /// in Rust with room to spare and capped at `i64::MAX` (a SQL sum could overflow).
    pub(crate) async fn open_order_value(
        tx: &mut Transaction<'static, DB>,
        customer: &str,
        except: Option<&str>,
    ) -> Result<i64, TxError> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(&format!(
            "SELECT l.base_qty - l.shipped_qty, l.base_unit_price \
             FROM order_lines l JOIN orders o ON o.order_id = l.order_id \
             WHERE o.customer = $1 AND o.status IN {OPEN_STATUSES} AND ($2 IS NULL OR o.order_id <> $2)"
        ))
        .bind(customer)
        .bind(except)
        .fetch_all(&mut **tx)
        .await?;
        let open: i128 = rows
            .iter()
            .map(|(qty, price)| i128::from(*qty) * i128::from(*price))
            .sum();
        Ok(i64::try_from(open).unwrap_or(i64::MAX))
    }

    /// Moves stock for an order (reserve, release, ship or return `qty` base units of `sku`)
    /// and records it in the ledger. A reservation is conditional: when less is available
    /// it changes nothing and returns the shortage.
    pub(crate) async fn move_for_order(
        tx: &mut Transaction<'static, DB>,
        step: &OrderStep<'_>,
        sku: &str,
        kind: MovementKind,
        qty: i64,
    ) -> Result<Option<Shortage>, TxError> {
        match Self::move_level(tx, step, sku, kind, qty).await? {
            Err(short) => Ok(Some(short)),
            Ok(moved) => {
                Self::record_moves(tx, step, vec![moved]).await?;
                Ok(None)
            }
        }
    }

    /// Records moved levels in the ledger, one statement for all, and queues their
    /// `stock.changed` events on the step.
    pub(crate) async fn record_moves(
        tx: &mut Transaction<'static, DB>,
        step: &OrderStep<'_>,
        moved: Vec<Moved>,
    ) -> Result<(), TxError> {
        let entries: Vec<&LedgerEntry> = moved.iter().map(|m| &m.entry).collect();
        let seqs = Self::record_movements(tx, &entries).await?;
        for (m, seq) in moved.iter().zip(seqs) {
            step.push(crate::events::stock_changed(
                &m.entry,
                seq,
                m.reserved_after,
            ));
        }
        Ok(())
    }

    /// The level change of [`Core::move_for_order`], without its ledger row: the row to
    /// record, or the shortage of a refused reservation.
    async fn move_level(
        tx: &mut Transaction<'static, DB>,
        step: &OrderStep<'_>,
        sku: &str,
        kind: MovementKind,
        qty: i64,
    ) -> Result<Result<Moved, Shortage>, TxError> {
        let (set, condition, on_hand_delta, reserved_delta) = match kind {
            MovementKind::Reserve => (
                "reserved = reserved + $3",
                " AND on_hand - reserved >= $3",
                0,
                qty,
            ),
            MovementKind::Release => ("reserved = reserved - $3", "", 0, -qty),
            MovementKind::Ship => (
                "on_hand = on_hand - $3, reserved = reserved - $3",
                "",
                -qty,
                -qty,
            ),
            _ => ("on_hand = on_hand + $3", "", qty, 0),
        };
        let moved: Option<(i64, i64)> = sqlx::query_as(&format!(
            "UPDATE stock_levels SET {set}, updated_at = $4 WHERE location = $1 AND sku = $2{condition} \
             RETURNING on_hand, reserved"
        ))
        .bind(step.location)
        .bind(sku)
        .bind(qty)
        .bind(step.at)
        .fetch_optional(&mut **tx)
        .await?;
        let Some((on_hand_after, reserved_after)) = moved else {
            return Ok(Err(Self::shortage(tx, step, sku, qty).await?));
        };
        Ok(Ok(Moved::new(
            step,
            sku,
            kind,
            qty,
            (on_hand_delta, reserved_delta),
            (on_hand_after, reserved_after),
        )))
    }

    /// What a refused reservation of `qty` of `sku` found available.
    pub(crate) async fn shortage(
        tx: &mut Transaction<'static, DB>,
        step: &OrderStep<'_>,
        sku: &str,
        qty: i64,
    ) -> Result<Shortage, TxError> {
        let available: Option<(i64,)> = sqlx::query_as(
            "SELECT on_hand - reserved FROM stock_levels WHERE location = $1 AND sku = $2",
        )
        .bind(step.location)
        .bind(sku)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(Shortage {
            sku: sku.to_owned(),
            requested: qty,
            available: available.map_or(0, |(a,)| a),
        })
    }

    /// Appends a timeline entry.
    pub(crate) async fn record_event(
        tx: &mut Transaction<'static, DB>,
        step: &OrderStep<'_>,
        action: &str,
        from: Option<OrderStatus>,
        to: Option<OrderStatus>,
        detail: Option<&str>,
    ) -> Result<(), TxError> {
        sqlx::query(
            "INSERT INTO order_events (order_id, event_no, at, actor, action, from_status, to_status, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(step.order_id)
        .bind(step.event_no)
        .bind(step.at)
        .bind(step.actor)
        .bind(action)
        .bind(from.map(OrderStatus::as_str))
        .bind(to.map(OrderStatus::as_str))
        .bind(detail)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// A level an order moved, with the ledger row still to record.
pub(crate) struct Moved {
    entry: LedgerEntry,
    reserved_after: i64,
}

impl Moved {
    /// The move of `qty` of `sku` by `kind` in `step`, by its deltas and the level after it
    /// (both as on_hand, reserved).
    pub(crate) fn new(
        step: &OrderStep<'_>,
        sku: &str,
        kind: MovementKind,
        qty: i64,
        (on_hand_delta, reserved_delta): (i64, i64),
        (on_hand_after, reserved_after): (i64, i64),
    ) -> Self {
        let entry = LedgerEntry {
            // `:` never appears in a producer's id, so these cannot collide with posted movements.
            id: MovementId::from_trusted(format!("{}:e{}:{sku}", step.number, step.event_no)),
            location: LocationCode::from_trusted(step.location.to_owned()),
            sku: Sku::from_trusted(sku.to_owned()),
            kind,
            qty,
            on_hand_delta,
            reserved_delta,
            on_hand_after,
            reason: Some(format!("order {}", step.number)),
            occurred_at: step.at,
            recorded_at: step.at,
        };
        Self {
            entry,
            reserved_after,
        }
    }
}

/// One step in an order's life: which order, which timeline entry, who, when, where, and
/// the events it makes (appended to the log when the step commits).
pub(crate) struct OrderStep<'a> {
    pub order_id: &'a str,
    pub number: &'a str,
    pub location: &'a str,
    pub event_no: i64,
    pub actor: &'a str,
    pub at: DateTime<Utc>,
    pub events: std::sync::Mutex<Vec<NewEvent>>,
}

impl OrderStep<'_> {
    /// Records an event of this step.
    pub(crate) fn push(&self, event: NewEvent) {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event);
    }

    /// The step's events, in the order they happened.
    pub(crate) fn take_events(&self) -> Vec<NewEvent> {
        std::mem::take(
            &mut *self
                .events
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The event telling subscribers what became of the order.
    pub(crate) fn order_event(
        &self,
        kind: &'static str,
        customer: &str,
        data: serde_json::Value,
    ) -> NewEvent {
        NewEvent {
            id: format!("order:{}:e{}", self.order_id, self.event_no),
            kind,
            aggregate: format!("order:{}", self.order_id),
            location: Some(self.location.to_owned()),
            sku: None,
            customer: Some(customer.to_owned()),
            data,
        }
    }
}
