//! `/edge`: an edge node's sync state (`GET /edge/status`, on the node), and the first
//! copy of a store's figures an edge node takes from HQ (`GET /edge/snapshot`, on HQ).

use axum::Json;
use axum::extract::State;
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
use crate::openapi::Routes;

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("getEdgeStatus", status)
        .op("getEdgeSnapshot", snapshot)
}

/// The node's sync state; 404 on a node that is not an edge node.
async fn status(State(state): State<AppState>, caller: Caller) -> Result<Json<Status>, AppError> {
    caller.may(domain::auth::Action::StockRead)?;
    let edge = state.store.edge_state().await?.ok_or_else(|| {
        AppError::NotFound("edge sync state (this node is not an edge node)".into())
    })?;
    Ok(Json(Status::of(edge, Utc::now())))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SnapshotQuery {
    /// The store (required).
    #[schemars(with = "domain::schema::Code<32>")]
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
