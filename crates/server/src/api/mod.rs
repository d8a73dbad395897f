//! The JSON API under `/api/v1`, one module per resource, each exposing `routes()`.

pub(crate) mod alerts;
pub(crate) mod audit;
pub(crate) mod counts;
pub(crate) mod customers;
pub(crate) mod devices;
pub(crate) mod edge;
pub(crate) mod events;
mod health;
pub(crate) mod locations;
pub(crate) mod orders;
pub(crate) mod pos;
pub(crate) mod products;
pub(crate) mod rfid;
pub(crate) mod scan;
pub(crate) mod sinks;
pub(crate) mod stock;
pub(crate) mod transfers;
pub(crate) mod users;
pub(crate) mod webhooks;

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
        .merge(users::routes())
        .merge(audit::routes())
        .merge(sinks::routes())
        .merge(alerts::routes())
        .merge(webhooks::routes())
        // The shop floor (docs/stores.md).
        .merge(devices::routes().merge(pos::routes()).merge(rfid::routes()))
        .merge(counts::routes().merge(transfers::routes()))
        .merge(edge::routes())
}

/// Parses a path or query parameter with a domain `parse` constructor, as a 422 naming it.
fn param<T>(
    parse: fn(&str, &str) -> Result<T, FieldError>,
    field: &str,
    value: &str,
) -> Result<T, AppError> {
    parse(field, value).map_err(|e| AppError::Validation(vec![e]))
}
