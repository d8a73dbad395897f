//! Locations and products: creation, updates, pages, and the all-or-nothing import.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use domain::catalog::{Location, NewLocation, NewProduct, Product, ProductPatch};
use domain::ids::{LocationCode, Sku};
use domain::units::Pack;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::{ImportSummary, StoreError};

use crate::core::{Core, Dialect, TxError, now, retry};
use crate::events::catalog_event;
use crate::rows::{LocationRow, PRODUCT_COLUMNS, ProductRow};

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
    pub(crate) async fn create_location(&self, l: NewLocation) -> Result<Location, StoreError> {
        let created_at = now();
        let result = retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            sqlx::query("INSERT INTO locations (code, name, kind, time_zone, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(l.code.as_str())
                .bind(l.name.as_str())
                .bind(l.kind.as_str())
                .bind(l.time_zone.as_str())
                                .bind(created_at)
                .execute(&mut *tx)
                .await?;
            let data = serde_json::json!({"code": l.code, "name": l.name, "kind": l.kind, "time_zone": l.time_zone});
            let event = catalog_event("location.created", format!("location:{}", l.code), data)?;
            Self::append_events(&mut tx, vec![event], created_at).await?;
            tx.commit().await?;
            Ok(())
        })
        .await;
        match result {
            Err(StoreError::Conflict { .. }) => Err(StoreError::conflict(
                "already_exists",
                format!("location {} already exists", l.code),
            )),
            other => other,
        }?;
        Ok(Location {
            code: l.code,
            name: l.name,
            kind: l.kind,
            time_zone: l.time_zone,
            created_at,
        })
    }

    pub(crate) async fn list_locations(
        &self,
        after: Option<&LocationCode>,
        limit: i64,
    ) -> Result<Vec<Location>, StoreError> {
        let rows: Vec<LocationRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(
                "SELECT code, name, kind, time_zone, created_at FROM locations \
                 WHERE $1 IS NULL OR code > $1 ORDER BY code LIMIT $2",
            )
            .bind(after.map(LocationCode::as_str))
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
        })
        .await?;
        rows.into_iter().map(Location::try_from).collect()
    }

    pub(crate) async fn create_product(&self, p: NewProduct) -> Result<Product, StoreError> {
        let product = p.into_product(now());
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            if !Self::insert_product(&mut tx, &product).await? {
                return Err(StoreError::conflict(
                    "already_exists",
                    format!("product {} already exists", product.sku),
                )
                .into());
            }
            Self::append_events(
                &mut tx,
                vec![product_event("product.created", &product)?],
                product.created_at,
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        Ok(product)
    }

    pub(crate) async fn get_product(&self, sku: &Sku) -> Result<Product, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = self.reader.begin().await?;
            let product = Self::read_product(&mut tx, sku).await?;
            tx.commit().await?;
            Ok(product)
        })
        .await
    }

    pub(crate) async fn update_product(
        &self,
        sku: &Sku,
        patch: ProductPatch,
    ) -> Result<Product, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            // Lock the row first: two concurrent patches must not overwrite each other.
            sqlx::query(&format!(
                "SELECT sku FROM products WHERE sku = $1{}",
                DB::LOCK_ROWS
            ))
            .bind(sku.as_str())
            .execute(&mut *tx)
            .await?;
            let product = Self::read_product(&mut tx, sku)
                .await?
                .patched(patch.clone(), now())
                .map_err(StoreError::Invalid)?;
            Self::overwrite_product(&mut tx, &product).await?;
            Self::append_events(
                &mut tx,
                vec![product_event("product.updated", &product)?],
                product.updated_at,
            )
            .await?;
            tx.commit().await?;
            Ok(product)
        })
        .await
    }

    pub(crate) async fn product_by_gtin(&self, gtin: &str) -> Result<Option<Product>, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = self.reader.begin().await?;
            let sku: Option<(String,)> =
                sqlx::query_as("SELECT sku FROM product_gtins WHERE gtin = $1")
                    .bind(gtin)
                    .fetch_optional(&mut *tx)
                    .await?;
            let product = match sku {
                Some((sku,)) => Some(Self::read_product(&mut tx, &Sku::from_trusted(sku)).await?),
                None => None,
            };
            tx.commit().await?;
            Ok(product)
        })
        .await
    }

    pub(crate) async fn list_products(
        &self,
        after: Option<&Sku>,
        limit: i64,
    ) -> Result<Vec<Product>, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = self.reader.begin().await?;
            let rows: Vec<ProductRow> = sqlx::query_as(&format!(
                "SELECT {PRODUCT_COLUMNS} FROM products WHERE $1 IS NULL OR sku > $1 ORDER BY sku LIMIT $2"
            ))
            .bind(after.map(Sku::as_str))
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            let products = Self::complete_products(&mut tx, rows).await?;
            tx.commit().await?;
            Ok(products)
        })
        .await
    }

    pub(crate) async fn import_products(
        &self,
        products: Vec<NewProduct>,
    ) -> Result<ImportSummary, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let mut summary = ImportSummary::default();
            let stamp = now();
            let mut events = Vec::with_capacity(products.len());
            for p in &products {
                let product = p.clone().into_product(stamp);
                if Self::overwrite_product(&mut tx, &product).await? {
                    summary.updated += 1;
                    events.push(product_event("product.updated", &product)?);
                } else {
                    Self::insert_product(&mut tx, &product).await?;
                    summary.created += 1;
                    events.push(product_event("product.created", &product)?);
                }
            }
            Self::append_events(&mut tx, events, stamp).await?;
            tx.commit().await?;
            Ok(summary)
        })
        .await
    }

    /// Inserts a product with its GTINs and packs; false (and nothing written) when its SKU
    /// exists. `Conflict` when a GTIN belongs to another product.
    pub(crate) async fn insert_product(
        tx: &mut Transaction<'static, DB>,
        p: &Product,
    ) -> Result<bool, TxError> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO products ({PRODUCT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (sku) DO NOTHING"
        ))
        .bind(p.sku.as_str())
        .bind(p.name.as_str())
        .bind(p.unit.as_str())
        .bind(p.price)
        .bind(p.currency.as_str())
        .bind(p.active)
        .bind(p.min_order_qty)
        .bind(p.order_multiple)
        .bind(p.created_at)
        .bind(p.updated_at)
        .execute(&mut **tx)
        .await?;
        if DB::rows_affected(&inserted) == 0 {
            return Ok(false);
        }
        Self::put_gtins(tx, &p.sku, &p.gtins).await?;
        Self::put_packs(tx, p).await?;
        Ok(true)
    }

    /// Overwrites an existing product (all but its creation time), its GTINs and packs;
    /// false when it does not exist.
    async fn overwrite_product(
        tx: &mut Transaction<'static, DB>,
        p: &Product,
    ) -> Result<bool, TxError> {
        let updated = sqlx::query(
            "UPDATE products SET name = $2, unit = $3, price = $4, currency = $5, active = $6, \
             min_order_qty = $7, order_multiple = $8, updated_at = $9 WHERE sku = $1",
        )
        .bind(p.sku.as_str())
        .bind(p.name.as_str())
        .bind(p.unit.as_str())
        .bind(p.price)
        .bind(p.currency.as_str())
        .bind(p.active)
        .bind(p.min_order_qty)
        .bind(p.order_multiple)
        .bind(p.updated_at)
        .execute(&mut **tx)
        .await?;
        if DB::rows_affected(&updated) == 0 {
            return Ok(false);
        }
        for table in ["product_gtins", "product_packs"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE sku = $1"))
                .bind(p.sku.as_str())
                .execute(&mut **tx)
                .await?;
        }
        Self::put_gtins(tx, &p.sku, &p.gtins).await?;
        Self::put_packs(tx, p).await?;
        Ok(true)
    }

    async fn put_packs(tx: &mut Transaction<'static, DB>, p: &Product) -> Result<(), TxError> {
        for (position, pack) in p.packs.iter().enumerate() {
            if let Some(gtin) = &pack.gtin {
                Self::gtin_free(tx, gtin).await?;
            }
            sqlx::query(
                "INSERT INTO product_packs (sku, unit, factor, position, gtin) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(p.sku.as_str())
            .bind(pack.unit.as_str())
            .bind(pack.factor)
            .bind(position as i64)
            .bind(pack.gtin.as_deref())
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Refuses a GTIN that already names a product or a pack: one GTIN, one thing to sell.
    async fn gtin_free(tx: &mut Transaction<'static, DB>, gtin: &str) -> Result<(), TxError> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM product_gtins WHERE gtin = $1) + (SELECT COUNT(*) FROM product_packs WHERE gtin = $1)",
        )
        .bind(gtin)
        .fetch_one(&mut **tx)
        .await?;
        if n > 0 {
            return Err(StoreError::conflict(
                "gtin_taken",
                format!("GTIN {gtin} belongs to another product or pack"),
            )
            .into());
        }
        Ok(())
    }

    /// Products from their rows, with GTINs and packs, in the rows' order.
    pub(crate) async fn complete_products(
        tx: &mut Transaction<'static, DB>,
        rows: Vec<ProductRow>,
    ) -> Result<Vec<Product>, TxError> {
        let skus: Vec<&str> = rows.iter().map(|r| r.sku.as_str()).collect();
        let mut gtins = Self::gtins_of(tx, &skus).await?;
        let mut packs = Self::packs_of(tx, &skus).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let (g, p) = (
                    gtins.remove(&r.sku).unwrap_or_default(),
                    packs.remove(&r.sku).unwrap_or_default(),
                );
                r.into_product(g, p)
            })
            .collect())
    }

    /// Pack units of the given products, in their listed order.
    pub(crate) async fn packs_of(
        tx: &mut Transaction<'static, DB>,
        skus: &[&str],
    ) -> Result<HashMap<String, Vec<Pack>>, TxError> {
        let mut out: HashMap<String, Vec<Pack>> = HashMap::new();
        for chunk in skus.chunks(500) {
            let sql = format!(
                "SELECT sku, unit, factor, gtin FROM product_packs WHERE sku IN ({}) ORDER BY sku, position",
                crate::core::placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_as::<DB, (String, String, i64, Option<String>)>(&sql);
            for sku in chunk {
                query = query.bind(*sku);
            }
            for (sku, unit, factor, gtin) in query.fetch_all(&mut **tx).await? {
                out.entry(sku)
                    .or_default()
                    .push(Pack { unit, factor, gtin });
            }
        }
        Ok(out)
    }

    pub(crate) async fn put_gtins(
        tx: &mut Transaction<'static, DB>,
        sku: &Sku,
        gtins: &[String],
    ) -> Result<(), TxError> {
        for (position, gtin) in gtins.iter().enumerate() {
            Self::gtin_free_of_packs(tx, gtin).await?;
            let inserted = sqlx::query("INSERT INTO product_gtins (gtin, sku, position) VALUES ($1, $2, $3) ON CONFLICT (gtin) DO NOTHING")
                .bind(gtin.as_str())
                .bind(sku.as_str())
                .bind(position as i64)
                .execute(&mut **tx)
                .await?;
            if DB::rows_affected(&inserted) == 0 {
                return Err(StoreError::conflict(
                    "gtin_taken",
                    format!("GTIN {gtin} belongs to another product"),
                )
                .into());
            }
        }
        Ok(())
    }

    /// Refuses a product GTIN that names a pack.
    async fn gtin_free_of_packs(
        tx: &mut Transaction<'static, DB>,
        gtin: &str,
    ) -> Result<(), TxError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM product_packs WHERE gtin = $1")
            .bind(gtin)
            .fetch_one(&mut **tx)
            .await?;
        if n > 0 {
            return Err(StoreError::conflict(
                "gtin_taken",
                format!("GTIN {gtin} belongs to a pack of another product"),
            )
            .into());
        }
        Ok(())
    }

    /// GTINs of the given products, in their listed order.
    pub(crate) async fn gtins_of(
        tx: &mut Transaction<'static, DB>,
        skus: &[&str],
    ) -> Result<HashMap<String, Vec<String>>, TxError> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in skus.chunks(500) {
            if chunk.is_empty() {
                continue;
            }
            let sql = format!(
                "SELECT sku, gtin FROM product_gtins WHERE sku IN ({}) ORDER BY sku, position",
                crate::core::placeholders(1, chunk.len())
            );
            let mut query = sqlx::query_as::<DB, (String, String)>(&sql);
            for sku in chunk {
                query = query.bind(*sku);
            }
            for (sku, gtin) in query.fetch_all(&mut **tx).await? {
                out.entry(sku).or_default().push(gtin);
            }
        }
        Ok(out)
    }

    pub(crate) async fn read_product(
        tx: &mut Transaction<'static, DB>,
        sku: &Sku,
    ) -> Result<Product, TxError> {
        let row: Option<ProductRow> = sqlx::query_as(&format!(
            "SELECT {PRODUCT_COLUMNS} FROM products WHERE sku = $1"
        ))
        .bind(sku.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        let row = row.ok_or_else(|| StoreError::not_found(format!("product {sku}")))?;
        Ok(Self::complete_products(tx, vec![row]).await?.remove(0))
    }
}

/// The event of a product created or changed: the whole product, for subscribers that keep
/// a copy of the catalog (edge nodes, shops).
fn product_event(kind: &'static str, product: &Product) -> Result<store::NewEvent, TxError> {
    let data = serde_json::to_value(product)
        .map_err(|e| StoreError::Other(format!("product event: {e}")))?;
    let mut event = catalog_event(kind, format!("product:{}", product.sku), data)?;
    event.sku = Some(product.sku.to_string());
    Ok(event)
}
