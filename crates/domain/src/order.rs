//! B2B orders: what a customer asked for, at which price, in which state.
//!
//! The life of an order is a small state machine ([`OrderStatus::check`]):
//!
//! ```text
//! pending_review ─approve─▶ confirmed ─ship─▶ partially_shipped ─ship─▶ shipped ─deliver─▶ delivered
//!       │ reject / cancel        │ cancel          (ship again) ─close─▶ shipped              │ return
//!       ▼                        ▼
//!   rejected                 cancelled
//! ```
//!
//! Each transition has a fixed stock effect, applied by the store in the same transaction:
//! placing reserves every line, reject/cancel release what is still reserved, a shipment
//! turns reservation into an on_hand decrease, a return puts goods back on hand.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::customer::Address;
use crate::ids::{LocationCode, Sku};
use crate::pricing::PriceSource;
use crate::stock::MAX_QTY;
use crate::validation::{self, Errors, FieldError, Validated};

/// Most lines in one order.
pub const MAX_LINES: usize = 200;
/// Longest note accepted.
pub const MAX_NOTE: usize = 1000;
/// Longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Placed, waiting for the order desk (or held for credit). Stock is reserved.
    PendingReview,
    /// Accepted; waiting to ship. Stock is reserved.
    Confirmed,
    /// Some lines or quantities shipped; the rest is still reserved.
    PartiallyShipped,
    /// Everything shipped.
    Shipped,
    /// The customer received it.
    Delivered,
    /// Cancelled before the first shipment; reservations released.
    Cancelled,
    /// Refused at review; reservations released.
    Rejected,
}

/// Something done to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Accept at review.
    Approve,
    /// Refuse at review.
    Reject,
    /// Withdraw before the first shipment.
    Cancel,
    /// Send some or all of what is reserved.
    Ship,
    /// Record receipt by the customer.
    Deliver,
    /// Take goods back after delivery.
    Return,
    /// Change lines, address or note.
    Edit,
    /// Finish a partially shipped order: what is left will not ship and is released.
    Close,
}

impl Action {
    /// The action's name as shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Cancel => "cancel",
            Action::Ship => "ship",
            Action::Deliver => "deliver",
            Action::Return => "return",
            Action::Edit => "edit",
            Action::Close => "close",
        }
    }
}

impl OrderStatus {
    /// Every status.
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::PendingReview,
        OrderStatus::Confirmed,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Rejected,
    ];

    /// The status as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingReview => "pending_review",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Rejected => "rejected",
        }
    }

    /// Parses a stored or submitted status.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        Self::ALL.into_iter().find(|s| s.as_str() == value).ok_or_else(|| {
            FieldError::new(field, "unknown_status", "status is one of pending_review, confirmed, partially_shipped, shipped, delivered, cancelled, rejected")
        })
    }

    /// True while the order holds reservations and counts against credit.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            OrderStatus::PendingReview | OrderStatus::Confirmed | OrderStatus::PartiallyShipped
        )
    }

    /// Whether `action` is allowed in this status.
    pub fn check(self, action: Action) -> Result<(), OrderError> {
        use OrderStatus::*;
        let allowed = match action {
            Action::Approve | Action::Reject => self == PendingReview,
            Action::Cancel | Action::Edit => matches!(self, PendingReview | Confirmed),
            Action::Ship => matches!(self, Confirmed | PartiallyShipped),
            Action::Deliver => self == Shipped,
            Action::Return => self == Delivered,
            Action::Close => self == PartiallyShipped,
        };
        if allowed {
            Ok(())
        } else {
            Err(OrderError::InvalidTransition {
                status: self,
                action,
            })
        }
    }
}

