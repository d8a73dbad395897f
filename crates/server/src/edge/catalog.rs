//! Applying HQ's catalog at the node: products and locations, created or overwritten
//! through the ordinary catalog use cases. Applying a change twice is harmless.

use domain::catalog::{LocationInput, NewProduct, Product};
use store::{Event, StoreError};

use super::{Ctx, SyncError};

/// Applies product and location changes in HQ's order.
pub(super) async fn apply(ctx: &Ctx, events: &[Event]) -> Result<(), SyncError> {
    let mut products = Vec::new();
    for e in events {
        match e.kind.as_str() {
            "product.created" | "product.updated" => {
                match serde_json::from_value::<Product>(e.data.clone()) {
                    Ok(p) => products.push(new_product(p)),
                    Err(err) => {
                        tracing::warn!(seq = e.seq, error = %err, "edge sync: skipping an unreadable product event")
                    }
                }
            }
            "location.created" => {
                // Products first: they were changed before this location in HQ's order.
                import(ctx, std::mem::take(&mut products)).await?;
                match serde_json::from_value::<LocationInput>(e.data.clone()) {
                    Ok(l) => {
                        let time_zone = l.time_zone.clone().unwrap_or_default();
                        create_location(ctx, &l.code, &l.name, &l.kind, &time_zone).await?;
                    }
                    Err(err) => {
                        tracing::warn!(seq = e.seq, error = %err, "edge sync: skipping an unreadable location event")
                    }
                }
            }
            _ => {}
        }
    }
    import(ctx, products).await
}

pub(super) async fn create_location(
    ctx: &Ctx,
    code: &str,
    name: &str,
    kind: &str,
    time_zone: &str,
) -> Result<(), SyncError> {
    let input = LocationInput {
        code: code.to_owned(),
        name: name.to_owned(),
        kind: kind.to_owned(),
        time_zone: (!time_zone.is_empty()).then(|| time_zone.to_owned()),
    };
    let location = match input.validate() {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(code, errors = ?e, "edge sync: HQ's location does not validate here; skipped");
            return Ok(());
        }
    };
    match ctx.store.create_location(location).await {
        Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Creates or overwrites products; when the batch conflicts (a GTIN held by another local
/// product), each is tried alone and the ones that still conflict are logged and skipped.
pub(super) async fn import(ctx: &Ctx, products: Vec<NewProduct>) -> Result<(), SyncError> {
    if products.is_empty() {
        return Ok(());
    }
    match ctx.store.import_products(products.clone()).await {
        Ok(_) => Ok(()),
        Err(StoreError::Conflict { .. }) if products.len() > 1 => {
            for p in products {
                let sku = p.sku.clone();
                match ctx.store.import_products(vec![p]).await {
                    Ok(_) => {}
                    Err(StoreError::Conflict { message, .. }) => {
                        tracing::error!(%sku, %message, "edge sync: HQ's product conflicts with the local catalog; skipped");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        }
        Err(StoreError::Conflict { message, .. }) => {
            tracing::error!(%message, "edge sync: HQ's product conflicts with the local catalog; skipped");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) fn new_product(p: Product) -> NewProduct {
    NewProduct {
        sku: p.sku,
        name: p.name,
        unit: p.unit,
        price: p.price,
        currency: p.currency,
        gtins: p.gtins,
        active: p.active,
        packs: p.packs,
        min_order_qty: p.min_order_qty,
        order_multiple: p.order_multiple,
    }
}
