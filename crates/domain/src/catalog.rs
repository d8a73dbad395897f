//! The catalog and the places stock lives: products and locations, with the rules for
//! creating and changing them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::gtin;
use crate::ids::{LocationCode, Sku};
use crate::money::{self, Currency};
use crate::units::{self, OrderRules, Pack};
use crate::validation::{self, Errors, FieldError, Validated};

/// What kind of place a location is. Stores sell at a POS; warehouses fulfil orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    /// A warehouse or distribution centre.
    Warehouse,
    /// A shop with POS terminals.
    Store,
}

impl LocationKind {
    /// The kind's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            LocationKind::Warehouse => "warehouse",
            LocationKind::Store => "store",
        }
    }

    /// Parses a stored or submitted kind.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        match value {
            "warehouse" => Ok(LocationKind::Warehouse),
            "store" => Ok(LocationKind::Store),
            _ => Err(FieldError::new(
                field,
                "unknown_kind",
                "kind is 'warehouse' or 'store'",
            )),
        }
    }
}

/// Time zone given to a location when none is named: most installations are in China.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// A location as submitted.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LocationInput {
    /// See [`Location::code`].
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<32>"))]
    pub code: String,
    /// See [`Location::name`].
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Text<200>"))]
    pub name: String,
    /// `warehouse` or `store`.
    #[cfg_attr(feature = "schemars", schemars(with = "LocationKind"))]
    pub kind: String,
    /// IANA time zone name; defaults to [`DEFAULT_TIME_ZONE`].
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::TimeZone>")
    )]
    pub time_zone: Option<String>,
}

/// A validated new location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLocation {
    /// Unique code.
    pub code: LocationCode,
    /// Display name.
    pub name: String,
    /// Warehouse or store.
    pub kind: LocationKind,
    /// IANA time zone name.
    pub time_zone: String,
}

impl LocationInput {
    /// Checks every field, reporting all errors at once.
    pub fn validate(&self) -> Validated<NewLocation> {
        let mut errors = Errors::default();
        let code = errors.take(LocationCode::parse("code", &self.code));
        let name = errors.take(validation::text("name", &self.name, 200));
        let kind = errors.take(LocationKind::parse("kind", &self.kind));
        let time_zone = errors.take(time_zone(
            "time_zone",
            self.time_zone.as_deref().unwrap_or(DEFAULT_TIME_ZONE),
        ));
        errors.finish(|| {
            Some(NewLocation {
                code: code?,
                name: name?,
                kind: kind?,
                time_zone: time_zone?,
            })
        })
    }
}

/// Checks the shape of an IANA time zone name (`UTC`, `Asia/Shanghai`, `America/Argentina/Salta`).
///
/// The zone database itself is not bundled, so an unknown but well-formed name passes.
fn time_zone(field: &str, value: &str) -> Result<String, FieldError> {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
    };
    if value.len() <= 64
        && value.split('/').all(part_ok)
        && value.starts_with(|c: char| c.is_ascii_uppercase())
    {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(
            field,
            "bad_format",
            "time_zone is an IANA name such as Asia/Shanghai or UTC",
        ))
    }
}

/// A stored location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Location {
    /// Unique code, used in URLs.
    pub code: LocationCode,
    /// Display name.
    pub name: String,
    /// Warehouse or store.
    pub kind: LocationKind,
    /// IANA time zone name, for local business days.
    pub time_zone: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// A product as submitted for creation.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// See [`Product::sku`].
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<64>"))]
    pub sku: String,
    /// See [`Product::name`].
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Text<200>"))]
    pub name: String,
    /// See [`Product::unit`].
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Text<16>"))]
    pub unit: String,
    /// List price in minor units.
    #[cfg_attr(feature = "schemars", schemars(range(min = 0, max = crate::money::MAX_UNIT_PRICE)))]
    pub price: i64,
    /// ISO 4217 code; defaults to CNY.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::CurrencyCode>")
    )]
    pub currency: Option<String>,
    /// GTINs printed on the product or its packs.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<Vec<crate::schema::Gtin>>", length(max = 20))
    )]
    pub gtins: Option<Vec<String>>,
    /// Defaults to true.
    pub active: Option<bool>,
    /// Pack units it may be ordered in.
    #[cfg_attr(feature = "schemars", schemars(length(max = 10)))]
    pub packs: Option<Vec<Pack>>,
    /// Least base units per order line; 1 when absent.
    #[cfg_attr(feature = "schemars", schemars(range(min = 1, max = 1_000_000)))]
    pub min_order_qty: Option<i64>,
    /// Order lines must be a multiple of this many base units; 1 when absent.
    #[cfg_attr(feature = "schemars", schemars(range(min = 1, max = 1_000_000)))]
    pub order_multiple: Option<i64>,
}