/// Why an order operation was refused. Each carries what the client needs to act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// Some lines want more than is available; nothing was reserved.
    #[error("insufficient stock for {} line(s)", shortages.len())]
    InsufficientStock {
        /// One entry per short line.
        shortages: Vec<Shortage>,
    },
    /// A line's `expected_unit_price` differs from the current price; nothing was reserved.
    #[error("prices changed for {} line(s)", prices.len())]
    PriceChanged {
        /// Current prices of the lines whose expectation failed.
        prices: Vec<PriceChange>,
    },
    /// The action is not allowed in the order's status.
    #[error("cannot {} an order that is {}", action.as_str(), status.as_str())]
    InvalidTransition {
        /// The order's status.
        status: OrderStatus,
        /// What was attempted.
        action: Action,
    },
    /// `If-Match` named another version than the order's.
    #[error("the order is at version {current}")]
    VersionMismatch {
        /// The order's version now.
        current: i64,
    },
    /// The idempotency key was used before with a different request.
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    /// The customer is suspended and may not order.
    #[error("customer {0} is suspended")]
    CustomerSuspended(String),
    /// An edit of a confirmed order would exceed the customer's credit.
    #[error("the order would take open orders to {open} against a credit limit of {limit}")]
    CreditLimitExceeded {
        /// The limit, minor units.
        limit: i64,
        /// Open order value including this order, minor units.
        open: i64,
    },
}

/// One short line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Shortage {
    /// The product.
    pub sku: String,
    /// Base units asked for.
    pub requested: i64,
    /// Base units available at the location.
    pub available: i64,
}

/// A line whose expected price no longer holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PriceChange {
    /// The product.
    pub sku: String,
    /// The unit of the line.
    pub unit: String,
    /// What the client expected per unit.
    pub expected_unit_price: i64,
    /// The price per unit now.
    pub unit_price: i64,
}

/// One requested line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// The product.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<64>"))]
    pub sku: String,
    /// Quantity in `unit`.
    #[cfg_attr(feature = "schemars", schemars(range(min = 1, max = 1_000_000_000)))]
    pub qty: i64,
    /// The base unit when absent, or one of the product's pack units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The price per `unit` the client showed; the order is refused if it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schemars", schemars(range(min = 0, max = crate::money::MAX_UNIT_PRICE)))]
    pub expected_unit_price: Option<i64>,
}

/// An order as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    /// The customer's code.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<32>"))]
    pub customer: String,
    /// The fulfilling location; the configured default warehouse when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Code<32>>")
    )]
    pub location: Option<String>,
    /// What is ordered.
    #[cfg_attr(feature = "schemars", schemars(length(min = 1, max = 200)))]
    pub lines: Vec<LineInput>,
    /// Where to deliver; the customer's first address when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_to: Option<Address>,
    /// A note for the order desk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Text<1000>>")
    )]
    pub note: Option<String>,
    /// When the customer wants it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_date: Option<NaiveDate>,
}

/// A line whose shape is valid; the store checks it against the product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    /// The product.
    pub sku: Sku,
    /// Quantity in `unit`.
    pub qty: i64,
    /// The unit, or `None` for the base unit.
    pub unit: Option<String>,
    /// Expected price per unit.
    pub expected_unit_price: Option<i64>,
}

/// An order whose shape is valid; the store checks references, prices and stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// The customer's code.
    pub customer: String,
    /// The fulfilling location.
    pub location: LocationCode,
    /// What is ordered, in input order.
    pub lines: Vec<NewLine>,
    /// Where to deliver.
    pub ship_to: Option<Address>,
    /// A note.
    pub note: Option<String>,
    /// When the customer wants it.
    pub requested_date: Option<NaiveDate>,
}

/// Validates the lines of an order or an edit (`lines[i].field`), refusing a SKU twice.
pub fn validate_lines(lines: &[LineInput]) -> Validated<Vec<NewLine>> {
    let mut errors = Errors::default();
    if lines.is_empty() {
        errors.push(FieldError::new(
            "lines",
            "required",
            "an order has at least one line",
        ));
    }
    if lines.len() > MAX_LINES {
        errors.push(FieldError::new(
            "lines",
            "too_many",
            format!("an order has at most {MAX_LINES} lines"),
        ));
    }
    let mut out: Vec<NewLine> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let field = |name: &str| format!("lines[{i}].{name}");
        let sku = errors.take(Sku::parse(&field("sku"), &line.sku));
        if !(1..=MAX_QTY).contains(&line.qty) {
            errors.push(FieldError::new(
                field("qty"),
                "out_of_range",
                format!("qty is a whole number from 1 to {MAX_QTY}"),
            ));
        }
        let unit = line.unit.as_ref().and_then(|u| {
            errors.take(validation::text(
                &field("unit"),
                u,
                crate::catalog::MAX_UNIT,
            ))
        });
        if let Some(p) = line.expected_unit_price
            && let Err(e) = crate::money::unit_price(&field("expected_unit_price"), p)
        {
            errors.push(e);
        }
        if let Some(sku) = sku {
            if out.iter().any(|l| l.sku == sku) {
                errors.push(FieldError::new(
                    field("sku"),
                    "duplicate",
                    format!("{sku} is on another line; one line per SKU"),
                ));
            }
            out.push(NewLine {
                sku,
                qty: line.qty,
                unit,
                expected_unit_price: line.expected_unit_price,
            });
        }
    }
    errors.finish(|| Some(out))
}

