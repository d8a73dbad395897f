//! `/products`: the catalog.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::catalog::{Product, ProductInput, ProductPatchInput};
use domain::ids::Sku;

use super::param;
use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::{self, Query};
use crate::openapi::Routes;
use crate::page::{Page, PageQuery};
use domain::auth::Action;

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("createProduct", create)
        .op("listProducts", list)
        .op("getProduct", show)
        .op("updateProduct", update)
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    extract::Json(input): extract::Json<ProductInput>,
) -> Result<(StatusCode, Json<Product>), AppError> {
    caller.may(Action::CatalogWrite)?;
    let product = state.store.create_product(input.validate()?).await?;
    Ok((StatusCode::CREATED, Json(product)))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Product>>, AppError> {
    caller.may(Action::CatalogRead)?;
    let limit = page.limit()?;
    let after = page
        .cursor(1)?
        .map(|mut key| Sku::from_trusted(key.remove(0)));
    let items = state.store.list_products(after.as_ref(), limit + 1).await?;
    Ok(Json(Page::from_overfetch(items, limit, |p| {
        vec![p.sku.to_string()]
    })))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(sku): Path<String>,
) -> Result<Json<Product>, AppError> {
    caller.may(Action::CatalogRead)?;
    let sku = param(Sku::parse, "sku", &sku)?;
    Ok(Json(state.store.get_product(&sku).await?))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(sku): Path<String>,
    extract::Json(input): extract::Json<ProductPatchInput>,
) -> Result<Json<Product>, AppError> {
    caller.may(Action::CatalogWrite)?;
    let sku = param(Sku::parse, "sku", &sku)?;
    Ok(Json(
        state.store.update_product(&sku, input.validate()?).await?,
    ))
}
