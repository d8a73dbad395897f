//! `/orders`: placing, reading, reviewing, editing, shipping and returning B2B orders.
//!
//! Handlers only parse, validate and call the store; every rule that needs the database
//! (prices, stock, credit, transitions) is decided inside one store transaction.

use axum::Json;
use axum::extract::{MatchedPath, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use domain::ids::Sku;
use domain::order::{
    self, Order, OrderFilter, OrderInput, OrderPatchInput, OrderStatus, ReturnInput, ShipInput,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::{OrderCommand, PlaceMeta};

use super::param;
use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::{self, OptionalJson, Query};
use crate::openapi::Routes;
use crate::page::{Page, PageQuery};
use domain::auth::{Action, Target, Visible};

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("placeOrder", place)
        .op("listOrders", list)
        .op("getOrder", show)
        .op("editOrder", edit)
        .op("approveOrder", approve)
        .op("rejectOrder", with_reason)
        .op("cancelOrder", with_reason)
        .op("closeOrder", with_reason)
        .op("shipOrder", ship)
        .op("deliverOrder", deliver)
        .op("returnOrder", take_back)
        .op("reorder", reorder)
}

/// An order with its version as `ETag`, for the next `If-Match`.
struct OrderReply(StatusCode, Order);

impl IntoResponse for OrderReply {
    fn into_response(self) -> Response {
        let OrderReply(status, order) = self;
        let mut headers = HeaderMap::new();
        if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", order.version)) {
            headers.insert(header::ETAG, etag);
        }
        if status == StatusCode::CREATED
            && let Ok(location) = HeaderValue::from_str(&format!("/api/v1/orders/{}", order.id))
        {
            headers.insert(header::LOCATION, location);
        }
        (status, headers, Json(order)).into_response()
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, AppError> {
    let value = headers.get("idempotency-key").ok_or_else(|| {
        AppError::field(
            "Idempotency-Key",
            "required",
            "send an Idempotency-Key header; a retry with the same key is safe",
        )
    })?;
    let text = value.to_str().map_err(|_| {
        AppError::field(
            "Idempotency-Key",
            "bad_format",
            "Idempotency-Key is visible ASCII",
        )
    })?;
    Ok(order::idempotency_key(text)?)
}

/// The `{id}` of an order route: an order id has the shape of a code (a UUID today), and
/// anything else (a NUL byte, say) must not reach the database.
fn order_id(id: &str) -> Result<&str, AppError> {
    domain::validation::code("id", id, 64)
        .map(|_| id)
        .map_err(|e| AppError::Validation(vec![e]))
}

/// The version in `If-Match` (`3`, `"3"` or `W/"3"`), if sent.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, AppError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse::<i64>().map(Some).map_err(|_| {
        AppError::field(
            "If-Match",
            "bad_format",
            "If-Match is the order's version, e.g. \"3\"",
        )
    })
}