impl OrderInput {
    /// Checks the shape of every field; `default_location` stands in for a missing one.
    pub fn validate(&self, default_location: Option<&LocationCode>) -> Validated<NewOrder> {
        let mut errors = Errors::default();
        let customer = errors.take(validation::code("customer", &self.customer, 32));
        let location = match (&self.location, default_location) {
            (Some(l), _) => errors.take(LocationCode::parse("location", l)),
            (None, Some(d)) => Some(d.clone()),
            (None, None) => {
                errors.push(FieldError::new(
                    "location",
                    "required",
                    "name the fulfilling location; no default warehouse is configured",
                ));
                None
            }
        };
        let lines = errors.nested("", validate_lines(&self.lines));
        let ship_to = self
            .ship_to
            .as_ref()
            .and_then(|a| errors.nested("ship_to", a.validate()));
        let note = self
            .note
            .as_ref()
            .and_then(|n| errors.take(validation::text("note", n, MAX_NOTE)));
        if let Some(d) = self.requested_date {
            errors.take(validation::business_date("requested_date", d));
        }
        errors.finish(|| {
            Some(NewOrder {
                customer: customer?,
                location: location?,
                lines: lines?,
                ship_to,
                note,
                requested_date: self.requested_date,
            })
        })
    }
}

/// Checks an `Idempotency-Key` header value.
pub fn idempotency_key(value: &str) -> Result<String, FieldError> {
    let field = "Idempotency-Key";
    if value.is_empty()
        || value.len() > MAX_IDEMPOTENCY_KEY
        || !value.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(FieldError::new(
            field,
            "bad_format",
            format!("{field} is 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        ));
    }
    Ok(value.to_owned())
}

/// A change to an open order; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderPatchInput {
    /// Replaces all lines; unchanged lines keep their price.
    #[cfg_attr(feature = "schemars", schemars(length(min = 1, max = 200)))]
    pub lines: Option<Vec<LineInput>>,
    /// New delivery address.
    pub ship_to: Option<Address>,
    /// New note.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Text<1000>>")
    )]
    pub note: Option<String>,
}

/// A validated change to an order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderPatch {
    /// New lines.
    pub lines: Option<Vec<NewLine>>,
    /// New address.
    pub ship_to: Option<Address>,
    /// New note.
    pub note: Option<String>,
}

impl OrderPatchInput {
    /// Checks every present field.
    pub fn validate(&self) -> Validated<OrderPatch> {
        let mut errors = Errors::default();
        let lines = self
            .lines
            .as_ref()
            .and_then(|l| errors.nested("", validate_lines(l)));
        let ship_to = self
            .ship_to
            .as_ref()
            .and_then(|a| errors.nested("ship_to", a.validate()));
        let note = self
            .note
            .as_ref()
            .and_then(|n| errors.take(validation::text("note", n, MAX_NOTE)));
        errors.finish(|| {
            Some(OrderPatch {
                lines,
                ship_to,
                note,
            })
        })
    }
}

/// A quantity of one SKU, in base units, to ship or return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct QtyInput {
    /// The product.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<64>"))]
    pub sku: String,
    /// Base units.
    #[cfg_attr(feature = "schemars", schemars(range(min = 1, max = 1_000_000_000)))]
    pub qty: i64,
}

/// A shipment as submitted.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ShipInput {
    /// What leaves the warehouse, in base units.
    #[cfg_attr(feature = "schemars", schemars(length(min = 1)))]
    pub lines: Vec<QtyInput>,
    /// The carrier, e.g. SF Express.
    pub carrier: Option<String>,
    /// The carrier's tracking number.
    pub tracking_number: Option<String>,
}

