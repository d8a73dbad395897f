//! Rows as the databases return them, and their conversion into domain types. A stored
//! value that does not parse means a corrupted database and becomes `StoreError::Other`.

use chrono::{DateTime, Utc};
use domain::auth::Role;
use domain::catalog::{Location, LocationKind, Product};
use domain::ids::{LocationCode, MovementId, Sku};
use domain::money::Currency;
use domain::stock::{Level, Movement, MovementKind};
use store::backup::TokenRecord;
use store::{StoreError, TokenInfo};

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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ProductRow {
    pub(crate) fn into_product(self, gtins: Vec<String>) -> Product {
        Product {
            sku: Sku::from_trusted(self.sku),
            name: self.name,
            unit: self.unit,
            price: self.price,
            currency: Currency::from_trusted(self.currency),
            gtins,
            active: self.active,
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
            kind: MovementKind::parse("kind", &r.kind).map_err(corrupt)?,
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

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    pub token_id: i64,
    pub name: String,
    pub role: String,
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TokenRow {
    pub(crate) fn info(&self) -> Result<TokenInfo, StoreError> {
        let role: Role = self
            .role
            .parse()
            .map_err(|e: String| StoreError::Other(format!("stored token role: {e}")))?;
        Ok(TokenInfo {
            token_id: self.token_id,
            name: self.name.clone(),
            role,
        })
    }
}

impl From<TokenRow> for TokenRecord {
    fn from(r: TokenRow) -> Self {
        TokenRecord {
            token_id: r.token_id,
            name: r.name,
            role: r.role,
            secret_hash: r.secret_hash,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

fn corrupt(e: domain::FieldError) -> StoreError {
    StoreError::Other(format!("stored value does not parse: {}", e.message))
}
