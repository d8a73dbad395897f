//! Rows as the databases return them, and their conversion into domain types. A stored
//! value that does not parse means a corrupted database and becomes `StoreError::Other`.

use chrono::{DateTime, NaiveDate, Utc};
use domain::catalog::{Location, LocationKind, Product};
use domain::customer::{Customer, CustomerStatus};
use domain::ids::{LocationCode, MovementId, Sku};
use domain::money::Currency;
use domain::order::{OrderLine, OrderStatus, Shipment, TimelineEntry};
use domain::pricing::PriceSource;
use domain::stock::{Level, Movement, MovementKind};
use domain::units::Pack;
use store::StoreError;

#[derive(sqlx::FromRow)]
pub(crate) struct LocationRow {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub time_zone: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<LocationRow> for Location {
    type Error = StoreError;

    fn try_from(r: LocationRow) -> Result<Self, StoreError> {
        Ok(Location {
            code: LocationCode::from_trusted(r.code),
            name: r.name,
            kind: LocationKind::parse("kind", &r.kind).map_err(corrupt)?,
            time_zone: r.time_zone,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ProductRow {
    pub sku: String,
    pub name: String,
    pub unit: String,
    pub price: i64,
    pub currency: String,
    pub active: bool,
    pub min_order_qty: i64,
    pub order_multiple: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Columns of `products` in the order [`ProductRow`] reads them.
pub(crate) const PRODUCT_COLUMNS: &str = "sku, name, unit, price, currency, active, min_order_qty, order_multiple, created_at, updated_at";

impl ProductRow {
    pub(crate) fn into_product(self, gtins: Vec<String>, packs: Vec<Pack>) -> Product {
        Product {
            sku: Sku::from_trusted(self.sku),
            name: self.name,
            unit: self.unit,
            price: self.price,
            currency: Currency::from_trusted(self.currency),
            gtins,
            active: self.active,
            packs,
            min_order_qty: self.min_order_qty,
            order_multiple: self.order_multiple,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LevelRow {
    pub location: String,
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub incoming: i64,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<LevelRow> for Level {
    fn from(r: LevelRow) -> Self {
        Level {
            sku: Sku::from_trusted(r.sku),
            location: LocationCode::from_trusted(r.location),
            on_hand: r.on_hand,
            reserved: r.reserved,
            available: r.on_hand - r.reserved,
            incoming: r.incoming,
            updated_at: r.updated_at,
        }
    }
}

/// Columns of `stock_movements` in the order [`MovementRow`] reads them.
pub(crate) const MOVEMENT_COLUMNS: &str = "seq, movement_id, location, sku, kind, qty, on_hand_delta, \
     reserved_delta, on_hand_after, reason, occurred_at, recorded_at";

#[derive(sqlx::FromRow)]
pub(crate) struct MovementRow {
    pub seq: i64,
    pub movement_id: String,
    pub location: String,
    pub sku: String,
    pub kind: String,
    pub qty: i64,
    pub on_hand_delta: i64,
    pub reserved_delta: i64,
    pub on_hand_after: i64,
    pub reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
}

impl TryFrom<MovementRow> for Movement {
    type Error = StoreError;

    fn try_from(r: MovementRow) -> Result<Self, StoreError> {
        Ok(Movement {
            seq: r.seq,
            id: MovementId::from_trusted(r.movement_id),
            sku: Sku::from_trusted(r.sku),
            location: LocationCode::from_trusted(r.location),
            kind: MovementKind::from_stored(&r.kind).ok_or_else(|| {
                StoreError::Other(format!("stored movement kind '{}' is unknown", r.kind))
            })?,
            qty: r.qty,
            on_hand_delta: r.on_hand_delta,
            reserved_delta: r.reserved_delta,
            on_hand_after: r.on_hand_after,
            reason: r.reason,
            occurred_at: r.occurred_at,
            recorded_at: r.recorded_at,
        })
    }
}

fn corrupt(e: domain::FieldError) -> StoreError {
    StoreError::Other(format!("stored value does not parse: {}", e.message))
}

/// A JSON column's value, or `Other` for a corrupted one.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Other(format!("stored {what} does not parse: {e}")))
}

/// A value as a JSON column.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

pub(crate) const CUSTOMER_COLUMNS: &str = "code, name, status, price_tier, credit_limit, auto_confirm, contacts, ship_to, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct CustomerRow {
    pub code: String,
    pub name: String,
    pub status: String,
    pub price_tier: Option<String>,
    pub credit_limit: Option<i64>,
    pub auto_confirm: bool,
    pub contacts: String,
    pub ship_to: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<CustomerRow> for Customer {
    type Error = StoreError;

    fn try_from(r: CustomerRow) -> Result<Self, StoreError> {
        Ok(Customer {
            status: CustomerStatus::parse("status", &r.status).map_err(corrupt)?,
            contacts: from_json("contacts", &r.contacts)?,
            ship_to: from_json("ship_to", &r.ship_to)?,
            code: r.code,
            name: r.name,
            price_tier: r.price_tier,
            credit_limit: r.credit_limit,
            auto_confirm: r.auto_confirm,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

pub(crate) const ORDER_COLUMNS: &str = "order_id, order_seq, number, customer, location, status, version, credit_hold, \
     currency, total, ship_to, note, requested_date, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(crate) struct OrderRow {
    pub order_id: String,
    pub order_seq: i64,
    pub number: String,
    pub customer: String,
    pub location: String,
    pub status: String,
    pub version: i64,
    pub credit_hold: bool,
    pub currency: String,
    pub total: i64,
    pub ship_to: Option<String>,
    pub note: Option<String>,
    pub requested_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrderRow {
    pub(crate) fn status(&self) -> Result<OrderStatus, StoreError> {
        status(&self.status)
    }
}

pub(crate) fn status(value: &str) -> Result<OrderStatus, StoreError> {
    OrderStatus::parse("status", value).map_err(corrupt)
}

pub(crate) const LINE_COLUMNS: &str = "line_no, sku, unit, unit_factor, qty, base_qty, unit_price, base_unit_price, \
     price_source, line_total, reserved_qty, shipped_qty, returned_qty";

#[derive(sqlx::FromRow)]
pub(crate) struct LineRow {
    pub line_no: i64,
    pub sku: String,
    pub unit: String,
    pub unit_factor: i64,
    pub qty: i64,
    pub base_qty: i64,
    pub unit_price: i64,
    pub base_unit_price: i64,
    pub price_source: String,
    pub line_total: i64,
    pub reserved_qty: i64,
    pub shipped_qty: i64,
    pub returned_qty: i64,
}

impl TryFrom<LineRow> for OrderLine {
    type Error = StoreError;

    fn try_from(r: LineRow) -> Result<Self, StoreError> {
        Ok(OrderLine {
            price_source: PriceSource::parse(&r.price_source).ok_or_else(|| {
                StoreError::Other(format!(
                    "stored price source '{}' is unknown",
                    r.price_source
                ))
            })?,
            line_no: r.line_no,
            sku: r.sku,
            unit: r.unit,
            unit_factor: r.unit_factor,
            qty: r.qty,
            base_qty: r.base_qty,
            unit_price: r.unit_price,
            base_unit_price: r.base_unit_price,
            line_total: r.line_total,
            reserved_qty: r.reserved_qty,
            shipped_qty: r.shipped_qty,
            returned_qty: r.returned_qty,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub detail: Option<String>,
}

impl TryFrom<EventRow> for TimelineEntry {
    type Error = StoreError;

    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        Ok(TimelineEntry {
            from: r.from_status.as_deref().map(status).transpose()?,
            to: r.to_status.as_deref().map(status).transpose()?,
            at: r.at,
            actor: r.actor,
            action: r.action,
            detail: r.detail,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ShipmentRow {
    pub shipment_no: i64,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub shipped_at: DateTime<Utc>,
    pub lines: String,
}

impl TryFrom<ShipmentRow> for Shipment {
    type Error = StoreError;

    fn try_from(r: ShipmentRow) -> Result<Self, StoreError> {
        Ok(Shipment {
            lines: from_json("shipment lines", &r.lines)?,
            shipment_no: r.shipment_no,
            carrier: r.carrier,
            tracking_number: r.tracking_number,
            shipped_at: r.shipped_at,
        })
    }
}
