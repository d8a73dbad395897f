//! The JSON API under `/api/v1`, one module per resource, each exposing `router()`.

pub(crate) mod customers;
pub(crate) mod events;
mod health;
mod locations;
pub(crate) mod orders;
mod products;
pub(crate) mod scan;
pub(crate) mod stock;

use domain::FieldError;

use crate::error::AppError;
use crate::openapi::Routes;

/// Every route of the API, each an operation of the route table in [`crate::openapi`].
pub fn routes() -> Routes {
    Routes::new()
        .merge(health::routes())
        .merge(crate::openapi::routes())
        .merge(locations::routes())
        .merge(products::routes())
        .merge(stock::routes())
        .merge(customers::routes())
        .merge(orders::routes())
        .merge(events::routes())
        .merge(scan::routes())
}

/// Parses a path or query parameter with a domain `parse` constructor, as a 422 naming it.
fn param<T>(
    parse: fn(&str, &str) -> Result<T, FieldError>,
    field: &str,
    value: &str,
) -> Result<T, AppError> {
    parse(field, value).map_err(|e| AppError::Validation(vec![e]))
}
