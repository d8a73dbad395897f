//! The data a bench run starts from, loaded through the `store` API as an operator's import
//! would: a few locations, a catalog, opening stock at every location, and an admin token.
//! Larger catalogs for the growth figures are added in bulk by `db::Scratch::grow`.

use anyhow::Context;
use domain::auth::{Grant, Role};
use domain::catalog::{LocationInput, ProductInput};
use domain::stock::{MovementInput, validate_batch};
use serde::de::DeserializeOwned;
use serde_json::json;

/// Locations every product is stocked at.
pub const LOCATIONS: usize = 10;
/// Products of the starting catalog: with [`LOCATIONS`], 1,000 stock levels.
pub const BASE_PRODUCTS: usize = 100;
/// Opening on_hand of every level.
const OPENING_STOCK: i64 = 1_000;
/// Movements per `apply_movements` call while seeding.
const SEED_BATCH: usize = 500;

/// The code of location number `i`.
pub fn location_code(i: usize) -> String {
    format!("BENCH-L{i:02}")
}

/// The SKU of product number `i`.
pub fn sku_code(i: usize) -> String {
    format!("BENCH-P{i:06}")
}

/// An input as the API would receive it: the bench builds the same JSON a client would
/// send, so it keeps working when inputs gain optional fields.
fn input<T: DeserializeOwned>(value: serde_json::Value) -> anyhow::Result<T> {
    serde_json::from_value(value).context("building a seed input")
}

/// Validation errors of seed data, which the bench generates and should never be refused.
fn refused(errors: Vec<domain::FieldError>) -> anyhow::Error {
    anyhow::anyhow!("seed data refused: {errors:?}")
}

/// Seeds the starting data into the (fresh) database at `url` and returns an admin token.
pub async fn seed(url: &str) -> anyhow::Result<String> {
    let store = store_sql::connect(url)
        .await
        .context("opening the bench database")?;
    for l in 0..LOCATIONS {
        let location: LocationInput = input(json!({
            "code": location_code(l), "name": format!("Bench store {l}"),
            "kind": "store", "time_zone": "UTC",
        }))?;
        store
            .create_location(location.validate().map_err(refused)?)
            .await
            .context("creating a location")?;
    }
    for p in 0..BASE_PRODUCTS {
        let product: ProductInput = input(json!({
            "sku": sku_code(p), "name": format!("Bench product {p}"),
            "unit": "pcs", "price": 100,
        }))?;
        store
            .create_product(product.validate().map_err(refused)?)
            .await
            .context("creating a product")?;
    }
    let now = chrono::Utc::now();
    let receipts = (0..LOCATIONS)
        .flat_map(|l| (0..BASE_PRODUCTS).map(move |p| (l, p)))
        .map(|(l, p)| {
            input::<MovementInput>(json!({
                "id": format!("seed-{l}-{p}"), "sku": sku_code(p), "location": location_code(l),
                "kind": "receipt", "qty": OPENING_STOCK,
            }))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    for batch in receipts.chunks(SEED_BATCH) {
        let batch = validate_batch(batch, now).map_err(refused)?;
        store
            .apply_movements(batch)
            .await
            .context("applying opening stock")?;
    }
    let (token, _) = server::auth::issue_token(
        store.as_ref(),
        "bench",
        Grant::role(Role::Admin),
        None,
        None,
    )
    .await
    .context("issuing the bench token")?;
    Ok(token)
}
