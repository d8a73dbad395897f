//! Placing an order: one transaction that validates, prices, checks credit, reserves every
//! line (all or nothing) and records the order. See [`store::Store::place_order`].

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use domain::FieldError;
use domain::catalog::Product;
use domain::customer::{Customer, CustomerStatus};
use domain::order::{
    NewLine, NewOrder, Order, OrderError, OrderLine, OrderStatus, PriceChange, Shortage,
    TimelineEntry,
};
use domain::pricing::{self, PriceRule, PriceSource};
use domain::stock::MovementKind;
use sqlx::query::Query;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::{NewEvent, PlaceMeta, Placed, StoreError};

use super::{Moved, OrderStep};
use crate::alerts::Thresholds;
use crate::core::{Core, Dialect, TxError, micros, placeholders, retry};
use crate::rows::{PRODUCT_COLUMNS, ProductRow, to_json};

/// Lines per multi-row `INSERT`: 13 parameters each, far below both databases' limits.
const LINES_PER_INSERT: usize = 100;
/// Parameters of one order line in an `INSERT` (the columns of `LINE_COLUMNS`).
const LINE_PARAMS: usize = 13;
/// Parameters of one placement's order, timeline entry and key in
/// [`Core::insert_placements`], before its lines'.
const PLACEMENT_PARAMS: usize = 17;

/// An order read, checked and priced, ready to be written.
pub(crate) struct Prepared {
    pub order: NewOrder,
    pub meta: PlaceMeta,
    /// The placement's time (as stored: microseconds).
    pub at: DateTime<Utc>,
    pub customer: Customer,
    pub lines: Vec<OrderLine>,
    pub total: i64,
    pub currency: String,
    pub thresholds: Thresholds,
}

/// What the write of a prepared order decides: its number, status and credit hold.
pub(crate) struct Head {
    pub seq: i64,
    pub number: String,
    pub status: OrderStatus,
    pub credit_hold: bool,
    pub ship_to: Option<domain::customer::Address>,
}

impl Head {
    pub(crate) fn new(p: &Prepared, seq: i64, credit_hold: bool) -> Self {
        let status = if p.customer.auto_confirm && !credit_hold {
            OrderStatus::Confirmed
        } else {
            OrderStatus::PendingReview
        };
        Self {
            seq,
            number: format!("SO-{}-{seq:06}", p.at.format("%Y%m%d")),
            status,
            credit_hold,
            ship_to: p
                .order
                .ship_to
                .clone()
                .or_else(|| p.customer.ship_to.first().cloned()),
        }
    }

    fn detail(&self) -> Option<&'static str> {
        self.credit_hold.then_some("credit_hold")
    }

    /// The step of the placement, for its ledger rows and events.
    pub(crate) fn step<'a>(&'a self, p: &'a Prepared) -> OrderStep<'a> {
        OrderStep {
            order_id: &p.meta.order_id,
            number: &self.number,
            location: p.order.location.as_str(),
            event_no: 1,
            actor: &p.meta.actor,
            at: p.at,
            events: Default::default(),
        }
    }

    /// The order as stored, built from what was written rather than read back.
    pub(crate) fn placed(&self, p: &Prepared) -> Order {
        Order {
            id: p.meta.order_id.clone(),
            number: self.number.clone(),
            customer: p.customer.code.clone(),
            location: p.order.location.to_string(),
            status: self.status,
            version: 1,
            credit_hold: self.credit_hold,
            lines: p.lines.clone(),
            total: p.total,
            currency: p.currency.clone(),
            ship_to: self.ship_to.clone(),
            note: p.order.note.clone(),
            requested_date: p.order.requested_date,
            shipments: Vec::new(),
            timeline: vec![TimelineEntry {
                at: p.at,
                actor: p.meta.actor.clone(),
                action: "placed".to_owned(),
                from: None,
                to: Some(self.status),
                detail: self.detail().map(str::to_owned),
            }],
            created_at: p.at,
            updated_at: p.at,
        }
    }
}

/// What reserving an order's lines did ([`Core::reserve_order`]): the levels it moved,
/// and the lines it could not reserve, in the order's line order.
pub(crate) struct Reservation {
    pub moved: Vec<Moved>,
    pub shortages: Vec<Shortage>,
}

