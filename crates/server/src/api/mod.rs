//! The JSON API under `/api/v1`, one module per resource, each exposing `router()`.

mod alerts;
mod audit;
mod counts;
mod customers;
mod devices;
mod edge;
mod events;
mod health;
mod locations;
mod orders;
mod pos;
mod products;
mod rfid;
mod scan;
mod sinks;
mod stock;
mod transfers;
mod users;
mod webhooks;

use axum::Router;
use domain::FieldError;

use crate::AppState;
use crate::error::AppError;

/// Every route of the API.
pub fn router() -> Router<AppState> {
    Router::new().merge(health::router()).nest(
        "/api/v1",
        Router::new()
            .merge(locations::router())
            .merge(products::router())
            .merge(stock::router())
            .merge(customers::router())
            .merge(orders::router())
            .merge(events::router())
            .merge(scan::router())
            .merge(users::router())
            .merge(audit::router())
            .merge(sinks::router())
            .merge(alerts::router())
            .merge(webhooks::router())
            // The shop floor (docs/stores.md).
            .merge(devices::router().merge(pos::router()).merge(rfid::router()))
            .merge(counts::router().merge(transfers::router()))
            .merge(edge::router()),
    )
}

/// Parses a path or query parameter with a domain `parse` constructor, as a 422 naming it.
fn param<T>(
    parse: fn(&str, &str) -> Result<T, FieldError>,
    field: &str,
    value: &str,
) -> Result<T, AppError> {
    parse(field, value).map_err(|e| AppError::Validation(vec![e]))
}
