//! `/edge`: an edge node's sync state (`GET /edge/status`, on the node), and the first
//! copy of a store's figures an edge node takes from HQ (`GET /edge/snapshot`, on HQ).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use domain::ids::LocationCode;
use serde::Deserialize;
use store::edge::StockSnapshot;

use super::param;
use crate::AppState;
use crate::auth::Caller;
use crate::edge::Status;
use crate::error::AppError;
use crate::extract::Query;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/edge/status", get(status))
        .route("/edge/snapshot", get(snapshot))
}

/// The node's sync state; 404 on a node that is not an edge node.
async fn status(State(state): State<AppState>, caller: Caller) -> Result<Json<Status>, AppError> {
    caller.may(domain::auth::Action::StockRead)?;
    let edge = state.store.edge_state().await?.ok_or_else(|| {
        AppError::NotFound("edge sync state (this node is not an edge node)".into())
    })?;
    Ok(Json(Status::of(edge, Utc::now())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotQuery {
    location: Option<String>,
}

/// A store's levels with the event head they reflect, read in one snapshot: an edge node
/// copies them, then follows the event stream after that head.
async fn snapshot(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SnapshotQuery>,
) -> Result<Json<StockSnapshot>, AppError> {
    caller.may(domain::auth::Action::StockRead)?;
    let location = q
        .location
        .as_deref()
        .ok_or_else(|| AppError::field("location", "required", "location is required"))?;
    let location = param(LocationCode::parse, "location", location)?;
    caller.at(domain::auth::Action::StockRead, &location)?;
    Ok(Json(state.store.edge_snapshot(&location).await?))
}
