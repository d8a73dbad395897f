//! `/events`: the event log, as pages (`GET /events?after=`) and as a live Server-Sent
//! Events stream (`GET /events/stream`) that resumes after `Last-Event-ID`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use store::{Event, EventFilter};

use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::Query;
use domain::auth::{Action, Denied, Visible};

/// Most events in one page or one read of the stream.
const MAX_PAGE: i64 = 1000;
/// Interval of the stream's heartbeat comments, so proxies keep idle streams open.
const HEARTBEAT: Duration = Duration::from_secs(15);

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/events", get(page))
        .route("/events/stream", get(stream))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventQuery {
    after: Option<String>,
    types: Option<String>,
    location: Option<String>,
    sku: Option<String>,
    customer: Option<String>,
    limit: Option<String>,
}

impl EventQuery {
    /// The filter asked for, narrowed to what the caller may see: a customer only its own
    /// orders' events, a caller bound to locations only theirs (and the catalog's).
    fn filter(&self, caller: &Caller) -> Result<EventFilter, AppError> {
        let mut filter = EventFilter {
            types: self
                .types
                .as_deref()
                .map(|t| {
                    t.split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            location: self.location.clone(),
            sku: self.sku.clone(),
            customer: self.customer.clone(),
            within: Vec::new(),
        };
        match caller.visible(Action::EventsRead)? {
            Visible::All => {}
            Visible::Customer(own) => {
                if filter.customer.as_deref().is_some_and(|asked| asked != own) {
                    return Err(Denied::Customer.into());
                }
                filter.customer = Some(own.to_owned());
            }
            Visible::Locations(locations) => {
                if let Some(asked) = &filter.location
                    && !locations.iter().any(|l| l.as_str() == asked)
                {
                    return Err(Denied::Location {
                        location: asked.clone(),
                    }
                    .into());
                }
                filter.within = locations.iter().map(ToString::to_string).collect();
            }
        }
        Ok(filter)
    }

    fn limit(&self) -> Result<i64, AppError> {
        match self.limit.as_deref() {
            None => Ok(100),
            Some(t) => t
                .parse()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    AppError::field("limit", "out_of_range", format!("limit is 1 to {MAX_PAGE}"))
                }),
        }
    }
}

fn seq(field: &str, text: &str) -> Result<i64, AppError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            AppError::field(
                field,
                "bad_format",
                format!("{field} is an event seq, 0 or more"),
            )
        })
}

/// Counts an open stream in `/metrics` for as long as it lives.
struct Subscribed(std::sync::Arc<crate::metrics::Metrics>);

impl Subscribed {
    fn new(metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        metrics.sse(1);
        Self(metrics)
    }
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.0.sse(-1);
    }
}

#[derive(Serialize)]
struct EventPage {
    items: Vec<Event>,
    /// Pass as `after` to continue: the last seq of this page, or the `after` given.
    next: i64,
}

/// Events after `after` (0: from the start), oldest first.
async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<EventQuery>,
) -> Result<Json<EventPage>, AppError> {
    let filter = q.filter(&caller)?;
    let after = q
        .after
        .as_deref()
        .map(|a| seq("after", a))
        .transpose()?
        .unwrap_or(0);
    let items = state.store.events_after(after, &filter, q.limit()?).await?;
    let next = items.last().map_or(after, |e| e.seq);
    Ok(Json(EventPage { items, next }))
}

/// Live events: `id:` is the seq, `event:` the type, `data:` the JSON event. Starts after
/// `Last-Event-ID` (a reconnecting client resumes where it stopped), else after `?after=`,
/// else at the present.
async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<EventQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, AppError> {
    let filter = q.filter(&caller)?;
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let start = match (resume, q.after.as_deref()) {
        (Some(id), _) => seq("Last-Event-ID", id)?,
        (None, Some(after)) => seq("after", after)?,
        (None, None) => state.store.event_head().await?,
    };
    let wake = state.events.subscribe();
    let store = state.store.clone();
    let subscribed = Subscribed::new(state.metrics.clone());
    let events = futures_util::stream::unfold(
        (start, VecDeque::<Event>::new(), wake, subscribed),
        move |(mut cursor, mut buffer, mut wake, subscribed)| {
            let (store, filter) = (store.clone(), filter.clone());
            async move {
                loop {
                    if let Some(event) = buffer.pop_front() {
                        let data = serde_json::to_string(&event).unwrap_or_default();
                        let sse = SseEvent::default()
                            .id(event.seq.to_string())
                            .event(event.kind.clone())
                            .data(data);
                        return Some((Ok(sse), (cursor, buffer, wake, subscribed)));
                    }
                    wake.mark_unchanged();
                    match store.events_after(cursor, &filter, MAX_PAGE).await {
                        Ok(page) if !page.is_empty() => {
                            cursor = page.last().map_or(cursor, |e| e.seq);
                            buffer.extend(page);
                        }
                        Ok(_) => {
                            // Nothing new: wait for the hub (or poll again, in case a wake-up
                            // raced the read).
                            let _ = tokio::time::timeout(crate::hub::POLL, wake.changed()).await;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "event stream read failed; retrying");
                            tokio::time::sleep(crate::hub::POLL).await;
                        }
                    }
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}