/// A return as submitted.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReturnInput {
    /// What comes back, in base units.
    #[cfg_attr(feature = "schemars", schemars(length(min = 1)))]
    pub lines: Vec<QtyInput>,
    /// Why it comes back.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Text<200>"))]
    pub reason: String,
}

/// Validated quantities of a shipment or return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantities {
    /// (SKU, base units), one per SKU.
    pub lines: Vec<(Sku, i64)>,
    /// Carrier, or the return reason.
    pub note: Option<String>,
    /// Tracking number of a shipment.
    pub tracking_number: Option<String>,
}

fn quantities(lines: &[QtyInput], errors: &mut Errors) -> Vec<(Sku, i64)> {
    if lines.is_empty() {
        errors.push(FieldError::new(
            "lines",
            "required",
            "name at least one line",
        ));
    }
    let mut out: Vec<(Sku, i64)> = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let sku = errors.take(Sku::parse(&format!("lines[{i}].sku"), &l.sku));
        if !(1..=MAX_QTY).contains(&l.qty) {
            errors.push(FieldError::new(
                format!("lines[{i}].qty"),
                "out_of_range",
                format!("qty is 1 to {MAX_QTY} base units"),
            ));
        }
        if let Some(sku) = sku {
            if out.iter().any(|(s, _)| *s == sku) {
                errors.push(FieldError::new(
                    format!("lines[{i}].sku"),
                    "duplicate",
                    format!("{sku} is named twice"),
                ));
            }
            out.push((sku, l.qty));
        }
    }
    out
}

impl ShipInput {
    /// Checks the shipment.
    pub fn validate(&self) -> Validated<Quantities> {
        let mut errors = Errors::default();
        let lines = quantities(&self.lines, &mut errors);
        let note = self
            .carrier
            .as_ref()
            .and_then(|c| errors.take(validation::text("carrier", c, 100)));
        let tracking_number = self
            .tracking_number
            .as_ref()
            .and_then(|t| errors.take(validation::text("tracking_number", t, 100)));
        errors.finish(|| {
            Some(Quantities {
                lines,
                note,
                tracking_number,
            })
        })
    }
}

impl ReturnInput {
    /// Checks the return.
    pub fn validate(&self) -> Validated<Quantities> {
        let mut errors = Errors::default();
        let lines = quantities(&self.lines, &mut errors);
        let note = errors.take(validation::text("reason", &self.reason, 200));
        errors.finish(|| {
            Some(Quantities {
                lines,
                note,
                tracking_number: None,
            })
        })
    }
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct OrderLine {
    /// Position, from 1.
    pub line_no: i64,
    /// The product.
    pub sku: String,
    /// The unit it was ordered in.
    pub unit: String,
    /// Base units per `unit`.
    pub unit_factor: i64,
    /// Quantity in `unit`.
    pub qty: i64,
    /// Quantity in base units.
    pub base_qty: i64,
    /// Price per `unit`, minor units (snapshotted at placement or last edit).
    pub unit_price: i64,
    /// Price per base unit, minor units.
    pub base_unit_price: i64,
    /// Where the price came from.
    pub price_source: PriceSource,
    /// `unit_price × qty`, minor units.
    pub line_total: i64,
    /// Base units reserved now.
    pub reserved_qty: i64,
    /// Base units shipped.
    pub shipped_qty: i64,
    /// Base units returned.
    pub returned_qty: i64,
}

/// One shipment of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Shipment {
    /// 1 for the first shipment of the order, and so on.
    pub shipment_no: i64,
    /// The carrier.
    pub carrier: Option<String>,
    /// The tracking number.
    pub tracking_number: Option<String>,
    /// When it left.
    pub shipped_at: DateTime<Utc>,
    /// What left, in base units.
    pub lines: Vec<QtyInput>,
}

/// One entry of an order's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct TimelineEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (the token's name).
    pub actor: String,
    /// What: `placed`, `approve`, `ship`, `edit`, …
    pub action: String,
    /// Status before, when it changed.
    pub from: Option<OrderStatus>,
    /// Status after.
    pub to: Option<OrderStatus>,
    /// Details, e.g. `credit_hold` or a return reason.
    pub detail: Option<String>,
}

