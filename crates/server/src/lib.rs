//! Stockbook's HTTP server.
//!
//! [`build_app`] returns the whole axum [`Router`] for an [`AppState`], so tests drive it with
//! `oneshot` or on a real socket, and the binary only adds a listener. Handlers are small:
//! they parse and validate at the edge ([`extract`]), call one [`store::Store`] use case and
//! shape the answer; every failure becomes a problem+json response in [`error`].

pub mod api;
pub mod audit;
pub mod auth;
pub mod demo;
pub mod edge;
pub mod error;
pub mod extract;
pub mod floor;
pub mod hardening;
pub mod hub;
pub mod ids;
pub mod limits;
pub mod login;
pub mod metrics;
pub mod openapi;
pub mod page;
pub mod sync;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use store::Store;

/// Largest request body accepted (a batch of 1,000 movements is about 200 KiB).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What every handler shares. Nothing in it is needed for correctness beyond the store, so
/// any number of nodes can serve the same database.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// The warehouse that fulfils orders that name no location.
    pub default_location: Option<domain::ids::LocationCode>,
    /// Wakes event-stream subscribers when the log grows.
    pub events: Arc<hub::EventHub>,
    /// Recently authenticated tokens.
    pub tokens: Arc<auth::TokenCache>,
    /// Counters for `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// Per-token request budgets (unlimited unless set).
    pub limits: Arc<limits::RateLimiter>,
    /// Browser origins allowed to call the API (none unless set).
    pub cors: Arc<limits::Cors>,
    /// This process's broker relays and inbound consumers.
    pub sinks: Arc<sync::Sinks>,
    /// The webhook sender, shared by the delivery worker and manual redeliveries.
    pub webhooks: Arc<sync::webhooks::Webhooks>,
    /// Settings of the shop-floor routes (RFID window, scale label layouts).
    pub floor: Arc<floor::FloorConfig>,
    /// Appends the audit trail's entries in groups.
    pub audit: Arc<audit::AuditWriter>,
}

impl AppState {
    /// The state of a node on `store`, starting its event hub and audit writer (needs a
    /// Tokio runtime).
    pub fn new(store: Arc<dyn Store>, default_location: Option<domain::ids::LocationCode>) -> Self {
        let events = hub::EventHub::start(store.clone());
        let audit = audit::AuditWriter::start(store.clone());
        Self {
            store,
            default_location,
            events,
            tokens: Arc::default(),
            metrics: Arc::default(),
            limits: Arc::default(),
            cors: Arc::default(),
            sinks: Arc::default(),
            webhooks: Arc::default(),
            floor: Arc::default(),
            audit,
        }
    }

    /// Limits each token to `per_second` requests a second (0: unlimited).
    #[must_use]
    pub fn with_rate_limit(mut self, per_second: u32) -> Self {
        self.limits = Arc::new(limits::RateLimiter::new(per_second));
        self
    }

    /// Lets browsers on these origins call the API (`*`: any).
    #[must_use]
    pub fn with_cors(mut self, origins: Vec<String>) -> Self {
        self.cors = Arc::new(limits::Cors::new(origins));
        self
    }
}

/// The complete application: API routes, body limit, request logging.
pub fn build_app(state: AppState) -> Router {
    Router::new()
        .merge(api::routes().into_router())
        .route_layer(middleware::from_fn_with_state(state.clone(), audit::record))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::observe,
        ))
        // Not observed: scrapes would fill the request metrics with themselves.
        .merge(
            openapi::Routes::new()
                .op("getMetrics", metrics::expose)
                .into_router(),
        )
        .fallback(error::not_found_route)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            poke_after_writes,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), limits::cors))
        .layer(middleware::from_fn(log_request))
        .layer(middleware::from_fn(hardening::protect))
        .with_state(state)
}

/// After a successful write, wake this node's event subscribers at once.
async fn poke_after_writes(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let write = !matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let response = next.run(request).await;
    if write && response.status().is_success() {
        state.events.poke();
    }
    response
}

async fn log_request(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let id = request
        .extensions()
        .get::<hardening::RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(request_id = %id, %method, %path, status = response.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    response
}