/// A line priced and converted, ready to store.
pub(crate) struct Priced {
    pub line: OrderLine,
    pub currency: String,
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
    pub(crate) async fn place_order(
        &self,
        order: NewOrder,
        meta: PlaceMeta,
    ) -> Result<Placed, StoreError> {
        let at = micros(meta.now);
        // Set when a group this order was part of failed: from then on it is placed alone.
        let alone = AtomicBool::new(false);
        retry::<DB, _, _, _>(|| async {
            // What is only read (the key, the customer, the location, products, prices and
            // low-stock thresholds) is read first, on a reader connection; the writes follow
            // in a group commit or, for a customer with a credit limit, alone. A price or
            // product changed in between is treated as changed just after the order (these
            // reads never locked anything). A concurrent first use of the same key makes the
            // write fail and the retry replay it.
            let mut tx = self.reader.begin().await?;
            if let Some(order) = Self::replay(&mut tx, &meta).await? {
                tx.commit().await?;
                return Ok(Placed {
                    order,
                    created: false,
                });
            }
            let customer = Self::ordering_customer(&mut tx, &order.customer).await?;
            let known = Self::existing(
                &mut tx,
                "locations",
                "code",
                &[order.location.as_str()].into(),
            )
            .await?;
            if known.is_empty() {
                let message = format!("no location {}", order.location);
                return Err(StoreError::Invalid(vec![FieldError::new(
                    "location",
                    "unknown_location",
                    message,
                )])
                .into());
            }
            let priced =
                Self::price_lines(&mut tx, &customer, &order.lines, &[], None, at.date_naive())
                    .await?;
            let (total, currency) = Self::total(&priced)?;
            let lowered = priced
                .iter()
                .map(|p| (order.location.to_string(), p.line.sku.clone()))
                .collect();
            let thresholds = Self::thresholds_ahead(&mut tx, lowered).await?;
            let prepared = Prepared {
                order: order.clone(),
                meta: meta.clone(),
                at,
                lines: priced.into_iter().map(|p| p.line).collect(),
                customer,
                total,
                currency,
                thresholds,
            };
            tx.commit().await?;
            // Without a credit check, the writes join the next group commit.
            if prepared.customer.credit_limit.is_none() && !alone.load(Ordering::Relaxed) {
                return match self.group.place(&self.writer, prepared).await {
                    Err(TxError::Again) => {
                        alone.store(true, Ordering::Relaxed);
                        Err(TxError::Again)
                    }
                    other => other,
                };
            }
            let mut tx = DB::begin_write(&self.writer).await?;
            // The credit check reads open orders: in the write transaction, with the customer
            // locked where writers run in parallel, so two orders cannot both pass it.
            let credit_hold = match prepared.customer.credit_limit {
                Some(_) => {
                    let customer =
                        Self::read_customer(&mut tx, &prepared.customer.code, true).await?;
                    let limit = customer.credit_limit.unwrap_or(i64::MAX);
                    Self::open_order_value(&mut tx, &customer.code, None)
                        .await?
                        .saturating_add(total)
                        > limit
                }
                None => false,
            };
            let seq = DB::next_order_seqs(&mut tx, 1)
                .await?
                .pop()
                .ok_or_else(|| StoreError::Other("no order number was taken".to_owned()))?;
            let head = Head::new(&prepared, seq, credit_hold);
            Self::insert_placements(&mut tx, &[(&prepared, &head)]).await?;
            let step = head.step(&prepared);
            // Reserve last: on PostgreSQL each level stays locked from its reservation to
            // the commit, so the less work follows, the more buyers of one SKU get through.
            Self::reserve_lines(&mut tx, &step, &prepared.lines).await?;
            let placed = head.placed(&prepared);
            step.push(Self::created_event(&step, &placed));
            Self::append_events_knowing(
                &mut tx,
                step.take_events(),
                at,
                Some(&prepared.thresholds),
            )
            .await?;
            tx.commit().await?;
            Ok(Placed {
                order: placed,
                created: true,
            })
        })
        .await
    }

