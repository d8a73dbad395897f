//! `/pos`: sales and returns from the tills, and their receipts.
//!
//! A device sells at its own store; a clerk names the store it is assigned to. The store
//! decides everything that needs the database (codes, prices, stock, the original sale)
//! in one transaction; these handlers parse, check the caller and shape the answer.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::auth::{Action, Target};
use domain::ids::SaleId;
use domain::pos::{NewSale, Receipt, ReturnInput, SaleInput};
use store::{Recorded, RequestMeta};

use super::param;
use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract;
use crate::floor::{acting_location, request_hash};
use crate::openapi::Routes;

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("recordSale", sell)
        .op("recordReturn", take_back)
        .op("getSale", show)
        .op("getReturn", show)
}

/// A receipt: 201 when recorded now, 200 when the same sale was sent before.
struct ReceiptReply(Recorded<Receipt>);

impl IntoResponse for ReceiptReply {
    fn into_response(self) -> Response {
        let Recorded { value, created } = self.0;
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        let mut headers = HeaderMap::new();
        let path = match value.kind {
            domain::pos::SaleKind::Sale => "sales",
            domain::pos::SaleKind::Return => "returns",
        };
        if let Ok(location) =
            HeaderValue::from_str(&format!("/api/v1/pos/{path}/{}", value.sale_id))
        {
            headers.insert(header::LOCATION, location);
        }
        (status, headers, Json(value)).into_response()
    }
}

async fn record(
    state: &AppState,
    actor: &str,
    sale: NewSale,
    hash: String,
) -> Result<ReceiptReply, AppError> {
    let meta = RequestMeta {
        request_hash: hash,
        actor: actor.to_owned(),
    };
    Ok(ReceiptReply(state.store.record_sale(sale, meta).await?))
}

/// Records a sale: idempotent by `sale_id`, applied even when it drives stock negative.
async fn sell(
    State(state): State<AppState>,
    Caller(caller): Caller,
    extract::Json(input): extract::Json<SaleInput>,
) -> Result<ReceiptReply, AppError> {
    let location = acting_location(&caller, input.location.as_deref(), "location")?;
    caller.check(Action::PosSell, Target::Location(&location))?;
    let sale = input.validate(location, Utc::now(), &state.floor.scale_layouts)?;
    record(&state, &caller.actor, sale, request_hash(&input)?).await
}

/// Records a return, of a known sale (no more than it sold, refunding what was paid) or
/// without one (at the price given or the list price).
async fn take_back(
    State(state): State<AppState>,
    Caller(caller): Caller,
    extract::Json(input): extract::Json<ReturnInput>,
) -> Result<ReceiptReply, AppError> {
    let location = acting_location(&caller, input.location.as_deref(), "location")?;
    caller.check(Action::PosSell, Target::Location(&location))?;
    let sale = input.validate(location, Utc::now(), &state.floor.scale_layouts)?;
    record(&state, &caller.actor, sale, request_hash(&input)?).await
}

/// A sale or return with the units returned of each line since.
async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Receipt>, AppError> {
    let receipt = state
        .store
        .get_sale(&param(SaleId::parse, "id", &id)?)
        .await?;
    caller.check(Action::PosSell, Target::Location(&receipt.location))?;
    Ok(Json(receipt))
}