/// A validated new product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    /// Unique SKU.
    pub sku: Sku,
    /// Display name.
    pub name: String,
    /// Base unit name, e.g. 件, pcs, kg.
    pub unit: String,
    /// List price in minor units.
    pub price: i64,
    /// Currency of the price.
    pub currency: Currency,
    /// GTINs normalised to 14 digits, unique within the product.
    pub gtins: Vec<String>,
    /// Whether it can be ordered.
    pub active: bool,
    /// Pack units.
    pub packs: Vec<Pack>,
    /// Least base units per order line.
    pub min_order_qty: i64,
    /// Base units per order line are a multiple of this.
    pub order_multiple: i64,
}

impl NewProduct {
    /// The product as it is stored, created at `now`.
    pub fn into_product(self, now: DateTime<Utc>) -> Product {
        Product {
            sku: self.sku,
            name: self.name,
            unit: self.unit,
            price: self.price,
            currency: self.currency,
            gtins: self.gtins,
            active: self.active,
            packs: self.packs,
            min_order_qty: self.min_order_qty,
            order_multiple: self.order_multiple,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Longest product name accepted.
pub const MAX_NAME: usize = 200;
/// Longest unit name accepted.
pub const MAX_UNIT: usize = 16;
/// Most GTINs one product may carry.
pub const MAX_GTINS: usize = 20;

impl ProductInput {
    /// Checks every field, reporting all errors at once.
    pub fn validate(&self) -> Validated<NewProduct> {
        let mut errors = Errors::default();
        let sku = errors.take(Sku::parse("sku", &self.sku));
        let name = errors.take(validation::text("name", &self.name, MAX_NAME));
        let unit = errors.take(validation::text("unit", &self.unit, MAX_UNIT));
        let price = errors.take(money::unit_price("price", self.price));
        let currency = errors.take(
            self.currency
                .as_deref()
                .map_or(Ok(Currency::cny()), |c| Currency::parse("currency", c)),
        );
        let gtins = errors.nested("gtins", gtins(self.gtins.as_deref().unwrap_or_default()));
        let packs = match &unit {
            Some(u) => errors.nested(
                "packs",
                units::validate_packs(u, self.packs.as_deref().unwrap_or_default()),
            ),
            None => None,
        };
        if let (Some(g), Some(p)) = (&gtins, &packs) {
            for e in packs_apart(g, p) {
                errors.push(e);
            }
        }
        let min_order_qty = errors.take(units::order_step(
            "min_order_qty",
            self.min_order_qty.unwrap_or(1),
        ));
        let order_multiple = errors.take(units::order_step(
            "order_multiple",
            self.order_multiple.unwrap_or(1),
        ));
        errors.finish(|| {
            Some(NewProduct {
                sku: sku?,
                name: name?,
                unit: unit?,
                price: price?,
                currency: currency?,
                gtins: gtins?,
                active: self.active.unwrap_or(true),
                packs: packs?,
                min_order_qty: min_order_qty?,
                order_multiple: order_multiple?,
            })
        })
    }
}

/// A pack's GTIN names the pack, so it may not also name the product's unit.
fn packs_apart(gtins: &[String], packs: &[Pack]) -> Vec<FieldError> {
    packs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.gtin.as_ref().is_some_and(|g| gtins.contains(g)))
        .map(|(i, p)| {
            FieldError::new(
                format!("packs[{i}].gtin"),
                "duplicate",
                format!(
                    "GTIN {} is also one of the product's own GTINs",
                    p.gtin.as_deref().unwrap_or_default()
                ),
            )
        })
        .collect()
}

/// Validates a list of GTINs (field paths `[i]`), normalising each and refusing repeats.
fn gtins(list: &[String]) -> Validated<Vec<String>> {
    let mut errors = Errors::default();
    if list.len() > MAX_GTINS {
        errors.push(FieldError::new(
            "",
            "too_many",
            format!("at most {MAX_GTINS} GTINs per product"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, raw) in list.iter().enumerate() {
        let field = format!("[{i}]");
        if let Some(g) = errors.take(gtin::normalize(&field, raw)) {
            if out.contains(&g) {
                errors.push(FieldError::new(
                    field,
                    "duplicate",
                    format!("GTIN {raw} is listed twice"),
                ));
            } else {
                out.push(g);
            }
        }
    }
    errors.finish(|| Some(out))
}

/// A partial update of a product; absent fields stay as they are. The SKU never changes.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProductPatchInput {
    /// New display name.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Text<200>>")
    )]
    pub name: Option<String>,
    /// New base unit name.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Text<16>>")
    )]
    pub unit: Option<String>,
    /// New list price in minor units.
    #[cfg_attr(feature = "schemars", schemars(range(min = 0, max = crate::money::MAX_UNIT_PRICE)))]
    pub price: Option<i64>,
    /// New currency.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::CurrencyCode>")
    )]
    pub currency: Option<String>,
    /// Replaces the whole GTIN list.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<Vec<crate::schema::Gtin>>", length(max = 20))
    )]
    pub gtins: Option<Vec<String>>,
    /// Activates or deactivates the product.
    pub active: Option<bool>,
    /// Replaces all pack units.
    #[cfg_attr(feature = "schemars", schemars(length(max = 10)))]
    pub packs: Option<Vec<Pack>>,
    /// New minimum order quantity.
    #[cfg_attr(feature = "schemars", schemars(range(min = 1, max = 1_000_000)))]
    pub min_order_qty: Option<i64>,
    /// New order multiple.
    #[cfg_attr(feature = "schemars", schemars(range(min = 1, max = 1_000_000)))]
    pub order_multiple: Option<i64>,
}