    /// Inserts the orders, their first timeline entries, their keys and their lines, all
    /// in one statement ([`Dialect::batch`]). A key inserted meanwhile by another
    /// transaction (the same order sent twice at once) fails it with a retry.
    pub(crate) async fn insert_placements(
        tx: &mut Transaction<'static, DB>,
        placements: &[(&Prepared, &Head)],
    ) -> Result<(), TxError> {
        let mut statements = Vec::new();
        let mut first = 1;
        for (p, _) in placements {
            let n = |k: usize| format!("${}", first + k - 1);
            statements.push(format!(
                "INSERT INTO orders (order_id, order_seq, number, customer, location, status, version, credit_hold, \
                 currency, total, ship_to, note, requested_date, created_at, updated_at) \
                 VALUES ({}, {}, {}, {}, {}, {}, 1, {}, {}, {}, {}, {}, {}, {}, {})",
                n(1), n(2), n(3), n(4), n(5), n(6), n(7), n(8), n(9), n(10), n(11), n(12), n(13), n(13)
            ));
            statements.push(format!(
                "INSERT INTO order_events (order_id, event_no, at, actor, action, from_status, to_status, detail) \
                 VALUES ({}, 1, {}, {}, 'placed', NULL, {}, {})",
                n(1), n(13), n(14), n(6), n(15)
            ));
            statements.push(format!(
                "INSERT INTO idempotency_keys (idempotency_key, request_hash, order_id, created_at) \
                 VALUES ({}, {}, {}, {})",
                n(16), n(17), n(1), n(13)
            ));
            statements.extend(Self::lines_inserts(
                first,
                first + PLACEMENT_PARAMS,
                p.lines.len(),
            ));
            first += PLACEMENT_PARAMS + p.lines.len() * LINE_PARAMS;
        }
        let sql = DB::batch(&statements);
        let mut query = sqlx::query(&sql);
        for (p, head) in placements {
            query = query
                .bind(p.meta.order_id.as_str())
                .bind(head.seq)
                .bind(head.number.as_str())
                .bind(p.customer.code.as_str())
                .bind(p.order.location.as_str())
                .bind(head.status.as_str())
                .bind(head.credit_hold)
                .bind(p.currency.as_str())
                .bind(p.total)
                .bind(head.ship_to.as_ref().map(to_json))
                .bind(p.order.note.as_deref())
                .bind(p.order.requested_date)
                .bind(p.at)
                .bind(p.meta.actor.as_str())
                .bind(head.detail())
                .bind(p.meta.idempotency_key.as_str())
                .bind(p.meta.request_hash.as_str());
            for l in &p.lines {
                query = Self::bind_line(query, l);
            }
        }
        query
            .execute(&mut **tx)
            .await
            .map_err(|e| match e.as_database_error() {
                // The same key, placed by a transaction that committed after this one looked.
                Some(db) if db.is_unique_violation() => TxError::Retry(e),
                _ => TxError::Sql(e),
            })?;
        Ok(())
    }

    /// The `order.created` event of a placed order.
    pub(crate) fn created_event(step: &OrderStep<'_>, placed: &Order) -> NewEvent {
        let summary = serde_json::json!({
            "id": placed.id, "number": placed.number, "customer": placed.customer, "location": placed.location,
            "status": placed.status, "credit_hold": placed.credit_hold, "total": placed.total,
            "currency": placed.currency, "version": placed.version,
        });
        step.order_event("order.created", &placed.customer, summary)
    }

