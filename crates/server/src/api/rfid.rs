//! `/rfid`: tag reads from the readers, and the tags seen per location.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use domain::auth::{Action, Target};
use domain::ids::LocationCode;
use domain::rfid::ReadsInput;
use serde::Deserialize;
use store::{ReadSummary, SeenTag};

use super::param;
use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::{self, Query};
use crate::floor::acting_location;
use crate::openapi::Routes;
use crate::page::{Page, PageQuery};

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("recordRfidReads", reads)
        .op("listRfidTags", tags)
}

/// Records a batch of reads: each is accepted, a duplicate within the window, of an
/// unknown GTIN, or invalid, and the answer counts every class. Reads feed the open count
/// at the location, if there is one.
async fn reads(
    State(state): State<AppState>,
    Caller(caller): Caller,
    extract::Json(input): extract::Json<ReadsInput>,
) -> Result<Json<ReadSummary>, AppError> {
    let location = acting_location(&caller, input.location.as_deref(), "location")?;
    caller.check(Action::RfidRead, Target::Location(&location))?;
    let batch = input.validate(Utc::now())?;
    let summary = state
        .store
        .record_reads(&location, batch, state.floor.rfid_window)
        .await?;
    Ok(Json(summary))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TagQuery {
    /// The location; the caller's own when it is bound to one.
    #[schemars(with = "Option<domain::schema::Code<32>>")]
    location: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[schemars(with = "Option<i64>", range(min = 1, max = 500))]
    limit: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<String>,
}

/// The tags seen at a location, by EPC.
async fn tags(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(q): Query<TagQuery>,
) -> Result<Json<Page<SeenTag>>, AppError> {
    let location = match q.location.as_deref() {
        Some(l) => param(LocationCode::parse, "location", l)?,
        None => acting_location(&caller, None, "location")?,
    };
    caller.check(Action::StockRead, Target::Location(&location))?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let after = page.cursor(1)?.map(|key| key[0].clone());
    let items = state
        .store
        .list_tags(&location, after.as_deref(), limit + 1)
        .await?;
    Ok(Json(Page::from_overfetch(items, limit, |t| {
        vec![t.epc.clone()]
    })))
}