/// A validated product update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductPatch {
    /// New display name.
    pub name: Option<String>,
    /// New base unit name.
    pub unit: Option<String>,
    /// New list price.
    pub price: Option<i64>,
    /// New currency.
    pub currency: Option<Currency>,
    /// New GTIN list, normalised.
    pub gtins: Option<Vec<String>>,
    /// New active flag.
    pub active: Option<bool>,
    /// New pack units, not yet checked against the base unit.
    pub packs: Option<Vec<Pack>>,
    /// New minimum order quantity.
    pub min_order_qty: Option<i64>,
    /// New order multiple.
    pub order_multiple: Option<i64>,
}

impl ProductPatchInput {
    /// Checks every present field.
    pub fn validate(&self) -> Validated<ProductPatch> {
        let mut errors = Errors::default();
        let mut patch = ProductPatch {
            active: self.active,
            ..ProductPatch::default()
        };
        if let Some(name) = &self.name {
            patch.name = errors.take(validation::text("name", name, MAX_NAME));
        }
        if let Some(unit) = &self.unit {
            patch.unit = errors.take(validation::text("unit", unit, MAX_UNIT));
        }
        if let Some(price) = self.price {
            patch.price = errors.take(money::unit_price("price", price));
        }
        if let Some(currency) = &self.currency {
            patch.currency = errors.take(Currency::parse("currency", currency));
        }
        if let Some(list) = &self.gtins {
            patch.gtins = errors.nested("gtins", gtins(list));
        }
        patch.packs.clone_from(&self.packs);
        if let Some(q) = self.min_order_qty {
            patch.min_order_qty = errors.take(units::order_step("min_order_qty", q));
        }
        if let Some(q) = self.order_multiple {
            patch.order_multiple = errors.take(units::order_step("order_multiple", q));
        }
        errors.finish(|| Some(patch))
    }
}

