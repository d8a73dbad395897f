//! `/locations`: the warehouses and stores stock lives in.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::catalog::{Location, LocationInput};
use domain::ids::LocationCode;

use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::{self, Query};
use crate::openapi::Routes;
use crate::page::{Page, PageQuery};
use domain::auth::Action;

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("createLocation", create)
        .op("listLocations", list)
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    extract::Json(input): extract::Json<LocationInput>,
) -> Result<(StatusCode, Json<Location>), AppError> {
    caller.may(Action::CatalogWrite)?;
    let location = state.store.create_location(input.validate()?).await?;
    Ok((StatusCode::CREATED, Json(location)))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Location>>, AppError> {
    caller.may(Action::CatalogRead)?;
    let limit = page.limit()?;
    let after = page
        .cursor(1)?
        .map(|mut key| LocationCode::from_trusted(key.remove(0)));
    let items = state
        .store
        .list_locations(after.as_ref(), limit + 1)
        .await?;
    Ok(Json(Page::from_overfetch(items, limit, |l| {
        vec![l.code.to_string()]
    })))
}