/// The hash an idempotency key is stored with: the same request gives the same hash.
fn request_hash(request: &[u8]) -> String {
    Sha256::digest(request)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn place_input(
    state: &AppState,
    caller: &Caller,
    key: String,
    hash: String,
    input: &OrderInput,
) -> Result<OrderReply, AppError> {
    let result = place_checked(state, caller, key, hash, input).await;
    if let Err(e) = &result {
        state.metrics.order_refused(e.code());
    }
    result
}

async fn place_checked(
    state: &AppState,
    caller: &Caller,
    key: String,
    hash: String,
    input: &OrderInput,
) -> Result<OrderReply, AppError> {
    let order = input.validate(state.default_location.as_ref())?;
    // Placing for another customer is refused outright (not hidden): the caller named it.
    caller.0.check(
        Action::OrdersPlace,
        Target::Order {
            customer: &order.customer,
            location: order.location.as_str(),
        },
    )?;
    let meta = PlaceMeta {
        order_id: crate::ids::new_order_id()
            .map_err(|e| AppError::Internal(format!("no randomness: {e}")))?,
        idempotency_key: key,
        request_hash: hash,
        actor: caller.0.actor.clone(),
        now: Utc::now(),
    };
    let placed = state.store.place_order(order, meta).await?;
    if placed.created {
        state.metrics.order_placed();
    }
    Ok(OrderReply(StatusCode::CREATED, placed.order))
}

/// Places an order. The same `Idempotency-Key` with the same body answers with the same
/// order (201); with another body, 422 `idempotency_key_reused`.
async fn place(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    extract::Json(input): extract::Json<OrderInput>,
) -> Result<OrderReply, AppError> {
    let key = idempotency_key(&headers)?;
    let canonical = serde_json::to_vec(&input).map_err(|e| AppError::Internal(e.to_string()))?;
    place_input(&state, &caller, key, request_hash(&canonical), &input).await
}

/// Places a new order with the lines of an old one, priced and checked as of now.
async fn reorder(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<OrderReply, AppError> {
    let key = idempotency_key(&headers)?;
    caller.may(Action::OrdersPlace)?;
    let old = state.store.get_order(order_id(&id)?).await?;
    caller.on_order(Action::OrdersRead, &old)?;
    // The request is "reorder this order", whatever the old order looks like by a retry.
    let hash = request_hash(format!("reorder:{}", old.id).as_bytes());
    place_input(&state, &caller, key, hash, &old.as_input()).await
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<OrderReply, AppError> {
    caller.may(Action::OrdersRead)?;
    let order = state.store.get_order(order_id(&id)?).await?;
    caller.on_order(Action::OrdersRead, &order)?;
    Ok(OrderReply(StatusCode::OK, order))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Only this customer's orders.
    #[schemars(with = "Option<domain::schema::Code<32>>")]
    customer: Option<String>,
    /// Only orders in this status.
    #[schemars(with = "Option<OrderStatus>")]
    status: Option<String>,
    /// Placed at or after: RFC 3339 time or a date (`2026-11-22`).
    from: Option<String>,
    /// Placed before: RFC 3339 time, or a date (that whole day included).
    to: Option<String>,
    /// Only orders with a line of this SKU.
    #[schemars(with = "Option<domain::schema::Code<64>>")]
    sku: Option<String>,
    /// Text search in the order number, customer and note (first 100 characters).
    q: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[schemars(with = "Option<i64>", range(min = 1, max = 500))]
    limit: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<String>,
}

/// A time bound: RFC 3339, or a date (`to=` a date includes that whole day).
pub(super) fn bound(field: &str, text: &str, end: bool) -> Result<DateTime<Utc>, AppError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        AppError::field(
            field,
            "bad_format",
            format!("{field} is a date (2026-11-22) or an RFC 3339 time"),
        )
    })?;
    let day = if end {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    Ok(day.and_time(NaiveTime::MIN).and_utc())
}

/// One page of orders, newest first.
#[derive(Serialize, JsonSchema)]
pub(crate) struct OrderPage {
    /// The orders of this page.
    items: Vec<Order>,
    /// The cursor of the next page; `null` on the last page.
    next: Option<String>,
}

/// Orders, newest first, filtered.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<OrderPage>, AppError> {
    let visible = caller.visible(Action::OrdersRead)?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
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
    let mut filter = OrderFilter {
        customer: q
            .customer
            .as_deref()
            .map(|c| param(|f, v| domain::validation::code(f, v, 32), "customer", c))
            .transpose()?,
        status: q
            .status
            .as_deref()
            .map(|s| param(OrderStatus::parse, "status", s))
            .transpose()?,
        from: q
            .from
            .as_deref()
            .map(|t| bound("from", t, false))
            .transpose()?,
        to: q.to.as_deref().map(|t| bound("to", t, true)).transpose()?,
        sku: q
            .sku
            .as_deref()
            .map(|s| param(Sku::parse, "sku", s))
            .transpose()?,
        q: match q.q.filter(|t| !t.trim().is_empty()) {
            Some(t) if t.chars().any(char::is_control) => {
                return Err(AppError::field(
                    "q",
                    "bad_character",
                    "q contains a control character",
                ));
            }
            t => t.map(|t| t.trim().chars().take(100).collect()),
        },
        within: Vec::new(),
    };
    match visible {
        Visible::All => {}
        Visible::Locations(locations) => filter.within = locations.to_vec(),
        Visible::Customer(own) => {
            if filter.customer.as_deref().is_some_and(|asked| asked != own) {
                return Ok(Json(OrderPage {
                    items: Vec::new(),
                    next: None,
                }));
            }
            filter.customer = Some(own.to_owned());
        }
    }
    let rows = state.store.list_orders(&filter, before, limit + 1).await?;
    let page = Page::from_overfetch(rows, limit, |(seq, _)| vec![seq.to_string()]);
    Ok(Json(OrderPage {
        items: page.items.into_iter().map(|(_, o)| o).collect(),
        next: page.next,
    }))
}

