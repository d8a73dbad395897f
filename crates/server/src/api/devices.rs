//! `/devices`: registering POS terminals and RFID readers with their device tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use domain::auth::{Action, Grant, Role, Target, Visible};
use domain::device::{Device, DeviceInput};
use domain::ids::{DeviceId, LocationCode};
use serde::{Deserialize, Serialize};
use store::NewToken;

use super::param;
use crate::AppState;
use crate::auth::{Caller, generate_token, hash_token};
use crate::error::AppError;
use crate::extract::{self, Query};
use crate::openapi::Routes;
use crate::page::{Page, PageQuery};

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("registerDevice", register)
        .op("listDevices", list)
        .op("getDevice", show)
        .op("disableDevice", disable)
}

/// A new device and its token, shown this once.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Registered {
    #[serde(flatten)]
    device: Device,
    token: String,
}

/// Registers a device at a location with a `device` token bound to it.
async fn register(
    State(state): State<AppState>,
    Caller(caller): Caller,
    extract::Json(input): extract::Json<DeviceInput>,
) -> Result<(StatusCode, Json<Registered>), AppError> {
    let device = input.validate()?;
    caller.check(Action::DevicesManage, Target::Location(&device.location))?;
    let secret = generate_token().map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
    let grant = Grant {
        locations: vec![device.location.clone()],
        ..Grant::role(Role::Device)
    };
    let name = format!("device:{}", device.id);
    let token = NewToken::new(&name, grant, &hash_token(&secret), Utc::now());
    let device = state.store.register_device(device, token).await?;
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            device,
            token: secret,
        }),
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only this location.
    #[schemars(with = "Option<domain::schema::Code<32>>")]
    location: Option<String>,
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
) -> Result<Json<Page<Device>>, AppError> {
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let within: Vec<LocationCode> = match (&q.location, caller.visible(Action::DevicesManage)?) {
        (Some(l), _) => {
            let location = param(LocationCode::parse, "location", l)?;
            caller.check(Action::DevicesManage, Target::Location(&location))?;
            vec![location]
        }
        (None, Visible::Locations(mine)) => mine.to_vec(),
        (None, _) => Vec::new(),
    };
    let after = page
        .cursor(1)?
        .map(|key| DeviceId::from_trusted(key[0].clone()));
    let items = state
        .store
        .list_devices(&within, after.as_ref(), limit + 1)
        .await?;
    Ok(Json(Page::from_overfetch(items, limit, |d| {
        vec![d.id.to_string()]
    })))
}

async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Device>, AppError> {
    let device = state
        .store
        .get_device(&param(DeviceId::parse, "id", &id)?)
        .await?;
    caller.check(Action::DevicesManage, Target::Location(&device.location))?;
    Ok(Json(device))
}

/// Disables a device: its token stops working (at once on this node, within the token
/// cache's lifetime on others); the record stays.
async fn disable(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Device>, AppError> {
    let id = param(DeviceId::parse, "id", &id)?;
    let device = state.store.get_device(&id).await?;
    caller.check(Action::DevicesManage, Target::Location(&device.location))?;
    let device = state.store.disable_device(&id, Utc::now()).await?;
    state.tokens.forget(device.token_id);
    Ok(Json(device))
}
