//! `GET /sinks`: where each broker relay stands — cursor, lag, lease holder, last error —
//! read from the database, so any node answers for every sink.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::openapi::Routes;
use crate::sync::SinkStatus;

pub(super) fn routes() -> Routes {
    Routes::new().op("listSinks", list)
}

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Sinks {
    items: Vec<SinkStatus>,
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Sinks>, AppError> {
    // An operator's view of every sink: only callers who see everything.
    caller.everywhere(domain::auth::Action::AlertsRead)?;
    Ok(Json(Sinks {
        items: crate::sync::status(&state).await?,
    }))
}
