//! Liveness and readiness, without authentication, for load balancers and orchestrators.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::AppError;
use crate::openapi::Routes;

pub(super) fn routes() -> Routes {
    Routes::new().op("healthz", healthz).op("readyz", readyz)
}

/// The process is up.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The process can reach its database.
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    state.store.ping().await?;
    Ok(Json(
        json!({"status": "ready", "backend": state.store.backend()}),
    ))
}
