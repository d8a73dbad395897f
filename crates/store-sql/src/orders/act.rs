//! Commands on an existing order: review, cancel, ship, deliver, return, edit. Each runs in
//! one transaction under a lock on the order row, checks the status (and the version when
//! given), applies its stock effect and appends one timeline entry.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use domain::FieldError;
use domain::order::{
    Action, Order, OrderError, OrderLine, OrderPatch, OrderStatus, QtyInput, Quantities,
};
use domain::stock::MovementKind;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::{OrderCommand, StoreError};

use super::OrderStep;
use crate::core::{Core, Dialect, TxError, micros, retry};
use crate::rows::{OrderRow, to_json};

/// What a command changes on the order row besides status and version.
struct Outcome {
    status: OrderStatus,
    credit_hold: bool,
    detail: Option<String>,
}

fn action(command: &OrderCommand) -> Action {
    match command {
        OrderCommand::Approve => Action::Approve,
        OrderCommand::Reject(_) => Action::Reject,
        OrderCommand::Cancel(_) => Action::Cancel,
        OrderCommand::Ship(_) => Action::Ship,
        OrderCommand::Deliver => Action::Deliver,
        OrderCommand::Return(_) => Action::Return,
        OrderCommand::Edit(_) => Action::Edit,
        OrderCommand::Close(_) => Action::Close,
    }
}

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
    pub(crate) async fn act_on_order(
        &self,
        id: &str,
        command: OrderCommand,
        expected_version: Option<i64>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Order, StoreError> {
        let at = micros(now);
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let row = Self::order_row(&mut tx, id, true).await?;
            if let Some(expected) = expected_version.filter(|v| *v != row.version) {
                tracing::debug!(expected, current = row.version, "stale order version");
                return Err(StoreError::Order(OrderError::VersionMismatch { current: row.version }).into());
            }
            let from = row.status()?;
            let action = action(&command);
            from.check(action).map_err(StoreError::Order)?;
            let (event_no,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(event_no), 0) + 1 FROM order_events WHERE order_id = $1")
                .bind(row.order_id.as_str())
                .fetch_one(&mut *tx)
                .await?;
                        let step = OrderStep {
                order_id: &row.order_id,
                number: &row.number,
                location: &row.location,
                event_no,
                actor,
                at,
                events: Default::default(),
            };
            let lines = Self::order_lines(&mut tx, &row.order_id).await?;
            let outcome = match &command {
                OrderCommand::Approve => Outcome { status: OrderStatus::Confirmed, credit_hold: false, detail: None },
                OrderCommand::Reject(reason) | OrderCommand::Cancel(reason) => {
                    Self::release_all(&mut tx, &step, &lines).await?;
                    let status = if action == Action::Reject { OrderStatus::Rejected } else { OrderStatus::Cancelled };
                    Outcome { status, credit_hold: row.credit_hold, detail: reason.clone() }
                }
                OrderCommand::Ship(q) => Self::ship(&mut tx, &step, &lines, q).await?,
                OrderCommand::Deliver => Outcome { status: OrderStatus::Delivered, credit_hold: row.credit_hold, detail: None },
                OrderCommand::Return(q) => Self::take_back(&mut tx, &step, &lines, q).await?,
                                OrderCommand::Edit(patch) => Self::edit(&mut tx, &step, &row, &lines, patch).await?,
                OrderCommand::Close(reason) => {
                    Self::release_all(&mut tx, &step, &lines).await?;
                    let detail = reason.clone().unwrap_or_else(|| "closed: the rest will not ship".to_owned());
                    Outcome { status: OrderStatus::Shipped, credit_hold: false, detail: Some(detail) }
                }
            };
            sqlx::query("UPDATE orders SET status = $2, version = version + 1, credit_hold = $3, updated_at = $4 WHERE order_id = $1")
                .bind(row.order_id.as_str())
                .bind(outcome.status.as_str())
                .bind(outcome.credit_hold)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            let to = (outcome.status != from).then_some(outcome.status);
            Self::record_event(&mut tx, &step, action.as_str(), Some(from), to, outcome.detail.as_deref()).await?;
                        let row = Self::order_row(&mut tx, &row.order_id, false).await?;
            let order = Self::complete_order(&mut tx, row).await?;
            let kind = if to.is_some() { "order.status_changed" } else { "order.updated" };
            let data = serde_json::json!({
                "id": order.id, "number": order.number, "customer": order.customer, "action": action.as_str(),
                "from": from, "status": order.status, "version": order.version, "total": order.total,
            });
            step.push(step.order_event(kind, &order.customer, data));
            Self::append_events(&mut tx, step.take_events(), at).await?;
            tx.commit().await?;
            Ok(order)
        })
        .await
    }

    /// Releases whatever every line still holds.
    async fn release_all(
        tx: &mut Transaction<'static, DB>,
        step: &OrderStep<'_>,
        lines: &[OrderLine],
    ) -> Result<(), TxError> {
        let mut sorted: Vec<&OrderLine> = lines.iter().filter(|l| l.reserved_qty > 0).collect();
        sorted.sort_by(|a, b| a.sku.cmp(&b.sku));
        for line in sorted {
            Self::move_for_order(
                tx,
                step,
                &line.sku,
                MovementKind::Release,
                line.reserved_qty,
            )
            .await?;
            Self::set_line_qty(tx, step.order_id, line.line_no, "reserved_qty", 0).await?;
        }
        Ok(())
    }

    /// The order lines named by a shipment or return, with the quantity for each, refusing
    /// SKUs not on the order and quantities beyond `open(line)`.
    fn match_lines<'l>(
        lines: &'l [OrderLine],
        q: &Quantities,
        open: impl Fn(&OrderLine) -> i64,
        what: &str,
    ) -> Result<Vec<(&'l OrderLine, i64)>, TxError> {
        let mut errors = Vec::new();
        let mut matched = Vec::new();
        for (i, (sku, qty)) in q.lines.iter().enumerate() {
            match lines.iter().find(|l| l.sku == sku.as_str()) {
                None => errors.push(FieldError::new(
                    format!("lines[{i}].sku"),
                    "not_on_order",
                    format!("{sku} is not on this order"),
                )),
                Some(line) if *qty > open(line) => errors.push(FieldError::new(
                    format!("lines[{i}].qty"),
                    "exceeds_open",
                    format!("only {} {} of {sku} can be {what}", open(line), line.unit),
                )),
                Some(line) => matched.push((line, *qty)),
            }
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors).into());
        }
        matched.sort_by(|a, b| a.0.sku.cmp(&b.0.sku));
        Ok(matched)
    }

    async fn ship(
        tx: &mut Transaction<'static, DB>,
        step: &OrderStep<'_>,
        lines: &[OrderLine],
        q: &Quantities,
    ) -> Result<Outcome, TxError> {
        let matched = Self::match_lines(lines, q, |l| l.base_qty - l.shipped_qty, "shipped")?;
        let mut shipped: BTreeMap<&str, i64> = lines
            .iter()
            .map(|l| (l.sku.as_str(), l.shipped_qty))
            .collect();
        for (line, qty) in &matched {
            Self::move_for_order(tx, step, &line.sku, MovementKind::Ship, *qty).await?;
            Self::set_line_qty(
                tx,
                step.order_id,
                line.line_no,
                "shipped_qty",
                line.shipped_qty + qty,
            )
            .await?;
            Self::set_line_qty(
                tx,
                step.order_id,
                line.line_no,
                "reserved_qty",
                line.reserved_qty - qty,
            )
            .await?;
            shipped.insert(line.sku.as_str(), line.shipped_qty + qty);
        }
        let (shipment_no,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(MAX(shipment_no), 0) + 1 FROM shipments WHERE order_id = $1",
        )
        .bind(step.order_id)
        .fetch_one(&mut **tx)
        .await?;
        let shipment_lines: Vec<QtyInput> = q
            .lines
            .iter()
            .map(|(sku, qty)| QtyInput {
                sku: sku.to_string(),
                qty: *qty,
            })
            .collect();
        sqlx::query("INSERT INTO shipments (order_id, shipment_no, carrier, tracking_number, shipped_at, lines) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(step.order_id)
            .bind(shipment_no)
            .bind(q.note.as_deref())
            .bind(q.tracking_number.as_deref())
            .bind(step.at)
            .bind(to_json(&shipment_lines))
            .execute(&mut **tx)
            .await?;
        let complete = lines
            .iter()
            .all(|l| shipped.get(l.sku.as_str()).copied().unwrap_or(0) >= l.base_qty);
        let status = if complete {
            OrderStatus::Shipped
        } else {
            OrderStatus::PartiallyShipped
        };
        Ok(Outcome {
            status,
            credit_hold: false,
            detail: Some(format!("shipment {shipment_no}")),
        })
    }

    async fn take_back(
        tx: &mut Transaction<'static, DB>,
        step: &OrderStep<'_>,
        lines: &[OrderLine],
        q: &Quantities,
    ) -> Result<Outcome, TxError> {
        let matched = Self::match_lines(lines, q, |l| l.shipped_qty - l.returned_qty, "returned")?;
        for (line, qty) in &matched {
            Self::move_for_order(tx, step, &line.sku, MovementKind::Return, *qty).await?;
            Self::set_line_qty(
                tx,
                step.order_id,
                line.line_no,
                "returned_qty",
                line.returned_qty + qty,
            )
            .await?;
        }
        Ok(Outcome {
            status: OrderStatus::Delivered,
            credit_hold: false,
            detail: q.note.clone(),
        })
    }

    /// Changes lines (re-pricing the changed ones and reserving or releasing the
    /// difference per SKU), address and note.
    async fn edit(
        tx: &mut Transaction<'static, DB>,
        step: &OrderStep<'_>,
        row: &OrderRow,
        lines: &[OrderLine],
        patch: &OrderPatch,
    ) -> Result<Outcome, TxError> {
        let status = row.status()?;
        let mut credit_hold = row.credit_hold;
        if let Some(new_lines) = &patch.lines {
            let customer = Self::read_customer(tx, &row.customer, true).await?;
            let priced = Self::price_lines(
                tx,
                &customer,
                new_lines,
                lines,
                Some(&row.currency),
                step.at.date_naive(),
            )
            .await?;
            let (total, _) = Self::total(&priced)?;
            if let Some(limit) = customer.credit_limit {
                let open = Self::open_order_value(tx, &customer.code, Some(&row.order_id))
                    .await?
                    .saturating_add(total);
                // An edit that does not raise the total is always allowed, even over credit.
                let over = open > limit && total > row.total;
                if over && status == OrderStatus::Confirmed {
                    return Err(
                        StoreError::Order(OrderError::CreditLimitExceeded { limit, open }).into(),
                    );
                }
                credit_hold = credit_hold || over;
            }
            let new: Vec<OrderLine> = priced.into_iter().map(|p| p.line).collect();
            Self::adjust_reservations(tx, step, lines, &new).await?;
            sqlx::query("DELETE FROM order_lines WHERE order_id = $1")
                .bind(step.order_id)
                .execute(&mut **tx)
                .await?;
            Self::insert_lines(tx, step.order_id, &new).await?;
            sqlx::query("UPDATE orders SET total = $2 WHERE order_id = $1")
                .bind(step.order_id)
                .bind(total)
                .execute(&mut **tx)
                .await?;
        }
        if let Some(ship_to) = &patch.ship_to {
            sqlx::query("UPDATE orders SET ship_to = $2 WHERE order_id = $1")
                .bind(step.order_id)
                .bind(to_json(ship_to))
                .execute(&mut **tx)
                .await?;
        }
        if let Some(note) = &patch.note {
            sqlx::query("UPDATE orders SET note = $2 WHERE order_id = $1")
                .bind(step.order_id)
                .bind(note.as_str())
                .execute(&mut **tx)
                .await?;
        }
        Ok(Outcome {
            status,
            credit_hold,
            detail: None,
        })
    }

    /// Reserves what the new lines need beyond the old reservations and releases the rest,
    /// SKU by SKU in order; refuses with every shortage, changing nothing.
    async fn adjust_reservations(
        tx: &mut Transaction<'static, DB>,
        step: &OrderStep<'_>,
        old: &[OrderLine],
        new: &[OrderLine],
    ) -> Result<(), TxError> {
        let mut delta: BTreeMap<&str, i64> = BTreeMap::new();
        for l in old {
            *delta.entry(l.sku.as_str()).or_default() -= l.reserved_qty;
        }
        for l in new {
            *delta.entry(l.sku.as_str()).or_default() += l.reserved_qty;
        }
        let mut shortages = Vec::new();
        for (sku, d) in delta {
            let kind = if d > 0 {
                MovementKind::Reserve
            } else {
                MovementKind::Release
            };
            if d != 0
                && let Some(short) = Self::move_for_order(tx, step, sku, kind, d.abs()).await?
            {
                shortages.push(short);
            }
        }
        if shortages.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Order(OrderError::InsufficientStock { shortages }).into())
        }
    }

    async fn set_line_qty(
        tx: &mut Transaction<'static, DB>,
        order_id: &str,
        line_no: i64,
        column: &str,
        value: i64,
    ) -> Result<(), TxError> {
        sqlx::query(&format!(
            "UPDATE order_lines SET {column} = $3 WHERE order_id = $1 AND line_no = $2"
        ))
        .bind(order_id)
        .bind(line_no)
        .bind(value)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