/// An order as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Order {
    /// Opaque unique id, used in URLs.
    pub id: String,
    /// Human-readable number, unique and increasing: `SO-20261122-000042`.
    pub number: String,
    /// The customer's code.
    pub customer: String,
    /// The fulfilling location.
    pub location: String,
    /// Where it is in its life.
    pub status: OrderStatus,
    /// Increases with every change; send it as `If-Match` to edit.
    pub version: i64,
    /// Held for review because it exceeds the customer's credit.
    pub credit_hold: bool,
    /// The lines.
    pub lines: Vec<OrderLine>,
    /// Sum of line totals, minor units.
    pub total: i64,
    /// Currency of every price.
    pub currency: String,
    /// Where to deliver.
    pub ship_to: Option<Address>,
    /// A note.
    pub note: Option<String>,
    /// When the customer wants it.
    pub requested_date: Option<NaiveDate>,
    /// Shipments so far.
    pub shipments: Vec<Shipment>,
    /// Every change, oldest first.
    pub timeline: Vec<TimelineEntry>,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Order {
    /// The order's input again, for `reorder`: same customer, location, lines and address.
    pub fn as_input(&self) -> OrderInput {
        OrderInput {
            customer: self.customer.clone(),
            location: Some(self.location.clone()),
            lines: self
                .lines
                .iter()
                .map(|l| LineInput {
                    sku: l.sku.clone(),
                    qty: l.qty,
                    unit: Some(l.unit.clone()),
                    expected_unit_price: None,
                })
                .collect(),
            ship_to: self.ship_to.clone(),
            note: None,
            requested_date: None,
        }
    }
}

/// Filters of an order listing; all optional, combined with AND.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// Only this customer's orders.
    pub customer: Option<String>,
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Placed at or after.
    pub from: Option<DateTime<Utc>>,
    /// Placed before.
    pub to: Option<DateTime<Utc>>,
    /// Only orders with a line of this SKU.
    pub sku: Option<Sku>,
    /// Text in the number or the note.
    pub q: Option<String>,
    /// Only orders fulfilled at these locations (empty: all); how a caller bound to
    /// locations sees orders.
    pub within: Vec<LocationCode>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_state_machine_allows_exactly_the_documented_transitions() {
        use OrderStatus::*;
        let allowed: &[(Action, &[OrderStatus])] = &[
            (Action::Approve, &[PendingReview]),
            (Action::Reject, &[PendingReview]),
            (Action::Cancel, &[PendingReview, Confirmed]),
            (Action::Edit, &[PendingReview, Confirmed]),
            (Action::Ship, &[Confirmed, PartiallyShipped]),
            (Action::Deliver, &[Shipped]),
            (Action::Return, &[Delivered]),
            (Action::Close, &[PartiallyShipped]),
        ];
        for (action, statuses) in allowed {
            for status in OrderStatus::ALL {
                assert_eq!(
                    status.check(*action).is_ok(),
                    statuses.contains(&status),
                    "{action:?} from {status:?}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn only_open_orders_can_be_shipped_edited_or_cancelled(i in 0usize..7) {
            let status = OrderStatus::ALL[i];
            for action in [Action::Ship, Action::Edit, Action::Cancel] {
                if status.check(action).is_ok() {
                    prop_assert!(status.is_open());
                }
            }
        }
    }

    #[test]
    fn order_input_errors_name_each_line() {
        let input: OrderInput = serde_json::from_str(
            r#"{"customer":"C1","lines":[{"sku":"A","qty":0},{"sku":"A","qty":2,"unit":"箱"},{"sku":"b c","qty":1,"expected_unit_price":-1}]}"#,
        )
        .unwrap();
        let fields: Vec<_> = input
            .validate(None)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        assert_eq!(
            fields,
            [
                ("location".to_owned(), "required"),
                ("lines[0].qty".to_owned(), "out_of_range"),
                ("lines[1].sku".to_owned(), "duplicate"),
                ("lines[2].sku".to_owned(), "bad_format"),
                ("lines[2].expected_unit_price".to_owned(), "negative"),
            ]
        );
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert!(idempotency_key("order-2026-11-22-0001").is_ok());
        for bad in ["", "a b", "键", &"k".repeat(129)] {
            assert!(idempotency_key(bad).is_err(), "{bad}");
        }
    }
}
