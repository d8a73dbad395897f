//! What an edge node keeps about its sync with HQ, and what the sync hands the store.
//!
//! An edge node is a Stockbook database bound to one HQ and one store. Its own movements at
//! the store are queued in ledger order (the local event log is the queue, the push cursor
//! its read position) and pushed to HQ; HQ's stock figures for the store come back through
//! HQ's event stream and are mirrored into the local ledger by
//! [`Store::edge_mirror`](crate::Store::edge_mirror) following `domain::edge`. Everything
//! here is persisted, so a node killed at any moment resumes without losing or doubling
//! anything. See `docs/decisions/0009-edge-sync.md`.

use chrono::{DateTime, Utc};
use domain::ids::{LocationCode, MovementId, Sku};
use domain::stock::{Level, Movement};
use serde::{Deserialize, Serialize};

/// The persisted sync state of an edge node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct EdgeSync {
    /// HQ's base URL.
    pub hq: String,
    /// The store this node serves.
    pub location: LocationCode,
    /// The last local event seq whose movement HQ acknowledged (or that needs no push).
    pub push_cursor: i64,
    /// The last HQ event seq of the store's stock stream mirrored here.
    pub stock_seq: i64,
    /// The last HQ event seq of the catalog stream applied here.
    pub catalog_seq: i64,
    /// When the first copy of HQ's catalog and figures was taken; `None` until then.
    pub bootstrapped_at: Option<DateTime<Utc>>,
    /// Whether HQ answered the last exchange.
    pub online: bool,
    /// When HQ last acknowledged a push.
    pub last_push_at: Option<DateTime<Utc>>,
    /// When the last event from HQ was mirrored.
    pub last_pull_at: Option<DateTime<Utc>>,
    /// The last moment the node and HQ were known to agree (nothing pending, HQ reachable).
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Why the last exchange with HQ failed, or why HQ refused a movement.
    pub last_error: Option<String>,
    /// Movements HQ refused (and the node therefore took back locally).
    pub refused: i64,
    /// When the node was bound.
    pub created_at: DateTime<Utc>,
}

/// The sync state with the figures computed at read time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct EdgeState {
    /// What is persisted.
    #[serde(flatten)]
    pub sync: EdgeSync,
    /// The node's own movements at the store that HQ has not acknowledged yet.
    pub pending_movements: i64,
}

impl EdgeState {
    /// Seconds the node's view may be behind HQ: 0 while HQ is reachable and nothing is
    /// pending, else the time since the two were last known to agree.
    pub fn lag_seconds(&self, now: DateTime<Utc>) -> i64 {
        if self.sync.online && self.pending_movements == 0 {
            return 0;
        }
        let since = self.sync.last_sync_at.unwrap_or(self.sync.created_at);
        (now - since).num_seconds().max(0)
    }
}

/// HQ's figure for one SKU at the store, as its stream or its snapshot reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HqFigure {
    /// The product.
    pub sku: Sku,
    /// HQ's on_hand after the change.
    pub on_hand: i64,
    /// The movement that changed it; `None` for a figure from HQ's snapshot.
    pub movement: Option<HqMovement>,
}

/// A movement at HQ, as its `stock.changed` event describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HqMovement {
    /// The event's seq in HQ's log.
    pub event_seq: i64,
    /// The movement's id at HQ.
    pub id: MovementId,
    /// Its kind as HQ stores it.
    pub kind: String,
    /// Its quantity as submitted.
    pub qty: i64,
    /// The change of on_hand HQ applied.
    pub on_hand_delta: i64,
    /// Its reason.
    pub reason: Option<String>,
}

/// A batch of HQ figures to mirror, in HQ's order, and where the stream stands after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HqStock {
    /// The figures, in HQ's event order.
    pub figures: Vec<HqFigure>,
    /// The stock stream's cursor after this batch.
    pub stock_seq: i64,
    /// Set by the first copy: HQ's catalog was copied up to this seq, and the node is
    /// bootstrapped once this batch commits.
    pub bootstrap: Option<i64>,
    /// When.
    pub now: DateTime<Utc>,
}

/// What mirroring a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Mirrored {
    /// HQ figures for movements made elsewhere (or snapshot figures) that changed the level.
    pub foreign: usize,
    /// The node's own movements that HQ's stream showed back.
    pub own: usize,
    /// Own movements HQ applied with another effect (a count that met another figure),
    /// corrected by the difference.
    pub corrected: usize,
}

/// The node's own movements waiting for HQ, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbox {
    /// Movements to push (the kinds HQ's movements API accepts), in ledger order.
    pub movements: Vec<Movement>,
    /// The local event seq this read reached: push cursor after HQ acknowledged it.
    pub up_to: i64,
    /// Local movements in the range that are not pushed (mirrored from HQ, or of a kind
    /// only the local order flow writes).
    pub skipped: usize,
}

/// A movement HQ did not apply, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The local movement.
    pub id: MovementId,
    /// HQ's code (`insufficient_stock`, `id_reused`, `unknown_sku`, …).
    pub code: String,
    /// HQ's message.
    pub message: String,
}

/// HQ's acknowledgement of a pushed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushAck {
    /// The outbox's `up_to`: the new push cursor.
    pub up_to: i64,
    /// Movements HQ was sent in this batch (0 when the range held none to push).
    pub pushed: usize,
    /// Movements HQ did not apply; each is taken back locally.
    pub refused: Vec<Refusal>,
    /// When.
    pub now: DateTime<Utc>,
}

/// Something the sync learnt that changes no stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EdgeNote {
    /// HQ answered (or not, with why).
    Link {
        /// Whether HQ answered.
        online: bool,
        /// Why not.
        error: Option<String>,
        /// When.
        now: DateTime<Utc>,
    },
    /// HQ's catalog events up to this seq are applied.
    CatalogSeq(i64),
}

/// One location's levels and the last event they reflect, read in one snapshot at HQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct StockSnapshot {
    /// The event log's head in the snapshot: every event up to it is in `levels`, no
    /// later one is.
    pub head: i64,
    /// The location's levels.
    pub levels: Vec<Level>,
}

/// HQ's last known figure of one level, as kept by an edge node (a backup record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct HqLevelRecord {
    /// The store.
    pub location: LocationCode,
    /// The product.
    pub sku: Sku,
    /// HQ's on_hand.
    pub on_hand: i64,
}
