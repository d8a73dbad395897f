//! Alerts: conditions a person should look at (stock running low or negative, a webhook
//! that keeps failing, a sink falling behind), and the low-stock thresholds that raise some
//! of them.
//!
//! An alert is identified by its kind and a key (`low_stock` + `WH-SH/TEA-1`); while one is
//! open, raising the same kind and key again changes nothing, so a condition that persists
//! does not flood anyone. Acknowledging closes it; the next occurrence raises a new one.

use serde::{Deserialize, Serialize};

use crate::validation::FieldError;

/// Available stock at a level fell to or below its low-stock threshold.
pub const LOW_STOCK: &str = "low_stock";
/// On-hand stock at a level fell below zero (a sale applied anyway, e.g. offline).
pub const NEGATIVE_STOCK: &str = "negative_stock";
/// A webhook subscription failed for long enough to be disabled.
pub const WEBHOOK_FAILING: &str = "webhook_failing";
/// A publishing sink fell behind the event log by more than its threshold.
pub const SINK_LAG: &str = "sink_lag";

/// Largest accepted threshold (the same bound as a movement's quantity).
pub const MAX_THRESHOLD: i64 = 1_000_000_000;

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Raised and not yet seen to.
    Open,
    /// Someone has seen to it.
    Acknowledged,
}

impl AlertState {
    /// The state as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
        }
    }

    /// Parses a stored or requested state.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        match value {
            "open" => Ok(AlertState::Open),
            "acknowledged" => Ok(AlertState::Acknowledged),
            _ => Err(FieldError::new(
                field,
                "unknown_state",
                format!("{field} is 'open' or 'acknowledged'"),
            )),
        }
    }
}

/// Checks an alert kind (`low_stock`): 1 to 32 lower-case letters, digits and `_`.
pub fn kind(field: &str, value: &str) -> Result<String, FieldError> {
    let ok = !value.is_empty()
        && value.len() <= 32
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(
            field,
            "bad_format",
            format!("{field} is an alert kind like 'low_stock'"),
        ))
    }
}

/// A low-stock threshold as submitted: `{"low_stock": N}`.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ThresholdInput {
    /// Alert when available stock falls to or below this many base units.
    #[cfg_attr(feature = "schemars", schemars(range(min = 0, max = MAX_THRESHOLD)))]
    pub low_stock: i64,
}

impl ThresholdInput {
    /// The validated threshold.
    pub fn validate(&self) -> Result<i64, FieldError> {
        if (0..=MAX_THRESHOLD).contains(&self.low_stock) {
            Ok(self.low_stock)
        } else {
            Err(FieldError::new(
                "low_stock",
                "out_of_range",
                format!("low_stock is a whole number from 0 to {MAX_THRESHOLD}"),
            ))
        }
    }
}

/// True when a change of available stock from `before` to `after` crosses the low-stock
/// threshold downwards: it was above and is now at or below.
pub fn crosses_low(threshold: i64, before: i64, after: i64) -> bool {
    before > threshold && after <= threshold
}

/// True when on-hand stock went from zero or more to below zero.
pub fn crosses_negative(before: i64, after: i64) -> bool {
    before >= 0 && after < 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_is_downwards_only_and_counts_the_threshold_as_low() {
        assert!(crosses_low(5, 6, 5));
        assert!(crosses_low(5, 10, -2));
        assert!(!crosses_low(5, 5, 4), "already low: no new crossing");
        assert!(!crosses_low(5, 4, 8), "going up");
        assert!(!crosses_low(5, 9, 6));
        assert!(crosses_negative(0, -1));
        assert!(!crosses_negative(-1, -3));
        assert!(!crosses_negative(2, 0));
    }

    #[test]
    fn kinds_states_and_thresholds_are_checked() {
        assert!(kind("kind", "sink_lag").is_ok());
        for bad in ["", "Low", "low-stock", "1x", &"k".repeat(33)] {
            assert_eq!(kind("kind", bad).unwrap_err().code, "bad_format", "{bad}");
        }
        assert_eq!(AlertState::parse("state", "open"), Ok(AlertState::Open));
        assert_eq!(
            AlertState::parse("state", "closed").unwrap_err().code,
            "unknown_state"
        );
        assert_eq!(ThresholdInput { low_stock: 0 }.validate(), Ok(0));
        assert!(ThresholdInput { low_stock: -1 }.validate().is_err());
        assert!(
            ThresholdInput {
                low_stock: MAX_THRESHOLD + 1
            }
            .validate()
            .is_err()
        );
    }
}
