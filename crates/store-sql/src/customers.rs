//! Customers and their prices: price lists (tiers), customer-specific prices, and the
//! resolution of the price a customer pays ([`domain::pricing::resolve`] over the rules
//! read here).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use domain::FieldError;
use domain::customer::{Customer, CustomerPatch};
use domain::ids::Sku;
use domain::money::Currency;
use domain::pricing::{self, PriceEntry, PriceList, PriceRule, PriceSource};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::{Quote, StoreError};

use crate::core::{Core, Dialect, TxError, now, placeholders, retry};
use crate::events::catalog_event;
use crate::rows::{CUSTOMER_COLUMNS, CustomerRow, to_json};

/// A price entry as stored: SKU, break, price, validity.
type EntryRow = (String, i64, i64, Option<NaiveDate>, Option<NaiveDate>);

/// A price rule as stored, with the SKU it prices.
/// A price rule as read for pricing: SKU, min_qty, unit price, validity, and the currency
/// of its price list (`None` for a customer's own price).
pub(crate) type RuleRow = (
    String,
    i64,
    i64,
    Option<NaiveDate>,
    Option<NaiveDate>,
    Option<String>,
);

/// The price rules that apply to a customer for some SKUs.
pub(crate) struct Rules {
    /// Customer-specific and tier rules, grouped by SKU.
    pub by_sku: HashMap<String, Vec<PriceRule>>,
    /// The currency of the customer's tier, known whenever a tier rule was found (a price
    /// from the tier can only come from one).
    pub tier_currency: Option<String>,
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
    pub(crate) async fn create_customer(&self, c: Customer) -> Result<Customer, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            Self::check_tier(&mut tx, c.price_tier.as_deref()).await?;
            let inserted = sqlx::query(&format!(
                "INSERT INTO customers ({CUSTOMER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (code) DO NOTHING"
            ))
            .bind(c.code.as_str())
            .bind(c.name.as_str())
            .bind(c.status.as_str())
            .bind(c.price_tier.as_deref())
            .bind(c.credit_limit)
            .bind(c.auto_confirm)
            .bind(to_json(&c.contacts))
            .bind(to_json(&c.ship_to))
            .bind(crate::core::micros(c.created_at))
            .bind(crate::core::micros(c.updated_at))
            .execute(&mut *tx)
            .await?;
            if DB::rows_affected(&inserted) == 0 {
                return Err(StoreError::conflict("already_exists", format!("customer {} already exists", c.code)).into());
            }
                        let customer = Self::read_customer(&mut tx, &c.code, false).await?;
            Self::append_events(&mut tx, vec![customer_event("customer.created", &customer)?], customer.created_at).await?;
            tx.commit().await?;
            Ok(customer)
        })
        .await
    }

    pub(crate) async fn get_customer(&self, code: &str) -> Result<Customer, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = self.reader.begin().await?;
            let customer = Self::read_customer(&mut tx, code, false).await?;
            tx.commit().await?;
            Ok(customer)
        })
        .await
    }

    pub(crate) async fn update_customer(
        &self,
        code: &str,
        patch: CustomerPatch,
        at: DateTime<Utc>,
    ) -> Result<Customer, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let current = Self::read_customer(&mut tx, code, true).await?;
            let c = patch.apply(current, crate::core::micros(at)).map_err(StoreError::Invalid)?;
            Self::check_tier(&mut tx, c.price_tier.as_deref()).await?;
            sqlx::query(
                "UPDATE customers SET name = $2, status = $3, price_tier = $4, credit_limit = $5, auto_confirm = $6, \
                 contacts = $7, ship_to = $8, updated_at = $9 WHERE code = $1",
            )
            .bind(code)
            .bind(c.name.as_str())
            .bind(c.status.as_str())
            .bind(c.price_tier.as_deref())
            .bind(c.credit_limit)
            .bind(c.auto_confirm)
            .bind(to_json(&c.contacts))
            .bind(to_json(&c.ship_to))
                        .bind(c.updated_at)
            .execute(&mut *tx)
            .await?;
            Self::append_events(&mut tx, vec![customer_event("customer.updated", &c)?], c.updated_at).await?;
            tx.commit().await?;
            Ok(c)
        })
        .await
    }

    pub(crate) async fn list_customers(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Customer>, StoreError> {
        let rows: Vec<CustomerRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE $1 IS NULL OR code > $1 ORDER BY code LIMIT $2"
            ))
            .bind(after)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
        })
        .await?;
        rows.into_iter().map(Customer::try_from).collect()
    }

    /// The customer, locked until commit when `lock` (an order checks its credit under it).
    pub(crate) async fn read_customer(
        tx: &mut Transaction<'static, DB>,
        code: &str,
        lock: bool,
    ) -> Result<Customer, TxError> {
        let lock = if lock { DB::LOCK_ROWS } else { "" };
        let row: Option<CustomerRow> = sqlx::query_as(&format!(
            "SELECT {CUSTOMER_COLUMNS} FROM customers WHERE code = $1{lock}"
        ))
        .bind(code)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(Customer::try_from(row.ok_or_else(|| {
            StoreError::not_found(format!("customer {code}"))
        })?)?)
    }

    async fn check_tier(
        tx: &mut Transaction<'static, DB>,
        tier: Option<&str>,
    ) -> Result<(), TxError> {
        let Some(tier) = tier else { return Ok(()) };
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM price_lists WHERE code = $1")
            .bind(tier)
            .fetch_one(&mut **tx)
            .await?;
        if n == 0 {
            return Err(StoreError::Invalid(vec![FieldError::new(
                "price_tier",
                "unknown_price_list",
                format!("no price list {tier}"),
            )])
            .into());
        }
        Ok(())
    }

    pub(crate) async fn put_price_list(&self, list: PriceList) -> Result<PriceList, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            sqlx::query(
                "INSERT INTO price_lists (code, name, currency, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (code) DO UPDATE SET name = $2, currency = $3, updated_at = $4",
            )
            .bind(list.code.as_str())
            .bind(list.name.as_str())
            .bind(list.currency.as_str())
            .bind(now())
            .execute(&mut *tx)
            .await?;
                        Self::replace_rules(&mut tx, "price_list", &list.code, &list.entries).await?;
            let data = serde_json::json!({"code": list.code, "name": list.name, "currency": list.currency, "entries": list.entries.len()});
            let event = catalog_event("price_list.updated", format!("price_list:{}", list.code), data)?;
            Self::append_events(&mut tx, vec![event], now()).await?;
            tx.commit().await?;
            Ok(list.clone())
        })
        .await
    }

    pub(crate) async fn get_price_list(&self, code: &str) -> Result<PriceList, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = self.reader.begin().await?;
            let list = Self::read_price_list(&mut tx, code).await?;
            tx.commit().await?;
            Ok(list)
        })
        .await
    }

    pub(crate) async fn read_price_list(
        tx: &mut Transaction<'static, DB>,
        code: &str,
    ) -> Result<PriceList, TxError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT name, currency FROM price_lists WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut **tx)
                .await?;
        let (name, currency) =
            row.ok_or_else(|| StoreError::not_found(format!("price list {code}")))?;
        let entries = Self::read_entries(tx, "price_list", code).await?;
        Ok(PriceList {
            code: code.to_owned(),
            name,
            currency: Currency::from_trusted(currency),
            entries,
        })
    }

    pub(crate) async fn put_customer_prices(
        &self,
        customer: &str,
        entries: Vec<PriceEntry>,
    ) -> Result<Vec<PriceEntry>, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            Self::read_customer(&mut tx, customer, true).await?;
            Self::replace_rules(&mut tx, "customer", customer, &entries).await?;
            let data = serde_json::json!({"customer": customer, "entries": entries.len()});
            let mut event = catalog_event(
                "customer_prices.updated",
                format!("customer:{customer}"),
                data,
            )?;
            event.customer = Some(customer.to_owned());
            Self::append_events(&mut tx, vec![event], now()).await?;
            tx.commit().await?;
            Ok(entries.clone())
        })
        .await
    }

    pub(crate) async fn customer_prices(
        &self,
        customer: &str,
    ) -> Result<Vec<PriceEntry>, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = self.reader.begin().await?;
            Self::read_customer(&mut tx, customer, false).await?;
            let entries = Self::read_entries(&mut tx, "customer", customer).await?;
            tx.commit().await?;
            Ok(entries)
        })
        .await
    }

    /// Replaces the rules owned by `owner_column = owner`, refusing unknown SKUs by field.
    pub(crate) async fn replace_rules(
        tx: &mut Transaction<'static, DB>,
        owner_column: &str,
        owner: &str,
        entries: &[PriceEntry],
    ) -> Result<(), TxError> {
        let skus: std::collections::BTreeSet<&str> =
            entries.iter().map(|e| e.sku.as_str()).collect();
        let known = Self::existing(tx, "products", "sku", &skus).await?;
        let unknown: Vec<FieldError> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| !known.contains(e.sku.as_str()))
            .map(|(i, e)| {
                FieldError::new(
                    format!("entries[{i}].sku"),
                    "unknown_sku",
                    format!("no product {}", e.sku),
                )
            })
            .collect();
        if !unknown.is_empty() {
            return Err(StoreError::Invalid(unknown).into());
        }
        sqlx::query(&format!(
            "DELETE FROM price_rules WHERE {owner_column} = $1"
        ))
        .bind(owner)
        .execute(&mut **tx)
        .await?;
        for e in entries {
            sqlx::query(&format!(
                "INSERT INTO price_rules ({owner_column}, sku, min_qty, unit_price, valid_from, valid_to) VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .bind(owner)
            .bind(e.sku.as_str())
            .bind(e.min_qty)
            .bind(e.unit_price)
            .bind(e.valid_from)
            .bind(e.valid_to)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn read_entries(
        tx: &mut Transaction<'static, DB>,
        owner_column: &str,
        owner: &str,
    ) -> Result<Vec<PriceEntry>, TxError> {
        let rows: Vec<EntryRow> = sqlx::query_as(&format!(
            "SELECT sku, min_qty, unit_price, valid_from, valid_to FROM price_rules WHERE {owner_column} = $1 \
             ORDER BY sku, min_qty, valid_from"
        ))
        .bind(owner)
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(sku, min_qty, unit_price, valid_from, valid_to)| PriceEntry {
                    sku: Sku::from_trusted(sku),
                    min_qty,
                    unit_price,
                    valid_from,
                    valid_to,
                },
            )
            .collect())
    }

    /// The customer-specific and tier rules of `customer` for `skus`, with the tier's
    /// currency, in one statement.
    pub(crate) async fn rules_for(
        tx: &mut Transaction<'static, DB>,
        customer: &Customer,
        skus: &[&str],
    ) -> Result<Rules, TxError> {
        let mut out: HashMap<String, Vec<PriceRule>> = HashMap::new();
        let mut tier_currency = None;
        for chunk in skus.chunks(500) {
            let sql = format!(
                "SELECT r.sku, r.min_qty, r.unit_price, r.valid_from, r.valid_to, l.currency \
                 FROM price_rules r LEFT JOIN price_lists l ON l.code = r.price_list \
                 WHERE (r.customer = $1 OR r.price_list = $2) AND r.sku IN ({})",
                placeholders(3, chunk.len())
            );
            let mut query = sqlx::query_as::<DB, RuleRow>(&sql)
                .bind(customer.code.as_str())
                .bind(customer.price_tier.as_deref());
            for sku in chunk {
                query = query.bind(*sku);
            }
            for (sku, min_qty, unit_price, valid_from, valid_to, list_currency) in
                query.fetch_all(&mut **tx).await?
            {
                let source = match list_currency {
                    None => PriceSource::Customer,
                    Some(currency) => {
                        tier_currency = Some(currency);
                        PriceSource::Tier
                    }
                };
                out.entry(sku).or_default().push(PriceRule {
                    source,
                    min_qty,
                    unit_price,
                    valid_from,
                    valid_to,
                });
            }
        }
        Ok(Rules {
            by_sku: out,
            tier_currency,
        })
    }

    pub(crate) async fn quote(
        &self,
        customer: &str,
        sku: &Sku,
        qty: i64,
        on: NaiveDate,
    ) -> Result<Quote, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = self.reader.begin().await?;
            let customer = Self::read_customer(&mut tx, customer, false).await?;
            let product = Self::read_product(&mut tx, sku).await?;
            let Rules {
                mut by_sku,
                tier_currency,
            } = Self::rules_for(&mut tx, &customer, &[sku.as_str()]).await?;
            let rules = by_sku.remove(sku.as_str()).unwrap_or_default();
            let resolved = pricing::resolve(product.price, &rules, qty, on);
            let currency = match (resolved.source, tier_currency) {
                (PriceSource::Tier, Some(c)) => c,
                _ => product.currency.to_string(),
            };
            tx.commit().await?;
            Ok(Quote {
                sku: sku.to_string(),
                qty,
                unit_price: resolved.unit_price,
                currency,
                source: resolved.source,
                min_qty: resolved.min_qty,
                unit: product.unit,
            })
        })
        .await
    }
}

/// The event of a customer created or changed.
fn customer_event(kind: &'static str, customer: &Customer) -> Result<store::NewEvent, TxError> {
    let data = serde_json::to_value(customer)
        .map_err(|e| StoreError::Other(format!("customer event: {e}")))?;
    let mut event = catalog_event(kind, format!("customer:{}", customer.code), data)?;
    event.customer = Some(customer.code.clone());
    Ok(event)
}
