//! Stored alerts and low-stock thresholds, as the store hands them out.
//!
//! See `domain::alert` for the rules (kinds, states, crossing). Stock alerts are raised by
//! the store itself in the transaction of the movement that crosses a threshold; other
//! parts of the system raise theirs through [`crate::Store::raise_alert`].

use chrono::{DateTime, Utc};
use domain::alert::AlertState;
use serde::{Deserialize, Serialize};

/// An alert as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Alert {
    /// Its number, increasing in the order alerts were raised.
    pub id: i64,
    /// What kind of condition (`low_stock`, `negative_stock`, `webhook_failing`, `sink_lag`, …).
    pub kind: String,
    /// What it is about, unique among open alerts of its kind (`WH-SH/TEA-1`, a webhook id,
    /// a sink name).
    pub key: String,
    /// Open or acknowledged.
    pub state: AlertState,
    /// The location concerned, for filtering.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    /// The SKU concerned, for filtering.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sku: Option<String>,
    /// One sentence for people.
    pub message: String,
    /// The figures behind it, for programs.
    pub detail: serde_json::Value,
    /// When it was raised (UTC).
    pub raised_at: DateTime<Utc>,
    /// When it was acknowledged.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Who acknowledged it (the token's name).
    pub acknowledged_by: Option<String>,
}

/// An alert to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// See [`Alert::kind`]; checked with `domain::alert::kind`.
    pub kind: String,
    /// See [`Alert::key`].
    pub key: String,
    /// See [`Alert::location`].
    pub location: Option<String>,
    /// See [`Alert::sku`].
    pub sku: Option<String>,
    /// See [`Alert::message`].
    pub message: String,
    /// See [`Alert::detail`].
    pub detail: serde_json::Value,
}

/// What [`crate::Store::raise_alert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raised {
    /// The new alert, or the open one of the same kind and key.
    pub alert: Alert,
    /// False when an open alert of the same kind and key existed, so nothing changed.
    pub created: bool,
}

/// Which alerts to list; absent fields match all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only this state.
    pub state: Option<AlertState>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this location.
    pub location: Option<String>,
    /// Only this SKU.
    pub sku: Option<String>,
}

/// A low-stock threshold of one level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Threshold {
    /// The location.
    pub location: String,
    /// The SKU.
    pub sku: String,
    /// A `low_stock` alert is raised when available stock falls to or below this.
    pub low_stock: i64,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}
