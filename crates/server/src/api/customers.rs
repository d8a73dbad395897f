//! `/customers` and `/price-lists`: who buys, and at which prices.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use domain::customer::{Customer, CustomerInput, CustomerPatch};
use domain::ids::Sku;
use domain::pricing::{self, PriceEntry, PriceEntryInput, PriceList, PriceListInput};
use domain::validation;
use schemars::JsonSchema;
use serde::Deserialize;
use store::Quote;

use super::param;
use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::{self, Query};
use crate::openapi::Routes;
use crate::page::{Page, PageQuery};
use domain::auth::{Action, Visible};

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("createCustomer", create)
        .op("listCustomers", list)
        .op("getCustomer", show)
        .op("updateCustomer", update)
        .op("getCustomerPrices", prices)
        .op("putCustomerPriceRules", put_rules)
        .op("getCustomerPriceRules", rules)
        .op("putPriceList", put_list)
        .op("getPriceList", show_list)
}

fn code(field: &str, value: &str) -> Result<String, AppError> {
    param(|f, v| validation::code(f, v, 32), field, value)
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    extract::Json(input): extract::Json<CustomerInput>,
) -> Result<(StatusCode, Json<Customer>), AppError> {
    caller.may(Action::CustomersWrite)?;
    let customer = state
        .store
        .create_customer(input.validate(Utc::now())?)
        .await?;
    Ok((StatusCode::CREATED, Json(customer)))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Customer>>, AppError> {
    let limit = page.limit()?;
    if let Visible::Customer(own) = caller.visible(Action::CustomersRead)? {
        // A customer's user lists exactly its own customer.
        let first_page = page.cursor(1)?.is_none();
        let items = if first_page {
            vec![state.store.get_customer(own).await?]
        } else {
            Vec::new()
        };
        return Ok(Json(Page { items, next: None }));
    }
    let after = page.cursor(1)?.map(|mut key| key.remove(0));
    let items = state
        .store
        .list_customers(after.as_deref(), limit + 1)
        .await?;
    Ok(Json(Page::from_overfetch(items, limit, |c| {
        vec![c.code.clone()]
    })))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(c): Path<String>,
) -> Result<Json<Customer>, AppError> {
    let c = code("code", &c)?;
    caller.for_customer(Action::CustomersRead, &c, &format!("customer {c}"))?;
    Ok(Json(state.store.get_customer(&c).await?))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(c): Path<String>,
    extract::Json(patch): extract::Json<CustomerPatch>,
) -> Result<Json<Customer>, AppError> {
    caller.may(Action::CustomersWrite)?;
    Ok(Json(
        state
            .store
            .update_customer(&code("code", &c)?, patch, Utc::now())
            .await?,
    ))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceQuery {
    /// Only the price of this SKU (one item, no paging).
    #[schemars(with = "Option<domain::schema::Code<64>>")]
    sku: Option<String>,
    /// The quantity in base units to price (default 1).
    #[schemars(with = "Option<i64>", range(min = 1, max = 1_000_000_000))]
    qty: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[schemars(with = "Option<i64>", range(min = 1, max = 500))]
    limit: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<String>,
}

/// The prices the customer pays today: for one SKU (`?sku=`, at `?qty=` base units, 1 by
/// default) or page by page over the catalog.
async fn prices(
    State(state): State<AppState>,
    caller: Caller,
    Path(c): Path<String>,
    Query(q): Query<PriceQuery>,
) -> Result<Json<Page<Quote>>, AppError> {
    let customer = code("code", &c)?;
    caller.for_customer(
        Action::PricesRead,
        &customer,
        &format!("customer {customer}"),
    )?;
    let qty = match q.qty.as_deref() {
        None => 1,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=domain::stock::MAX_QTY).contains(n))
            .ok_or_else(|| {
                AppError::field(
                    "qty",
                    "out_of_range",
                    "qty is a whole number of base units, 1 or more",
                )
            })?,
    };
    let today = Utc::now().date_naive();
    if let Some(sku) = q.sku.as_deref() {
        let sku = param(Sku::parse, "sku", sku)?;
        return Ok(Json(Page {
            items: vec![state.store.quote(&customer, &sku, qty, today).await?],
            next: None,
        }));
    }
    state.store.get_customer(&customer).await?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let after = page
        .cursor(1)?
        .map(|mut key| Sku::from_trusted(key.remove(0)));
    let products = state.store.list_products(after.as_ref(), limit + 1).await?;
    let mut quotes = Vec::with_capacity(products.len());
    for product in &products {
        quotes.push(
            state
                .store
                .quote(&customer, &product.sku, qty, today)
                .await?,
        );
    }
    Ok(Json(Page::from_overfetch(quotes, limit, |q| {
        vec![q.sku.clone()]
    })))
}

/// Every price agreed with one customer, replacing the ones before.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CustomerPricesInput")]
pub(crate) struct Rules {
    /// The complete set of entries.
    pub(crate) entries: Vec<PriceEntryInput>,
}

/// The prices agreed with one customer.
#[derive(serde::Serialize, JsonSchema)]
#[schemars(rename = "CustomerPrices")]
pub(crate) struct Entries {
    /// The customer's code.
    customer: String,
    /// Its entries.
    entries: Vec<PriceEntry>,
}

/// Replaces every price agreed with this customer.
async fn put_rules(
    State(state): State<AppState>,
    caller: Caller,
    Path(c): Path<String>,
    extract::Json(rules): extract::Json<Rules>,
) -> Result<Json<Entries>, AppError> {
    caller.may(Action::PricesWrite)?;
    let customer = code("code", &c)?;
    let entries = state
        .store
        .put_customer_prices(&customer, pricing::validate_entries(&rules.entries)?)
        .await?;
    Ok(Json(Entries { customer, entries }))
}

async fn rules(
    State(state): State<AppState>,
    caller: Caller,
    Path(c): Path<String>,
) -> Result<Json<Entries>, AppError> {
    let customer = code("code", &c)?;
    caller.for_customer(
        Action::PricesRead,
        &customer,
        &format!("customer {customer}"),
    )?;
    let entries = state.store.customer_prices(&customer).await?;
    Ok(Json(Entries { customer, entries }))
}

/// Creates or replaces a price list with all its entries.
async fn put_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(c): Path<String>,
    extract::Json(input): extract::Json<PriceListInput>,
) -> Result<Json<PriceList>, AppError> {
    caller.may(Action::PricesWrite)?;
    Ok(Json(state.store.put_price_list(input.validate(&c)?).await?))
}

async fn show_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(c): Path<String>,
) -> Result<Json<PriceList>, AppError> {
    // A price list spans customers: only callers who see every customer may read one.
    caller.everywhere(Action::PricesRead)?;
    Ok(Json(state.store.get_price_list(&code("code", &c)?).await?))
}