    /// The order an idempotency key already created, or `IdempotencyKeyReused` when the key
    /// came with another request.
    async fn replay(
        tx: &mut Transaction<'static, DB>,
        meta: &PlaceMeta,
    ) -> Result<Option<Order>, TxError> {
        let found: Option<(String, String)> = sqlx::query_as(
            "SELECT request_hash, order_id FROM idempotency_keys WHERE idempotency_key = $1",
        )
        .bind(meta.idempotency_key.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        match found {
            None => Ok(None),
            Some((hash, _)) if hash != meta.request_hash => {
                Err(StoreError::Order(OrderError::IdempotencyKeyReused).into())
            }
            Some((_, order_id)) => {
                let row = Self::order_row(tx, &order_id, false).await?;
                Ok(Some(Self::complete_order(tx, row).await?))
            }
        }
    }

    /// The customer of a new order: it must exist and be active. (Read, not locked: a
    /// placement with a credit check locks it again in its write.)
    pub(crate) async fn ordering_customer(
        tx: &mut Transaction<'static, DB>,
        code: &str,
    ) -> Result<Customer, TxError> {
        let customer = match Self::read_customer(tx, code, false).await {
            Err(TxError::Store(StoreError::NotFound { .. })) => {
                let error = FieldError::new(
                    "customer",
                    "unknown_customer",
                    format!("no customer {code}"),
                );
                return Err(StoreError::Invalid(vec![error]).into());
            }
            other => other?,
        };
        if customer.status == CustomerStatus::Suspended {
            return Err(StoreError::Order(OrderError::CustomerSuspended(customer.code)).into());
        }
        Ok(customer)
    }

    /// Converts and prices `lines` (`lines[i]` in errors). A line equal to one of `keep`
    /// (same SKU, quantity and unit) stays as it was — price, currency (`kept_currency`),
    /// units — even if the product's rules changed since; the others are checked against
    /// today's product and priced as of `on`.
    pub(crate) async fn price_lines(
        tx: &mut Transaction<'static, DB>,
        customer: &Customer,
        lines: &[NewLine],
        keep: &[OrderLine],
        kept_currency: Option<&str>,
        on: NaiveDate,
    ) -> Result<Vec<Priced>, TxError> {
        let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
        let products = Self::products_by_sku(tx, &skus).await?;
        let crate::customers::Rules {
            by_sku: rules,
            tier_currency,
        } = Self::rules_for(tx, customer, &skus).await?;
        let mut errors = Vec::new();
        let mut changes = Vec::new();
        let mut priced: Vec<(usize, Priced)> = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let field = |name: &str| format!("lines[{i}].{name}");
            let Some(product) = products.get(line.sku.as_str()) else {
                errors.push(FieldError::new(
                    field("sku"),
                    "unknown_sku",
                    format!("no product {}", line.sku),
                ));
                continue;
            };
            let unit_name = line.unit.as_deref().unwrap_or(&product.unit);
            let kept = keep
                .iter()
                .find(|k| k.sku == line.sku.as_str() && k.qty == line.qty && k.unit == unit_name);
            let line_priced = match kept {
                Some(k) => Priced {
                    line: OrderLine {
                        line_no: i as i64 + 1,
                        reserved_qty: k.base_qty,
                        shipped_qty: 0,
                        returned_qty: 0,
                        ..k.clone()
                    },
                    currency: kept_currency
                        .map_or_else(|| product.currency.to_string(), str::to_owned),
                },
                None => match Self::price_new_line(
                    product,
                    line,
                    rules.get(line.sku.as_str()),
                    tier_currency.as_deref(),
                    on,
                ) {
                    Ok(p) => Priced {
                        line: OrderLine {
                            line_no: i as i64 + 1,
                            ..p.line
                        },
                        currency: p.currency,
                    },
                    Err(e) => {
                        errors.push(e.within(&format!("lines[{i}]")));
                        continue;
                    }
                },
            };
            if let Some(expected) = line
                .expected_unit_price
                .filter(|e| *e != line_priced.line.unit_price)
            {
                changes.push(PriceChange {
                    sku: line.sku.to_string(),
                    unit: line_priced.line.unit.clone(),
                    expected_unit_price: expected,
                    unit_price: line_priced.line.unit_price,
                });
            }
            priced.push((i, line_priced));
        }
        let order_currency = kept_currency
            .map(str::to_owned)
            .or_else(|| priced.first().map(|(_, p)| p.currency.clone()));
        if let Some(currency) = order_currency {
            for (i, p) in priced.iter().filter(|(_, p)| p.currency != currency) {
                let message = format!(
                    "{} is priced in {}, the order in {currency}",
                    p.line.sku, p.currency
                );
                errors.push(FieldError::new(
                    format!("lines[{i}].sku"),
                    "currency_mismatch",
                    message,
                ));
            }
        }
        if !errors.is_empty() {
            return Err(StoreError::Invalid(errors).into());
        }
        if !changes.is_empty() {
            return Err(StoreError::Order(OrderError::PriceChanged { prices: changes }).into());
        }
        Ok(priced.into_iter().map(|(_, p)| p).collect())
    }

    /// Checks a new line against its product and prices it; errors name fields of the line.
    fn price_new_line(
        product: &Product,
        line: &NewLine,
        rules: Option<&Vec<PriceRule>>,
        tier_currency: Option<&str>,
        on: NaiveDate,
    ) -> Result<Priced, FieldError> {
        if !product.active {
            return Err(FieldError::new(
                "sku",
                "inactive_product",
                format!("{} cannot be ordered now", line.sku),
            ));
        }
        let (unit, factor, base_qty) = product
            .order_rules()
            .to_base(line.qty, line.unit.as_deref())?;
        let r = pricing::resolve(
            product.price,
            rules.map_or(&[][..], Vec::as_slice),
            base_qty,
            on,
        );
        let currency = match (r.source, tier_currency) {
            (PriceSource::Tier, Some(c)) => c.to_owned(),
            _ => product.currency.to_string(),
        };
        let (unit_price, line_total) = r
            .unit_price
            .checked_mul(factor)
            .zip(r.unit_price.checked_mul(base_qty))
            .ok_or_else(|| {
                FieldError::new("qty", "out_of_range", "the line's total is too large")
            })?;
        Ok(Priced {
            currency,
            line: OrderLine {
                line_no: 0,
                sku: line.sku.to_string(),
                unit,
                unit_factor: factor,
                qty: line.qty,
                base_qty,
                unit_price,
                base_unit_price: r.unit_price,
                price_source: r.source,
                line_total,
                reserved_qty: base_qty,
                shipped_qty: 0,
                returned_qty: 0,
            },
        })
    }

