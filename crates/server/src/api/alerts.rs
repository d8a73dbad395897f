//! `/alerts` (list, acknowledge) and low-stock thresholds at
//! `/stock/{location}/{sku}/threshold` and `/stock/thresholds`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use domain::alert::{self, AlertState, ThresholdInput};
use domain::ids::{LocationCode, Sku};
use serde::Deserialize;
use store::alerts::{Alert, AlertFilter, Threshold};

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
        .op("listAlerts", list)
        .op("getAlert", show)
        .op("acknowledgeAlert", acknowledge)
        .op("listThresholds", thresholds)
        .op("getThreshold", show_threshold)
        .op("setThreshold", set_threshold)
        .op("removeThreshold", remove_threshold)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertQuery {
    /// `open`, `acknowledged` or `resolved`.
    #[schemars(with = "Option<domain::alert::AlertState>")]
    state: Option<String>,
    /// Only this kind, e.g. `low_stock`.
    kind: Option<String>,
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

fn alert_id(value: &str) -> Result<i64, AppError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AppError::field("id", "bad_format", "id is a positive whole number"))
}

/// Alerts newest first, filtered by state, kind, location and SKU.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AlertQuery>,
) -> Result<Json<Page<Alert>>, AppError> {
    let visible = caller.visible(Action::AlertsRead)?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let mut filter = AlertFilter {
        state: q
            .state
            .as_deref()
            .map(|s| AlertState::parse("state", s))
            .transpose()?,
        kind: q
            .kind
            .as_deref()
            .map(|k| alert::kind("kind", k))
            .transpose()?,
        location: q
            .location
            .as_deref()
            .map(|l| param(LocationCode::parse, "location", l).map(|l| l.to_string()))
            .transpose()?,
        sku: q
            .sku
            .as_deref()
            .map(|s| param(Sku::parse, "sku", s).map(|s| s.to_string()))
            .transpose()?,
    };
    filter.location = bound_to(&caller, visible, filter.location)?;
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
    let items = state.store.list_alerts(&filter, before, limit + 1).await?;
    Ok(Json(Page::from_overfetch(items, limit, |a| {
        vec![a.id.to_string()]
    })))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Alert>, AppError> {
    caller.may(Action::AlertsRead)?;
    let alert = state.store.get_alert(alert_id(&id)?).await?;
    at_alert(&caller, Action::AlertsRead, &alert)?;
    Ok(Json(alert))
}

/// A caller bound to locations sees the alerts of one of them: the one it names, or its
/// only one.
fn bound_to(
    caller: &Caller,
    visible: Visible<'_>,
    asked: Option<String>,
) -> Result<Option<String>, AppError> {
    let Visible::Locations(mine) = visible else {
        return Ok(asked);
    };
    match (asked, mine) {
        (Some(asked), _) => {
            caller.at(
                Action::AlertsRead,
                &LocationCode::from_trusted(asked.clone()),
            )?;
            Ok(Some(asked))
        }
        (None, [only]) => Ok(Some(only.to_string())),
        (None, _) => Err(AppError::field(
            "location",
            "required",
            "name one of your locations",
        )),
    }
}

/// An alert about a location is within reach of those bound to it; one about no location
/// (a webhook, a sink) only of those who see everything.
fn at_alert(caller: &Caller, action: Action, alert: &Alert) -> Result<(), AppError> {
    match &alert.location {
        Some(location) => caller.at(action, &LocationCode::from_trusted(location.clone())),
        None => caller.everywhere(action),
    }
}

/// Acknowledges an open alert (again: answers it unchanged).
async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Alert>, AppError> {
    caller.may(Action::AlertsManage)?;
    let id = alert_id(&id)?;
    at_alert(
        &caller,
        Action::AlertsManage,
        &state.store.get_alert(id).await?,
    )?;
    let alert = state
        .store
        .acknowledge_alert(id, &caller.0.actor, Utc::now())
        .await?;
    Ok(Json(alert))
}

fn level_key(location: &str, sku: &str) -> Result<(LocationCode, Sku), AppError> {
    Ok((
        param(LocationCode::parse, "location", location)?,
        param(Sku::parse, "sku", sku)?,
    ))
}

async fn show_threshold(
    State(state): State<AppState>,
    caller: Caller,
    Path((location, sku)): Path<(String, String)>,
) -> Result<Json<Threshold>, AppError> {
    let (location, sku) = level_key(&location, &sku)?;
    caller.at(Action::AlertsRead, &location)?;
    Ok(Json(state.store.get_threshold(&location, &sku).await?))
}

/// Sets the low-stock threshold of a level; a level already at or below it raises its
/// alert at once.
async fn set_threshold(
    State(state): State<AppState>,
    caller: Caller,
    Path((location, sku)): Path<(String, String)>,
    extract::Json(input): extract::Json<ThresholdInput>,
) -> Result<Json<Threshold>, AppError> {
    let (location, sku) = level_key(&location, &sku)?;
    caller.at(Action::AlertsManage, &location)?;
    let low_stock = input.validate()?;
    let threshold = state
        .store
        .set_threshold(&location, &sku, low_stock, Utc::now())
        .await?;
    Ok(Json(threshold))
}

async fn remove_threshold(
    State(state): State<AppState>,
    caller: Caller,
    Path((location, sku)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let (location, sku) = level_key(&location, &sku)?;
    caller.at(Action::AlertsManage, &location)?;
    state
        .store
        .remove_threshold(&location, &sku, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ThresholdQuery {
    /// Only this location.
    #[schemars(with = "Option<domain::schema::Code<32>>")]
    location: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[schemars(with = "Option<i64>", range(min = 1, max = 500))]
    limit: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<String>,
}

/// Every threshold, by location and SKU.
async fn thresholds(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ThresholdQuery>,
) -> Result<Json<Page<Threshold>>, AppError> {
    let visible = caller.visible(Action::AlertsRead)?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let asked = q
        .location
        .as_deref()
        .map(|l| param(LocationCode::parse, "location", l).map(|l| l.to_string()))
        .transpose()?;
    let location = bound_to(&caller, visible, asked)?.map(LocationCode::from_trusted);
    let after = page.cursor(2)?.map(|key| {
        (
            LocationCode::from_trusted(key[0].clone()),
            Sku::from_trusted(key[1].clone()),
        )
    });
    let items = state
        .store
        .list_thresholds(location.as_ref(), after.as_ref(), limit + 1)
        .await?;
    Ok(Json(Page::from_overfetch(items, limit, |t| {
        vec![t.location.clone(), t.sku.clone()]
    })))
}
