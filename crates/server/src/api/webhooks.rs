//! `/webhooks`: subscriptions to the event log, delivered by `sync::webhooks`, with their
//! delivery log, manual redelivery and replay. The signing secret is shown once, in the
//! answer to the creation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use domain::webhook::{WebhookInput, WebhookPatchInput};
use serde::{Deserialize, Serialize};
use store::webhooks::{Delivery, NewWebhook, Webhook};

use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::{self, Query};
use crate::openapi::Routes;
use crate::page::{Page, PageQuery};
use crate::sync::signature;
use domain::auth::Action;

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("createWebhook", create)
        .op("listWebhooks", list)
        .op("getWebhook", show)
        .op("updateWebhook", update)
        .op("deleteWebhook", remove)
        .op("listWebhookDeliveries", deliveries)
        .op("redeliverWebhook", redeliver)
        .op("replayWebhook", replay)
}

/// A subscription as shown: everything but the secret.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct WebhookView {
    id: i64,
    url: String,
    event_types: Vec<String>,
    description: Option<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    delivered_seq: i64,
    consecutive_failures: i64,
    failing_since: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookView {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id,
            url: w.url,
            event_types: w.event_types,
            description: w.description,
            enabled: w.enabled,
            disabled_reason: w.disabled_reason,
            delivered_seq: w.delivered_seq,
            consecutive_failures: w.consecutive_failures,
            failing_since: w.failing_since,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// The answer to a creation: the subscription and, this once, its secret.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Created {
    #[serde(flatten)]
    webhook: WebhookView,
    secret: String,
}

/// A numeric id from the path, or a 422 naming it.
fn number(field: &str, value: &str) -> Result<i64, AppError> {
    value.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        AppError::field(
            field,
            "bad_format",
            format!("{field} is a positive whole number"),
        )
    })
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    extract::Json(input): extract::Json<WebhookInput>,
) -> Result<(StatusCode, Json<Created>), AppError> {
    caller.everywhere(Action::WebhooksManage)?;
    let spec = input.validate()?;
    let secret = signature::generate_secret()
        .map_err(|e| AppError::Internal(format!("no randomness for a webhook secret: {e}")))?;
    let new = NewWebhook {
        url: spec.url,
        event_types: spec.event_types,
        description: spec.description,
        secret,
    };
    let webhook = state.store.create_webhook(new, Utc::now()).await?;
    state.webhooks.touch();
    let secret = webhook.secret.0.clone();
    Ok((
        StatusCode::CREATED,
        Json(Created {
            webhook: webhook.into(),
            secret,
        }),
    ))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<WebhookView>>, AppError> {
    caller.everywhere(Action::WebhooksManage)?;
    let limit = page.limit()?;
    let after = match page.cursor(1)? {
        Some(key) => Some(number("cursor", &key[0])?),
        None => None,
    };
    let items = state.store.list_webhooks(after, limit + 1).await?;
    let page = Page::from_overfetch(items, limit, |w| vec![w.id.to_string()]);
    Ok(Json(Page {
        items: page.items.into_iter().map(WebhookView::from).collect(),
        next: page.next,
    }))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, AppError> {
    caller.everywhere(Action::WebhooksManage)?;
    let id = number("id", &id)?;
    Ok(Json(state.store.get_webhook(id).await?.into()))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<WebhookPatchInput>,
) -> Result<Json<WebhookView>, AppError> {
    caller.everywhere(Action::WebhooksManage)?;
    let id = number("id", &id)?;
    let patch = input.validate()?;
    let webhook = state.store.update_webhook(id, patch, Utc::now()).await?;
    state.webhooks.touch();
    Ok(Json(webhook.into()))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    caller.everywhere(Action::WebhooksManage)?;
    let id = number("id", &id)?;
    state.store.delete_webhook(id).await?;
    state.webhooks.touch();
    Ok(StatusCode::NO_CONTENT)
}

async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Delivery>>, AppError> {
    caller.everywhere(Action::WebhooksManage)?;
    let id = number("id", &id)?;
    let limit = page.limit()?;
    let before = match page.cursor(1)? {
        Some(key) => Some(number("cursor", &key[0])?),
        None => None,
    };
    let items = state.store.list_deliveries(id, before, limit + 1).await?;
    Ok(Json(Page::from_overfetch(items, limit, |d| {
        vec![d.id.to_string()]
    })))
}

/// Sends the event of a logged attempt once more, now, and answers with the new attempt.
/// It is logged as manual and moves nothing: the worker's order is not affected.
async fn redeliver(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<Json<Delivery>, AppError> {
    caller.everywhere(Action::WebhooksManage)?;
    let id = number("id", &id)?;
    let delivery_id = number("delivery_id", &delivery_id)?;
    let webhook = state.store.get_webhook(id).await?;
    let logged = state.store.get_delivery(id, delivery_id).await?;
    let event = state.store.event_at(logged.event_seq).await?;
    let attempt = state.webhooks.send(&webhook, &event, 1, true).await;
    // A manual attempt is only logged: the store ignores position, claim and policy.
    let claim = store::webhooks::LeaseClaim {
        holder: String::new(),
        until: Utc::now(),
    };
    let policy = store::webhooks::DisablePolicy {
        after_failures: i64::MAX,
        after: chrono::Duration::MAX,
    };
    let recorded = state
        .store
        .record_delivery(attempt.delivery, 0, &claim, &policy)
        .await?;
    recorded
        .delivery
        .map(Json)
        .ok_or_else(|| AppError::NotFound(format!("webhook {id} not found")))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayQuery {
    /// The seq of the first event to deliver again (required).
    #[schemars(with = "i64", range(min = 0))]
    from_seq: Option<String>,
}

/// Delivers again, in order, every wanted event from `from_seq` on.
async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ReplayQuery>,
) -> Result<(StatusCode, Json<WebhookView>), AppError> {
    caller.everywhere(Action::WebhooksManage)?;
    let id = number("id", &id)?;
    let from_seq = match q.from_seq.as_deref() {
        Some(s) => s
            .parse::<i64>()
            .map_err(|_| AppError::field("from_seq", "bad_format", "from_seq is a whole number"))?,
        None => {
            return Err(AppError::field(
                "from_seq",
                "required",
                "from_seq names the first event to deliver again",
            ));
        }
    };
    let webhook = state.store.replay_webhook(id, from_seq, Utc::now()).await?;
    state.webhooks.touch();
    Ok((StatusCode::ACCEPTED, Json(webhook.into())))
}
