//! The shop floor in storage: devices, POS sales and returns, RFID reads, cycle counts and
//! transfers, each use case one transaction (see `docs/stores.md`).
//!
//! Stock moves go through the same ledger code as posted movements (`apply_one`), so a
//! sale, a return or a count correction is a ledger row with its `stock.changed` event
//! like any other. Ledger ids are derived from the record (`pos:S-1:2`,
//! `count:C-1:TEA`, `transfer:T-1:out:TEA`); producers' ids cannot contain `:`, so they
//! never collide with posted movements.

mod backup;
mod count_close;
mod count_read;
mod counts;
mod devices;
mod rfid;
mod sales;
mod transfer_moves;
mod transfers;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use domain::FieldError;
use domain::ids::LocationCode;
use domain::ids::Sku;
use domain::money::Currency;
use domain::pos::{ItemRef, LineProduct};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::{NewEvent, StoreError};

use crate::core::{Core, Dialect, TxError, placeholders};

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
    /// Products by the GTINs that name them: a product's own GTINs (factor 1) and its packs'
    /// GTINs (the pack's factor).
    pub(crate) async fn line_products_by_gtin(
        tx: &mut Transaction<'static, DB>,
        gtins: &BTreeSet<&str>,
    ) -> Result<HashMap<String, LineProduct>, TxError> {
        let gtins: Vec<&str> = gtins.iter().copied().collect();
        let mut found = HashMap::new();
        for chunk in gtins.chunks(500) {
            let list = placeholders(1, chunk.len());
            let sql = format!(
                "SELECT g.gtin, p.sku, p.name, p.price, p.currency, 1 FROM product_gtins g \
                 JOIN products p ON p.sku = g.sku WHERE g.gtin IN ({list}) \
                 UNION ALL \
                 SELECT k.gtin, p.sku, p.name, p.price, p.currency, k.factor FROM product_packs k \
                 JOIN products p ON p.sku = k.sku WHERE k.gtin IN ({list})"
            );
            let mut query = sqlx::query_as::<DB, (String, String, String, i64, String, i64)>(&sql);
            for gtin in chunk {
                query = query.bind(*gtin);
            }
            for (gtin, sku, name, price, currency, factor) in query.fetch_all(&mut **tx).await? {
                found.insert(gtin, product(sku, name, price, currency, factor));
            }
        }
        Ok(found)
    }

    /// Products by SKU.
    pub(crate) async fn line_products_by_sku(
        tx: &mut Transaction<'static, DB>,
        skus: &BTreeSet<&str>,
    ) -> Result<HashMap<String, LineProduct>, TxError> {
        let skus: Vec<&str> = skus.iter().copied().collect();
        let mut found = HashMap::new();
        for chunk in skus.chunks(500) {
            let sql = format!(
                "SELECT sku, name, price, currency FROM products WHERE sku IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_as::<DB, (String, String, i64, String)>(&sql);
            for sku in chunk {
                query = query.bind(*sku);
            }
            for (sku, name, price, currency) in query.fetch_all(&mut **tx).await? {
                found.insert(sku.clone(), product(sku, name, price, currency, 1));
            }
        }
        Ok(found)
    }

    /// The product each line names, in order; a line naming nothing known refuses the
    /// request, naming `lines[i].code` or `lines[i].sku`.
    pub(crate) async fn resolve_items(
        tx: &mut Transaction<'static, DB>,
        items: &[&ItemRef],
    ) -> Result<Vec<LineProduct>, TxError> {
        let mut gtins = BTreeSet::new();
        let mut skus = BTreeSet::new();
        for item in items {
            match item {
                ItemRef::Code(c) => gtins.insert(c.gtin.as_str()),
                ItemRef::Sku(s) => skus.insert(s.as_str()),
            };
        }
        let by_gtin = Self::line_products_by_gtin(tx, &gtins).await?;
        let by_sku = Self::line_products_by_sku(tx, &skus).await?;
        let mut errors = Vec::new();
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let found = match item {
                ItemRef::Code(c) => by_gtin.get(&c.gtin).ok_or_else(|| {
                    FieldError::new(
                        format!("lines[{i}].code"),
                        "unknown_code",
                        format!(
                            "no product carries GTIN {} (scanned as {:?})",
                            c.gtin, c.raw
                        ),
                    )
                }),
                ItemRef::Sku(s) => by_sku.get(s.as_str()).ok_or_else(|| {
                    FieldError::new(
                        format!("lines[{i}].sku"),
                        "unknown_sku",
                        format!("no product {s}"),
                    )
                }),
            };
            match found {
                Ok(p) => out.push(p.clone()),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(StoreError::Invalid(errors).into())
        }
    }

    /// Refuses the request, naming `field`, when the location does not exist.
    pub(crate) async fn require_location(
        tx: &mut Transaction<'static, DB>,
        field: &str,
        location: &LocationCode,
    ) -> Result<(), TxError> {
        let known = Self::existing(tx, "locations", "code", &[location.as_str()].into()).await?;
        if known.is_empty() {
            return Err(StoreError::Invalid(vec![FieldError::new(
                field,
                "unknown_location",
                format!("no location {location}"),
            )])
            .into());
        }
        Ok(())
    }

    /// Refuses the request when a SKU does not exist, naming `{prefix}[i]{suffix}`.
    pub(crate) async fn require_skus(
        tx: &mut Transaction<'static, DB>,
        skus: &[&Sku],
        field: impl Fn(usize) -> String,
    ) -> Result<(), TxError> {
        let wanted: BTreeSet<&str> = skus.iter().map(|s| s.as_str()).collect();
        let known = Self::existing(tx, "products", "sku", &wanted).await?;
        let errors: Vec<FieldError> = skus
            .iter()
            .enumerate()
            .filter(|(_, s)| !known.contains(s.as_str()))
            .map(|(i, s)| FieldError::new(field(i), "unknown_sku", format!("no product {s}")))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Invalid(errors).into())
        }
    }
}

fn product(sku: String, name: String, price: i64, currency: String, factor: i64) -> LineProduct {
    LineProduct {
        sku: Sku::from_trusted(sku),
        name,
        price,
        currency: Currency::from_trusted(currency),
        factor,
    }
}

/// An event of the shop floor about `aggregate` at `location`, with the given id.
pub(crate) fn floor_event(
    id: String,
    kind: &'static str,
    aggregate: String,
    location: &LocationCode,
    data: serde_json::Value,
) -> NewEvent {
    NewEvent {
        id,
        kind,
        aggregate,
        location: Some(location.to_string()),
        sku: None,
        customer: None,
        data,
    }
}

/// A fresh random id for an event that has no natural one.
pub(crate) fn random_id() -> Result<String, TxError> {
    store::events::new_id()
        .map_err(|e| StoreError::Other(format!("no randomness for an id: {e}")).into())
}

/// JSON of a record, or an internal error (serialising our own types cannot fail).
pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, TxError> {
    serde_json::to_value(value).map_err(|e| StoreError::Other(format!("to JSON: {e}")).into())
}