/// Changes lines, address or note of an order that has not shipped; needs `If-Match`.
async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<OrderPatchInput>,
) -> Result<OrderReply, AppError> {
    caller.may(Action::OrdersChange)?;
    let version = if_match(&headers)?.ok_or(AppError::PreconditionRequired)?;
    let patch = input.validate()?;
    act(
        &state,
        &caller,
        &headers,
        &id,
        (Action::OrdersChange, OrderCommand::Edit(patch)),
        Some(version),
    )
    .await
}

async fn act(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
    (action, command): (Action, OrderCommand),
    version: Option<i64>,
) -> Result<OrderReply, AppError> {
    caller.may(action)?;
    let order = state.store.get_order(order_id(id)?).await?;
    caller.on_order(Action::OrdersRead, &order)?;
    caller.on_order(action, &order)?;
    let version = match version {
        Some(v) => Some(v),
        None => if_match(headers)?,
    };
    let order = state
        .store
        .act_on_order(&order.id, command, version, &caller.0.actor, Utc::now())
        .await?;
    Ok(OrderReply(StatusCode::OK, order))
}

/// Why an order is rejected, cancelled or closed.
#[derive(Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ReasonInput")]
pub(crate) struct Reason {
    /// 1 to 200 characters, kept in the order's timeline.
    #[schemars(with = "Option<domain::schema::Text<200>>")]
    reason: Option<String>,
}

fn reason(body: Option<Reason>) -> Result<Option<String>, AppError> {
    body.and_then(|b| b.reason)
        .map(|r| domain::validation::text("reason", &r, 200))
        .transpose()
        .map_err(|e| AppError::Validation(vec![e]))
}

async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<OrderReply, AppError> {
    let command = (Action::OrdersReview, OrderCommand::Approve);
    act(&state, &caller, &headers, &id, command, None).await
}

/// The actions that take an optional `{"reason"}`: `reject` and `cancel` release the
/// reservation; `close` finishes a partially shipped order, releasing what will not ship.
/// One handler serves the three routes; the action is the last segment of the route.
async fn with_reason(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    route: MatchedPath,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<Reason>,
) -> Result<OrderReply, AppError> {
    let (action, command): (Action, fn(Option<String>) -> OrderCommand) =
        match route.as_str().rsplit('/').next() {
            Some("reject") => (Action::OrdersReview, OrderCommand::Reject),
            Some("cancel") => (Action::OrdersChange, OrderCommand::Cancel),
            Some("close") => (Action::OrdersFulfil, OrderCommand::Close),
            _ => return Err(AppError::NotFound("no such route".to_owned())),
        };
    let command = (action, command(reason(body)?));
    act(&state, &caller, &headers, &id, command, None).await
}

async fn ship(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<ShipInput>,
) -> Result<OrderReply, AppError> {
    caller.may(Action::OrdersFulfil)?;
    act(
        &state,
        &caller,
        &headers,
        &id,
        (Action::OrdersFulfil, OrderCommand::Ship(input.validate()?)),
        None,
    )
    .await
}

async fn deliver(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<OrderReply, AppError> {
    let command = (Action::OrdersFulfil, OrderCommand::Deliver);
    act(&state, &caller, &headers, &id, command, None).await
}

async fn take_back(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<ReturnInput>,
) -> Result<OrderReply, AppError> {
    caller.may(Action::OrdersFulfil)?;
    act(
        &state,
        &caller,
        &headers,
        &id,
        (
            Action::OrdersFulfil,
            OrderCommand::Return(input.validate()?),
        ),
        None,
    )
    .await
}