    /// The order total and currency, refusing a total beyond `i64`.
    pub(crate) fn total(priced: &[Priced]) -> Result<(i64, String), TxError> {
        let total = priced
            .iter()
            .try_fold(0i64, |sum, p| sum.checked_add(p.line.line_total));
        let total = total.ok_or_else(|| {
            StoreError::Invalid(vec![FieldError::new(
                "lines",
                "out_of_range",
                "the order's total is too large",
            )])
        })?;
        let currency = priced
            .first()
            .map_or_else(|| "CNY".to_owned(), |p| p.currency.clone());
        Ok((total, currency))
    }

    async fn products_by_sku(
        tx: &mut Transaction<'static, DB>,
        skus: &[&str],
    ) -> Result<HashMap<String, Product>, TxError> {
        let mut rows: Vec<ProductRow> = Vec::with_capacity(skus.len());
        for chunk in skus.chunks(500) {
            let sql = format!(
                "SELECT {PRODUCT_COLUMNS} FROM products WHERE sku IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_as::<DB, ProductRow>(&sql);
            for sku in chunk {
                query = query.bind(*sku);
            }
            rows.extend(query.fetch_all(&mut **tx).await?);
        }
        // Pricing needs the packs but not the GTINs: one query fewer per order.
        let skus: Vec<&str> = rows.iter().map(|r| r.sku.as_str()).collect();
        let mut packs = Self::packs_of(tx, &skus).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let p = packs.remove(&r.sku).unwrap_or_default();
                let product = r.into_product(Vec::new(), p);
                (product.sku.to_string(), product)
            })
            .collect())
    }

    /// Reserves every line of an order alone (not in a group): locks its levels, reserves,
    /// records the ledger rows; refuses with every shortage when any line is short.
    pub(crate) async fn reserve_lines(
        tx: &mut Transaction<'static, DB>,
        step: &OrderStep<'_>,
        lines: &[OrderLine],
    ) -> Result<(), TxError> {
        let levels = lines
            .iter()
            .map(|l| (step.location, l.sku.as_str()))
            .collect();
        Self::lock_levels(tx, &levels).await?;
        let reservation = Self::reserve_order(tx, step, lines).await?;
        if reservation.shortages.is_empty() {
            Self::record_moves(tx, step, reservation.moved).await
        } else {
            let shortages = reservation.shortages;
            Err(StoreError::Order(OrderError::InsufficientStock { shortages }).into())
        }
    }

    /// Locks stock levels in (location, SKU) order, the global lock order, where writers run
    /// in parallel (nothing to do on SQLite). [`Core::reserve_order`] needs it.
    pub(crate) async fn lock_levels(
        tx: &mut Transaction<'static, DB>,
        levels: &BTreeSet<(&str, &str)>,
    ) -> Result<(), TxError> {
        if DB::LOCK_ROWS.is_empty() || levels.is_empty() {
            return Ok(());
        }
        let pairs: Vec<String> = (0..levels.len())
            .map(|i| format!("(${}, ${})", 1 + 2 * i, 2 + 2 * i))
            .collect();
        let sql = format!(
            "SELECT location FROM stock_levels WHERE (location, sku) IN ({}) ORDER BY location, sku{}",
            pairs.join(", "),
            DB::LOCK_ROWS
        );
        let mut query = sqlx::query_as::<DB, (String,)>(&sql);
        for (location, sku) in levels {
            query = query.bind(*location).bind(*sku);
        }
        query.fetch_all(&mut **tx).await?;
        Ok(())
    }

    /// Reserves every line of an order with one conditional update (an order names each
    /// SKU once; the database checks each row's condition on its current version, as for a
    /// single update). It changes the levels it can and reports the others, so a caller
    /// that refuses the order must give back or roll back what it took. Where writers run in
    /// parallel the caller must have locked the levels first ([`Core::lock_levels`]).
    pub(crate) async fn reserve_order(
        tx: &mut Transaction<'static, DB>,
        step: &OrderStep<'_>,
        lines: &[OrderLine],
    ) -> Result<Reservation, TxError> {
        let mut sorted: Vec<&OrderLine> = lines.iter().collect();
        sorted.sort_by(|a, b| a.sku.cmp(&b.sku));
        let values: Vec<String> = (0..sorted.len())
            .map(|i| format!("(${}, ${})", 3 + 2 * i, 4 + 2 * i))
            .collect();
        let sql = format!(
            "UPDATE stock_levels SET reserved = reserved + v.column2, updated_at = $2 \
             FROM (VALUES {}) AS v \
             WHERE location = $1 AND sku = v.column1 AND on_hand - reserved >= v.column2 \
             RETURNING sku, on_hand, reserved",
            values.join(", ")
        );
        let mut query = sqlx::query_as::<DB, (String, i64, i64)>(&sql)
            .bind(step.location)
            .bind(step.at);
        for line in &sorted {
            query = query.bind(line.sku.as_str()).bind(line.base_qty);
        }
        let rows: HashMap<String, (i64, i64)> = query
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .map(|(sku, on_hand, reserved)| (sku, (on_hand, reserved)))
            .collect();
        let mut reservation = Reservation {
            moved: Vec::with_capacity(sorted.len()),
            shortages: Vec::new(),
        };
        for line in sorted {
            match rows.get(line.sku.as_str()) {
                Some(&after) => reservation.moved.push(Moved::new(
                    step,
                    &line.sku,
                    MovementKind::Reserve,
                    line.base_qty,
                    (0, line.base_qty),
                    after,
                )),
                None => reservation
                    .shortages
                    .push(Self::shortage(tx, step, &line.sku, line.base_qty).await?),
            }
        }
        // Shortages are reported in the order's own line order.
        let position = |sku: &str| lines.iter().position(|l| l.sku == sku);
        reservation.shortages.sort_by_key(|s| position(&s.sku));
        Ok(reservation)
    }

    /// Inserts `lines` with multi-row `INSERT`s (one statement for up to
    /// [`LINES_PER_INSERT`] lines).
    pub(crate) async fn insert_lines(
        tx: &mut Transaction<'static, DB>,
        order_id: &str,
        lines: &[OrderLine],
    ) -> Result<(), TxError> {
        for (chunk, sql) in
            lines
                .chunks(LINES_PER_INSERT)
                .zip(Self::lines_inserts(1, 2, lines.len()))
        {
            let mut query = sqlx::query(&sql).bind(order_id);
            for l in chunk {
                query = Self::bind_line(query, l);
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// The multi-row `INSERT`s of `n` lines, [`LINES_PER_INSERT`] per statement, with the
    /// order id at `$order_id` and the lines' [`LINE_PARAMS`] parameters each from `$first`
    /// on.
    fn lines_inserts(order_id: usize, first: usize, n: usize) -> Vec<String> {
        let mut statements = Vec::new();
        let mut at = first;
        let mut left = n;
        while left > 0 {
            let rows = left.min(LINES_PER_INSERT);
            let values: Vec<String> = (0..rows)
                .map(|i| {
                    format!(
                        "(${order_id}, {})",
                        placeholders(at + i * LINE_PARAMS, LINE_PARAMS)
                    )
                })
                .collect();
            statements.push(format!(
                "INSERT INTO order_lines (order_id, {}) VALUES {}",
                crate::rows::LINE_COLUMNS,
                values.join(", ")
            ));
            at += rows * LINE_PARAMS;
            left -= rows;
        }
        statements
    }

    /// Binds a line's [`LINE_PARAMS`] parameters, in `LINE_COLUMNS` order.
    fn bind_line<'q>(
        query: Query<'q, DB, DB::Arguments<'q>>,
        l: &'q OrderLine,
    ) -> Query<'q, DB, DB::Arguments<'q>> {
        query
            .bind(l.line_no)
            .bind(l.sku.as_str())
            .bind(l.unit.as_str())
            .bind(l.unit_factor)
            .bind(l.qty)
            .bind(l.base_qty)
            .bind(l.unit_price)
            .bind(l.base_unit_price)
            .bind(l.price_source.as_str())
            .bind(l.line_total)
            .bind(l.reserved_qty)
            .bind(l.shipped_qty)
            .bind(l.returned_qty)
    }
}
