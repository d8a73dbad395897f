//! `/counts`: cycle counts, opened at a location, fed by scans (and by RFID reads at the
//! location), approved with count corrections in the ledger, or cancelled.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::auth::{Action, Target};
use domain::count::{Count, CountInput, ScansInput};
use domain::ids::CountId;

use super::param;
use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract;
use crate::floor::new_id;
use crate::openapi::Routes;

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("openCount", open)
        .op("getCount", show)
        .op("addCountScans", scans)
        .op("approveCount", approve)
        .op("cancelCount", cancel)
}

/// Opens a count with a snapshot of the book figures in scope.
async fn open(
    State(state): State<AppState>,
    Caller(caller): Caller,
    extract::Json(input): extract::Json<CountInput>,
) -> Result<(StatusCode, Json<Count>), AppError> {
    let count = input.validate(&new_id("CC")?)?;
    caller.check(Action::CountsManage, Target::Location(&count.location))?;
    let count = state.store.open_count(count, &caller.actor).await?;
    Ok((StatusCode::CREATED, Json(count)))
}

/// The count named in the path, once the caller may manage counts where it is.
async fn checked(state: &AppState, caller: &Caller, id: &str) -> Result<Count, AppError> {
    let count = state
        .store
        .get_count(&param(CountId::parse, "id", id)?)
        .await?;
    caller
        .0
        .check(Action::CountsManage, Target::Location(&count.location))?;
    Ok(count)
}

/// Expected against counted against variance, per SKU, and what was found unexpectedly.
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Count>, AppError> {
    Ok(Json(checked(&state, &caller, &id).await?))
}

/// Adds scanned quantities; a `batch_id` sent again is not counted twice.
async fn scans(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<ScansInput>,
) -> Result<Json<Count>, AppError> {
    let count = checked(&state, &caller, &id).await?;
    let scans = input.validate(&state.floor.scale_layouts)?;
    Ok(Json(state.store.add_count_scans(&count.id, scans).await?))
}

/// Approves: posts a count correction per SKU whose count differs from its book figure.
async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Count>, AppError> {
    let count = checked(&state, &caller, &id).await?;
    let actor = caller.0.actor.as_str();
    Ok(Json(state.store.close_count(&count.id, true, actor).await?))
}

/// Cancels: nothing is posted.
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Count>, AppError> {
    let count = checked(&state, &caller, &id).await?;
    let actor = caller.0.actor.as_str();
    Ok(Json(
        state.store.close_count(&count.id, false, actor).await?,
    ))
}
