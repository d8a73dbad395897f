//! Webhook subscriptions, their delivery log, and what the delivery worker asks the store.
//!
//! Delivery is strictly sequential per subscription: the worker holding the
//! subscription's lease sends the event after `delivered_seq`, and only a 2xx answer moves
//! `delivered_seq` on (in [`crate::Store::record_delivery`], together with the log entry),
//! so events arrive in log order with no gaps, at least once. See
//! `docs/decisions/0006-webhook-delivery.md`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A signing secret (`whsec_` + base64). Shown to the client once at creation, kept in the
/// database and in backups (the server must sign with it), never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct WebhookSecret(pub String);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// A subscription as stored (and backed up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Webhook {
    /// Its number.
    pub id: i64,
    /// Where events are POSTed.
    pub url: String,
    /// Event type patterns (`order.created`, `stock.*`); empty means all.
    pub event_types: Vec<String>,
    /// A note for people.
    pub description: Option<String>,
    /// The signing secret.
    pub secret: WebhookSecret,
    /// False when paused by a person or disabled after sustained failure.
    pub enabled: bool,
    /// Why it was disabled automatically, if it was.
    pub disabled_reason: Option<String>,
    /// The `seq` of the last event delivered (or skipped as not wanted); delivery resumes
    /// after it.
    pub delivered_seq: i64,
    /// Failed attempts in a row on the event after `delivered_seq`.
    pub consecutive_failures: i64,
    /// When the current run of failures began.
    pub failing_since: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed by a person (or disabled).
    pub updated_at: DateTime<Utc>,
}

/// A subscription to create; delivery starts after `delivered_seq` (the log head when
/// created, so a new subscriber does not receive the whole history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// See [`Webhook::url`].
    pub url: String,
    /// See [`Webhook::event_types`].
    pub event_types: Vec<String>,
    /// See [`Webhook::description`].
    pub description: Option<String>,
    /// See [`Webhook::secret`].
    pub secret: WebhookSecret,
}

/// One attempt to deliver one event, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Delivery {
    /// Its number.
    pub id: i64,
    /// The subscription.
    pub webhook_id: i64,
    /// The event's position in the log.
    pub event_seq: i64,
    /// The event's id.
    pub event_id: String,
    /// The event's type.
    pub event_type: String,
    /// 1 for the first attempt at this event, 2 for the first retry, …
    pub attempt: i64,
    /// True for a redelivery asked for by a person (it does not move `delivered_seq`).
    pub manual: bool,
    /// When the request was sent.
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i64>,
    /// What went wrong, when something did (no answer, a non-2xx status).
    pub error: Option<String>,
    /// How long the attempt took, in milliseconds.
    pub duration_ms: i64,
    /// True when the receiver answered 2xx.
    pub ok: bool,
}

/// An attempt to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// See [`Delivery::webhook_id`].
    pub webhook_id: i64,
    /// See [`Delivery::event_seq`].
    pub event_seq: i64,
    /// See [`Delivery::event_id`].
    pub event_id: String,
    /// See [`Delivery::event_type`].
    pub event_type: String,
    /// See [`Delivery::attempt`].
    pub attempt: i64,
    /// See [`Delivery::manual`].
    pub manual: bool,
    /// See [`Delivery::attempted_at`].
    pub attempted_at: DateTime<Utc>,
    /// See [`Delivery::status_code`].
    pub status_code: Option<i64>,
    /// See [`Delivery::error`].
    pub error: Option<String>,
    /// See [`Delivery::duration_ms`].
    pub duration_ms: i64,
}

impl NewDelivery {
    /// True when the receiver took it (any 2xx status).
    pub fn ok(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// When a failing subscription is disabled: after at least `after_failures` failed
/// attempts in a row that span at least `after` (both must hold), or at once when the
/// receiver answers `410 Gone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisablePolicy {
    /// Failed attempts in a row.
    pub after_failures: i64,
    /// Time since the first of them.
    pub after: chrono::Duration,
}

/// The worker's claim on a subscription: who holds its lease, and until when to renew it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseClaim {
    /// This node's holder name.
    pub holder: String,
    /// The new expiry of the lease when the write succeeds.
    pub until: DateTime<Utc>,
}

/// What recording an attempt did to the subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Delivered: `delivered_seq` moved to the event.
    Delivered,
    /// Failed; the count of failures in a row.
    Failed {
        /// Failed attempts in a row, this one included.
        failures: i64,
    },
    /// Failed for long enough: the subscription is now disabled and an alert raised.
    Disabled,
    /// Nothing moved: the lease is held by another node, the subscription was paused,
    /// deleted or replayed meanwhile. The worker re-reads it.
    Stale,
    /// A manual redelivery: logged only.
    Manual,
}

/// An attempt as recorded, and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedDelivery {
    /// The log entry (absent when the subscription was deleted meanwhile).
    pub delivery: Option<Delivery>,
    /// What it did.
    pub outcome: DeliveryOutcome,
}

/// The name of a subscription's lease in the store's lease table.
pub fn lease_name(webhook_id: i64) -> String {
    format!("webhook:{webhook_id}")
}