/// A stored product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Product {
    /// Unique SKU; never changes.
    pub sku: Sku,
    /// Display name.
    pub name: String,
    /// Base unit name.
    pub unit: String,
    /// List price in minor units.
    pub price: i64,
    /// Currency of the price.
    pub currency: Currency,
    /// GTINs, 14 digits each.
    pub gtins: Vec<String>,
    /// Whether it can be ordered.
    pub active: bool,
    /// Pack units it may be ordered in.
    #[serde(default)]
    pub packs: Vec<Pack>,
    /// Least base units per order line.
    #[serde(default = "one")]
    pub min_order_qty: i64,
    /// Base units per order line are a multiple of this.
    #[serde(default = "one")]
    pub order_multiple: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

fn one() -> i64 {
    1
}

impl Product {
    /// The product after `patch`, stamped at `now`; pack units are checked against the
    /// (possibly new) base unit, so this can fail.
    pub fn patched(mut self, patch: ProductPatch, now: DateTime<Utc>) -> Validated<Self> {
        let ProductPatch {
            name,
            unit,
            price,
            currency,
            gtins,
            active,
            packs,
            min_order_qty,
            order_multiple,
        } = patch;
        self.name = name.unwrap_or(self.name);
        self.unit = unit.unwrap_or(self.unit);
        self.price = price.unwrap_or(self.price);
        self.currency = currency.unwrap_or(self.currency);
        self.gtins = gtins.unwrap_or(self.gtins);
        self.active = active.unwrap_or(self.active);
        let packs = packs.unwrap_or(self.packs);
        self.packs = units::validate_packs(&self.unit, &packs).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| e.within("packs"))
                .collect::<Vec<_>>()
        })?;
        let apart = packs_apart(&self.gtins, &self.packs);
        if !apart.is_empty() {
            return Err(apart);
        }
        self.min_order_qty = min_order_qty.unwrap_or(self.min_order_qty);
        self.order_multiple = order_multiple.unwrap_or(self.order_multiple);
        self.updated_at = now;
        Ok(self)
    }

    /// How this product may be ordered.
    pub fn order_rules(&self) -> OrderRules<'_> {
        OrderRules {
            base_unit: &self.unit,
            packs: &self.packs,
            min_order_qty: self.min_order_qty,
            order_multiple: self.order_multiple,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(json: &str) -> Validated<NewProduct> {
        serde_json::from_str::<ProductInput>(json)
            .unwrap()
            .validate()
    }

    #[test]
    fn a_minimal_product_gets_defaults() {
        let p = product(r#"{"sku":"TEA-1","name":"Green tea","unit":"件","price":1250}"#).unwrap();
        assert_eq!(p.currency.as_str(), "CNY");
        assert!(p.active);
        assert!(p.gtins.is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        let errors = product(r#"{"sku":"a b","name":"","unit":"x","price":-1,"currency":"rmb","gtins":["6901234567892","6901234567892","1"]}"#)
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            fields,
            [
                ("sku", "bad_format"),
                ("name", "required"),
                ("price", "negative"),
                ("currency", "bad_format"),
                ("gtins[1]", "duplicate"),
                ("gtins[2]", "bad_format"),
            ]
        );
    }

    #[test]
    fn locations_default_their_time_zone_and_check_kind() {
        let input: LocationInput =
            serde_json::from_str(r#"{"code":"WH-1","name":"Main","kind":"warehouse"}"#).unwrap();
        assert_eq!(input.validate().unwrap().time_zone, DEFAULT_TIME_ZONE);
        let input: LocationInput = serde_json::from_str(
            r#"{"code":"WH-1","name":"Main","kind":"shop","time_zone":"../etc"}"#,
        )
        .unwrap();
        let codes: Vec<_> = input
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(codes, ["kind", "time_zone"]);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<ProductPatchInput>(r#"{"sku":"X"}"#).is_err());
    }
}
