//! `/events`: the event log, as pages (`GET /events?after=`) and as a live Server-Sent
//! Events stream (`GET /events/stream`) that resumes after `Last-Event-ID`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use store::{Event, EventFilter};

use domain::ids::{LocationCode, Sku};
use domain::validation;

use super::param;
use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::Query;
use crate::hub::Ready;
use crate::openapi::Routes;
use domain::auth::{Action, Denied, Visible};

/// Most events in one page or one read of the stream.
const MAX_PAGE: i64 = 1000;
/// Interval of the stream's heartbeat comments, so proxies keep idle streams open.
const HEARTBEAT: Duration = Duration::from_secs(15);

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("listEvents", page)
        .op("streamEvents", stream)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventQuery {
    /// Start after this seq (0: from the start of the log).
    #[schemars(with = "Option<i64>", range(min = 0))]
    after: Option<String>,
    /// Only these types, comma-separated (`order.placed,stock.moved`).
    types: Option<String>,
    /// Only events about this location.
    location: Option<String>,
    /// Only events about this SKU.
    sku: Option<String>,
    /// Only events about this customer.
    customer: Option<String>,
    /// Most events, 1 to 1,000 (default 100).
    #[schemars(with = "Option<i64>", range(min = 1, max = 1000))]
    limit: Option<String>,
}

impl EventQuery {
    /// The filter asked for, each part checked for the shape it has in events (so that no
    /// stray byte reaches the database), narrowed to what the caller may see: a customer
    /// only its own orders' events, a caller bound to locations only theirs (and the
    /// catalog's).
    fn filter(&self, caller: &Caller) -> Result<EventFilter, AppError> {
        let code = |field: &str, value: &Option<String>, max: usize| {
            value
                .as_deref()
                .map(|v| validation::code(field, v, max))
                .transpose()
                .map_err(|e| AppError::Validation(vec![e]))
        };
        let types = self
            .types
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| param(|f, v| validation::code(f, v, 64), "types", t))
            .collect::<Result<_, _>>()?;
        let mut filter = EventFilter {
            types,
            location: code("location", &self.location, LocationCode::MAX_LEN)?,
            sku: code("sku", &self.sku, Sku::MAX_LEN)?,
            customer: code("customer", &self.customer, 32)?,
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

/// Events, oldest first.
#[derive(Serialize, JsonSchema)]
pub(crate) struct EventPage {
    /// The events of this page.
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
    let (store, hub) = (state.store.clone(), state.events.clone());
    let subscribed = Subscribed::new(state.metrics.clone());
    let events = futures_util::stream::unfold(
        (
            start,
            VecDeque::<std::sync::Arc<Ready>>::new(),
            wake,
            subscribed,
        ),
        move |(mut cursor, mut buffer, mut wake, subscribed)| {
            let (store, hub, filter) = (store.clone(), hub.clone(), filter.clone());
            async move {
                loop {
                    if let Some(ready) = buffer.pop_front() {
                        let sse = SseEvent::default()
                            .id(ready.event.seq.to_string())
                            .event(ready.event.kind.as_str())
                            .data(ready.json.as_str());
                        return Some((Ok(sse), (cursor, buffer, wake, subscribed)));
                    }
                    wake.mark_unchanged();
                    // From the hub's shared read of the newest events when it has them.
                    match hub.read(store.as_ref(), cursor, &filter, MAX_PAGE).await {
                        Ok((page, next)) if !page.is_empty() => {
                            cursor = next;
                            buffer.extend(page);
                        }
                        Ok((_, next)) => {
                            cursor = next;
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
