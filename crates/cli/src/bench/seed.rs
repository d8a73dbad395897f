//! The data a bench run starts from, loaded through the `store` API as an operator's import
//! would: a few locations, a catalog, opening stock at every location, and an admin token.
//! Larger catalogs for the growth figures are added in bulk by `db::Scratch::grow`.

use anyhow::Context;
use domain::auth::{Grant, Role};
use domain::catalog::{LocationInput, ProductInput};
use domain::customer::CustomerInput;
use domain::pricing::{PriceEntryInput, PriceListInput, validate_entries};
use domain::stock::{MovementInput, validate_batch};

use super::db::{CatalogProduct, Scratch};
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

/// The warehouse that fulfils the bench's orders (it holds only the order catalog).
pub const WAREHOUSE: &str = "BENCH-WH";
/// SKUs the orders figures order from.
pub const ORDER_SKUS: usize = 10_000;
/// Opening stock of each order SKU: far more than any run can order, so every order of
/// the orders figures can be served.
pub const ORDER_STOCK: i64 = 1_000_000;
/// The SKU every client of the hot-SKU figure orders.
pub const HOT_SKU: &str = "BENCH-HOT";
/// Its opening stock: more than any run can order, so a refused buyer is a refusal while
/// stock remained.
pub const HOT_STOCK: i64 = 100_000_000;
/// The SKU the sell-out check orders until it is gone.
pub const LAST_SKU: &str = "BENCH-LAST";
/// Its opening stock: every unit must be sold, and not one more.
pub const LAST_STOCK: i64 = 500;
/// Business customers placing the orders.
pub const CUSTOMERS: usize = 20;
/// The price list (tier) every bench customer buys from.
const TIER: &str = "BENCH-TIER";
/// Base units in the pack unit of the products that have one.
pub const PACK_FACTOR: i64 = 12;
/// Each customer's own prices.
const CUSTOMER_PRICES: usize = 50;

/// The SKU of order product number `i`.
pub fn order_sku(i: usize) -> String {
    format!("BENCH-O{i:05}")
}

/// Whether order product `i` can be ordered in packs (箱 of [`PACK_FACTOR`]).
pub fn has_pack(i: usize) -> bool {
    i.is_multiple_of(4)
}

/// The list price of order product `i`, in minor units per base unit.
pub fn list_price(i: usize) -> i64 {
    100 + (i % 97) as i64 * 10
}

/// The code of bench customer `i`.
pub fn customer_code(i: usize) -> String {
    format!("BENCH-C{i:02}")
}

/// Seeds the order catalog into the database at `url`: a warehouse, [`ORDER_SKUS`]
/// products (a quarter with a pack unit) plus the hot and sell-out SKUs with their opening
/// stock, loaded in bulk through `scratch` as the growth steps load theirs (a 10,000-row
/// import through the API would take most of a `--quick` run's budget); then, through the
/// `store` API as a sales desk would, a price list with quantity breaks on a fifth of them
/// and [`CUSTOMERS`] customers on that list, each with a few prices of its own, half of
/// them confirmed without review, and each with a `customer` token of its own, as a B2B
/// customer's portal or ERP would place orders. So placing an order runs every step:
/// token, customer, units, all three price sources, reservation and the event log.
/// Returns the tokens, by customer number.
pub async fn seed_orders(url: &str, scratch: &Scratch) -> anyhow::Result<Vec<String>> {
    let store = store_sql::connect(url)
        .await
        .context("opening the bench database")?;
    let location: LocationInput = input(json!({
        "code": WAREHOUSE, "name": "Bench warehouse", "kind": "warehouse", "time_zone": "UTC",
    }))?;
    store
        .create_location(location.validate().map_err(refused)?)
        .await
        .context("creating the bench warehouse")?;
    let product = |sku: String, price: i64, pack: bool, stock: i64| CatalogProduct {
        sku,
        price,
        pack,
        stock,
    };
    let mut products: Vec<CatalogProduct> = (0..ORDER_SKUS)
        .map(|i| product(order_sku(i), list_price(i), has_pack(i), ORDER_STOCK))
        .collect();
    products.push(product(HOT_SKU.to_owned(), 100, false, HOT_STOCK));
    products.push(product(LAST_SKU.to_owned(), 100, false, LAST_STOCK));
    scratch
        .load_catalog(&products, PACK_FACTOR, WAREHOUSE)
        .await
        .context("loading the order catalog")?;
    let now = chrono::Utc::now();
    let entries: Vec<serde_json::Value> = (0..ORDER_SKUS)
        .step_by(5)
        .flat_map(|i| {
            let price = list_price(i);
            [
                json!({ "sku": order_sku(i), "unit_price": price * 95 / 100 }),
                json!({ "sku": order_sku(i), "min_qty": 24, "unit_price": price * 90 / 100 }),
            ]
        })
        .collect();
    let list: PriceListInput = input(json!({ "name": "Bench dealers", "entries": entries }))?;
    store
        .put_price_list(list.validate(TIER).map_err(refused)?)
        .await
        .context("creating the bench price list")?;
    let mut tokens = Vec::with_capacity(CUSTOMERS);
    for c in 0..CUSTOMERS {
        let customer: CustomerInput = input(json!({
            "code": customer_code(c), "name": format!("Bench customer {c}"),
            "price_tier": TIER, "auto_confirm": c % 2 == 0,
            "ship_to": [{ "name": "Receiving", "line1": format!("{c} Bench Road"),
                          "city": "Hangzhou", "country": "CN" }],
        }))?;
        store
            .create_customer(customer.validate(now).map_err(refused)?)
            .await
            .context("creating a bench customer")?;
        let own: Vec<PriceEntryInput> = (0..CUSTOMER_PRICES)
            .map(|k| {
                let i = (c * 500 + k * 7) % ORDER_SKUS;
                input(json!({ "sku": order_sku(i), "unit_price": list_price(i) * 85 / 100 }))
            })
            .collect::<anyhow::Result<_>>()?;
        store
            .put_customer_prices(&customer_code(c), validate_entries(&own).map_err(refused)?)
            .await
            .context("setting a bench customer's prices")?;
        let grant = Grant {
            customer: Some(customer_code(c)),
            ..Grant::role(Role::Customer)
        };
        let (token, _) =
            server::auth::issue_token(store.as_ref(), "bench customer", grant, None, None)
                .await
                .context("issuing a bench customer's token")?;
        tokens.push(token);
    }
    Ok(tokens)
}
