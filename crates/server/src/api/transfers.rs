//! `/transfers`: stock moved between two locations — created, shipped, received.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::auth::{Action, Target, Visible};
use domain::ids::{LocationCode, TransferId};
use domain::transfer::{ReceiveInput, Transfer, TransferInput, TransferStatus};
use serde::Deserialize;
use store::{RequestMeta, TransferFilter};

use super::param;
use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::{self, OptionalJson, Query};
use crate::floor::{new_id, request_hash};
use crate::openapi::Routes;
use crate::page::{Page, PageQuery};

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("createTransfer", create)
        .op("listTransfers", list)
        .op("getTransfer", show)
        .op("shipTransfer", ship)
        .op("receiveTransfer", receive)
}

/// Creates a transfer: 201, or 200 with the first one when the same `id` and body come
/// again.
async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    extract::Json(input): extract::Json<TransferInput>,
) -> Result<(StatusCode, Json<Transfer>), AppError> {
    let transfer = input.validate(&new_id("TR")?)?;
    caller.check(Action::TransfersManage, Target::Location(&transfer.from))?;
    let meta = RequestMeta {
        request_hash: request_hash(&input)?,
        actor: caller.actor.clone(),
    };
    let recorded = state.store.create_transfer(transfer, meta).await?;
    let status = if recorded.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(recorded.value)))
}

/// The transfer in the path; the caller must manage transfers at `end` of it (or, for
/// reading, at either end).
async fn checked(
    state: &AppState,
    caller: &Caller,
    id: &str,
    end: Option<fn(&Transfer) -> &LocationCode>,
) -> Result<Transfer, AppError> {
    let t = state
        .store
        .get_transfer(&param(TransferId::parse, "id", id)?)
        .await?;
    let principal = &caller.0;
    match end {
        Some(end) => principal.check(Action::TransfersManage, Target::Location(end(&t)))?,
        None => principal
            .check(Action::TransfersManage, Target::Location(&t.from))
            .or_else(|_| principal.check(Action::TransfersManage, Target::Location(&t.to)))?,
    }
    Ok(t)
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Transfer>, AppError> {
    Ok(Json(checked(&state, &caller, &id, None).await?))
}

/// Ships: out at the source (its available stock must cover every line, or nothing ships:
/// 409 with the shortages), `incoming` at the destination.
async fn ship(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Transfer>, AppError> {
    let t = checked(&state, &caller, &id, Some(|t| &t.from)).await?;
    Ok(Json(
        state.store.ship_transfer(&t.id, &caller.0.actor).await?,
    ))
}

/// Receives what arrived (no body: exactly what was shipped); differences are recorded on
/// the lines as discrepancies.
async fn receive(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    OptionalJson(input): OptionalJson<ReceiveInput>,
) -> Result<Json<Transfer>, AppError> {
    let arrived = input.map(|i| i.validate()).transpose()?;
    let t = checked(&state, &caller, &id, Some(|t| &t.to)).await?;
    let received = state
        .store
        .receive_transfer(&t.id, arrived, &caller.0.actor)
        .await?;
    Ok(Json(received))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only transfers from or to this location.
    #[schemars(with = "Option<domain::schema::Code<32>>")]
    location: Option<String>,
    /// Only transfers in this status.
    #[schemars(with = "Option<domain::transfer::TransferStatus>")]
    status: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[schemars(with = "Option<i64>", range(min = 1, max = 500))]
    limit: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<Transfer>>, AppError> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let filter = TransferFilter {
        location: q
            .location
            .as_deref()
            .map(|l| param(LocationCode::parse, "location", l))
            .transpose()?,
        status: q
            .status
            .as_deref()
            .map(|s| param(TransferStatus::parse, "status", s))
            .transpose()?,
        within: match caller.visible(Action::TransfersManage)? {
            Visible::Locations(mine) => mine.to_vec(),
            _ => Vec::new(),
        },
    };
    let after = page
        .cursor(1)?
        .map(|key| TransferId::from_trusted(key[0].clone()));
    let items = state
        .store
        .list_transfers(&filter, after.as_ref(), limit + 1)
        .await?;
    Ok(Json(Page::from_overfetch(items, limit, |t| {
        vec![t.id.to_string()]
    })))
}
