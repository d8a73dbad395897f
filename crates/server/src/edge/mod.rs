//! The edge node's sync with HQ: a store keeps selling on its own database while HQ is
//! unreachable, and the two converge when the link returns.
//!
//! Three tasks run beside the node's own HTTP API (the same [`build_app`](crate::build_app)
//! on a local database):
//! - **push** ([`push`]): the node's own movements at the store, in ledger order, in
//!   batches to HQ's `POST /api/v1/stock/movements`, idempotent by movement id; the push
//!   cursor moves only after HQ acknowledged a batch, so a batch whose answer was lost is
//!   sent again and HQ answers it as duplicates;
//! - **stock** and **catalog** ([`pull`]): HQ's event stream for the store's
//!   `stock.changed` and for product and location changes, resumed after the persisted
//!   cursors; HQ's figures are mirrored by `Store::edge_mirror`.
//!
//! Each task retries with backoff while HQ is unreachable. Nothing here holds state that a
//! crash could lose: cursors and figures live in the database, written in the same
//! transaction as what they describe. See `docs/decisions/0009-edge-sync.md` and
//! `docs/edge.md`.

mod catalog;
pub mod hq;
mod pull;
mod push;
pub mod sse;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::ids::LocationCode;
use store::edge::{EdgeNote, EdgeState};
use store::{Store, StoreError};

use crate::AppState;
use crate::hub::EventHub;
use crate::metrics::Metrics;
pub use hq::{Hq, HqError};

/// Longest wait between two attempts to reach HQ.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Movements pushed in one request (HQ accepts up to 1,000).
pub const DEFAULT_BATCH: usize = 500;

/// How an edge node reaches HQ.
#[derive(Debug, Clone)]
pub struct EdgeConfig {
    /// HQ's base URL.
    pub hq: String,
    /// The bearer token the node presents to HQ.
    pub token: String,
    /// The store this node serves.
    pub location: LocationCode,
    /// Movements per push.
    pub batch: usize,
    /// Follow HQ by polling `GET /events` instead of the live stream.
    pub poll: bool,
    /// Test hook: end the process right after HQ acknowledged a push and before the cursor
    /// is saved, as a crash at the worst moment would.
    pub exit_after_push: bool,
}

/// What an operator or a POS screen needs to know about the node's link to HQ, as
/// `GET /api/v1/edge/status` and `stockbook edge status` show it.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Status {
    /// HQ's base URL.
    pub hq: String,
    /// The store.
    pub location: LocationCode,
    /// Whether HQ answered the last exchange.
    pub online: bool,
    /// The node's own movements HQ has not acknowledged yet.
    pub pending_movements: i64,
    /// When HQ last acknowledged a push.
    pub last_push_at: Option<DateTime<Utc>>,
    /// The last HQ event seq applied here (stock or catalog).
    pub last_pull_seq: i64,
    /// The last moment the node and HQ were known to agree.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// 0 while HQ answers and nothing is pending, else seconds since `last_sync_at`.
    pub lag_seconds: i64,
    /// When the first copy of HQ's catalog and figures was taken.
    pub bootstrapped_at: Option<DateTime<Utc>>,
    /// When an event from HQ's stock stream was last mirrored.
    pub last_pull_at: Option<DateTime<Utc>>,
    /// HQ's last event seq of the store's stock stream applied here.
    pub stock_seq: i64,
    /// HQ's last event seq of the catalog stream applied here.
    pub catalog_seq: i64,
    /// Movements HQ refused, taken back locally.
    pub refused_movements: i64,
    /// The last failure to reach HQ, or HQ's last refusal.
    pub last_error: Option<String>,
}

impl Status {
    /// The status of `state` at `now`.
    pub fn of(state: EdgeState, now: DateTime<Utc>) -> Self {
        let lag_seconds = state.lag_seconds(now);
        let s = state.sync;
        Self {
            hq: s.hq,
            location: s.location,
            online: s.online,
            pending_movements: state.pending_movements,
            last_push_at: s.last_push_at,
            last_pull_seq: s.stock_seq.max(s.catalog_seq),
            last_sync_at: s.last_sync_at,
            lag_seconds,
            bootstrapped_at: s.bootstrapped_at,
            last_pull_at: s.last_pull_at,
            stock_seq: s.stock_seq,
            catalog_seq: s.catalog_seq,
            refused_movements: s.refused,
            last_error: s.last_error,
        }
    }
}

/// Why a sync step failed.
#[derive(Debug)]
enum SyncError {
    Hq(HqError),
    Store(StoreError),
}

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncError::Hq(e) => e.fmt(f),
            SyncError::Store(e) => write!(f, "local database: {e}"),
        }
    }
}

impl From<HqError> for SyncError {
    fn from(e: HqError) -> Self {
        SyncError::Hq(e)
    }
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        SyncError::Store(e)
    }
}

/// What the sync tasks share.
struct Ctx {
    store: Arc<dyn Store>,
    hq: Hq,
    config: EdgeConfig,
    link: Link,
    metrics: Arc<Metrics>,
    events: Arc<EventHub>,
}

/// Binds the node's database to HQ and the store (refusing a database bound to another
/// store) and starts the sync tasks on the current runtime.
pub async fn start(state: &AppState, config: EdgeConfig) -> Result<EdgeState, String> {
    let hq = Hq::new(&config.hq, &config.token)?;
    let bound = state
        .store
        .edge_bind(&config.hq, &config.location, Utc::now())
        .await
        .map_err(|e| e.to_string())?;
    let ctx = Arc::new(Ctx {
        store: state.store.clone(),
        hq,
        config,
        link: Link::default(),
        metrics: state.metrics.clone(),
        events: state.events.clone(),
    });
    tokio::spawn(push::run(ctx.clone()));
    tokio::spawn(pull::run(ctx, bound.sync.bootstrapped_at.is_some()));
    Ok(bound)
}

/// Whether HQ answers, as the tasks last saw it; a change is persisted for the status.
#[derive(Default)]
struct Link {
    online: tokio::sync::Mutex<Option<bool>>,
}

impl Link {
    async fn up(&self, store: &dyn Store) {
        self.set(store, true, None).await;
    }

    async fn down(&self, store: &dyn Store, error: &SyncError) {
        if matches!(error, SyncError::Store(_)) {
            tracing::error!(%error, "edge sync: local database failed");
            return;
        }
        self.set(store, false, Some(error.to_string())).await;
    }

    async fn set(&self, store: &dyn Store, online: bool, error: Option<String>) {
        let mut current = self.online.lock().await;
        if *current == Some(online) {
            return;
        }
        match &error {
            None => tracing::info!("edge sync: HQ reachable"),
            Some(e) => tracing::warn!(error = %e, "edge sync: HQ unreachable, retrying"),
        }
        let note = EdgeNote::Link {
            online,
            error,
            now: Utc::now(),
        };
        match store.edge_note(note).await {
            Ok(()) => *current = Some(online),
            Err(e) => tracing::error!(error = %e, "edge sync: cannot record the link state"),
        }
    }
}

/// Growing waits between attempts, with jitter, up to [`MAX_BACKOFF`].
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: Duration::from_millis(50),
        }
    }
}

impl Backoff {
    async fn wait(&mut self) {
        let jitter =
            Duration::from_micros(u64::from(Utc::now().timestamp_subsec_micros() % 50_000));
        tokio::time::sleep(self.next + jitter).await;
        self.next = (self.next * 2).min(MAX_BACKOFF);
    }

    fn reset(&mut self) {
        *self = Self::default();
    }
}
