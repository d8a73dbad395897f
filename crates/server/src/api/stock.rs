//! `/stock`: movements in, levels and the ledger out.

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use domain::ids::{LocationCode, Sku};
use domain::stock::{self, Level, Movement, MovementInput, Outcome};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::param;
use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::{self, Query};
use crate::openapi::Routes;
use crate::page::{Page, PageQuery};
use domain::auth::{Action, Visible};

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("applyMovements", apply)
        .op("listStockLevels", list_levels)
        .op("getStockLevel", show_level)
        .op("listLedger", ledger)
}

/// A batch of stock movements, applied in one transaction.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MovementBatch")]
pub(crate) struct Batch {
    /// 1 to 1,000 movements.
    pub(crate) movements: Vec<MovementInput>,
}

/// What became of each movement of a batch, in input order.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "MovementResults")]
pub(crate) struct Results {
    results: Vec<Result>,
}

/// What became of one movement.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "MovementResult")]
struct Result {
    /// The movement's id.
    id: String,
    #[serde(flatten)]
    outcome: Outcome,
}

/// Applies a batch in one transaction. A batch with any invalid movement is refused whole
/// (422 naming `movements[i].field`); otherwise each movement is applied, a duplicate, or
/// rejected for the state it met (e.g. an adjustment that would make stock negative).
async fn apply(
    State(state): State<AppState>,
    caller: Caller,
    extract::Json(batch): extract::Json<Batch>,
) -> std::result::Result<Json<Results>, AppError> {
    caller.may(Action::StockWrite)?;
    let movements = stock::validate_batch(&batch.movements, Utc::now())?;
    for m in &movements {
        caller.at(Action::StockWrite, &m.location)?;
    }
    let ids: Vec<String> = movements.iter().map(|m| m.id.to_string()).collect();
    let outcomes = state.store.apply_movements(movements).await?;
    for outcome in &outcomes {
        let status = match outcome {
            Outcome::Applied(_) => "applied",
            Outcome::Duplicate(_) => "duplicate",
            Outcome::Rejected { .. } => "rejected",
        };
        state.metrics.movement(status, 1);
    }
    let results = ids
        .into_iter()
        .zip(outcomes)
        .map(|(id, outcome)| Result { id, outcome })
        .collect();
    Ok(Json(Results { results }))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LevelQuery {
    /// Only this location.
    #[schemars(with = "Option<domain::schema::Code<32>>")]
    location: Option<String>,
    /// Only this SKU.
    #[schemars(with = "Option<domain::schema::Code<64>>")]
    sku: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[schemars(with = "Option<i64>", range(min = 1, max = 500))]
    limit: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<String>,
}

async fn list_levels(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<LevelQuery>,
) -> std::result::Result<Json<Page<Level>>, AppError> {
    let within = match caller.visible(Action::StockRead)? {
        Visible::Locations(locations) => locations.to_vec(),
        _ => Vec::new(),
    };
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let filter = store::LevelFilter {
        location: q
            .location
            .as_deref()
            .map(|l| param(LocationCode::parse, "location", l))
            .transpose()?,
        sku: q
            .sku
            .as_deref()
            .map(|s| param(Sku::parse, "sku", s))
            .transpose()?,
        within,
    };
    let after = page.cursor(2)?.map(|key| {
        (
            LocationCode::from_trusted(key[0].clone()),
            Sku::from_trusted(key[1].clone()),
        )
    });
    let items = state
        .store
        .list_levels(&filter, after.as_ref(), limit + 1)
        .await?;
    Ok(Json(Page::from_overfetch(items, limit, |l| {
        vec![l.location.to_string(), l.sku.to_string()]
    })))
}

fn level_key(location: &str, sku: &str) -> std::result::Result<(LocationCode, Sku), AppError> {
    Ok((
        param(LocationCode::parse, "location", location)?,
        param(Sku::parse, "sku", sku)?,
    ))
}

async fn show_level(
    State(state): State<AppState>,
    caller: Caller,
    Path((location, sku)): Path<(String, String)>,
) -> std::result::Result<Json<Level>, AppError> {
    let (location, sku) = level_key(&location, &sku)?;
    caller.at(Action::StockRead, &location)?;
    Ok(Json(state.store.get_level(&location, &sku).await?))
}

/// The ledger of one level, newest first.
async fn ledger(
    State(state): State<AppState>,
    caller: Caller,
    Path((location, sku)): Path<(String, String)>,
    Query(page): Query<PageQuery>,
) -> std::result::Result<Json<Page<Movement>>, AppError> {
    let (location, sku) = level_key(&location, &sku)?;
    caller.at(Action::StockRead, &location)?;
    let limit = page.limit()?;
    let before = match page.cursor(1)? {
        Some(key) => Some(key[0].parse::<i64>().map_err(|_| {
            AppError::field(
                "cursor",
                "bad_cursor",
                "cursor is not one this API returned",
            )
        })?),
        None => None,
    };
    state.store.get_level(&location, &sku).await?;
    let items = state
        .store
        .list_movements(&location, &sku, before, limit + 1)
        .await?;
    Ok(Json(Page::from_overfetch(items, limit, |m| {
        vec![m.seq.to_string()]
    })))
}
