//! The event log: every committed change, in order, with no gaps.
//!
//! Each write transaction appends its events in the same transaction (a transactional
//! outbox), so an event exists exactly when its change committed. Events are numbered as
//! they are appended, the last writes of their transaction, and a read returns them only up
//! to the log's settled horizon, below which no later commit can add one (see
//! `docs/decisions/0011-event-log-horizon.md`). So a reader that remembers the last `seq` it
//! saw and asks for what follows never misses or repeats an event, and sees the events of
//! one aggregate in the order they happened. Numbers may skip (a rolled-back transaction
//! can use one); readers must not expect them contiguous.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An event as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Event {
    /// Position in the log; a reader never sees a lower one after a higher one.
    pub seq: i64,
    /// Unique id, stable across retries of delivery (brokers de-duplicate on it).
    pub id: String,
    /// What happened: `stock.changed`, `order.created`, `order.status_changed`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The thing it happened to (`stock:WH/TEA-1`, `order:<id>`, `product:TEA-1`); events
    /// of one aggregate are in order.
    pub aggregate: String,
    /// The location concerned, for filtering.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    /// The SKU concerned, for filtering.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sku: Option<String>,
    /// The customer concerned, for filtering.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub customer: Option<String>,
    /// When the change committed (UTC).
    pub occurred_at: DateTime<Utc>,
    /// The event's content.
    pub data: serde_json::Value,
}

/// An event about to be appended; the log gives it its `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// See [`Event::id`].
    pub id: String,
    /// See [`Event::kind`].
    pub kind: &'static str,
    /// See [`Event::aggregate`].
    pub aggregate: String,
    /// See [`Event::location`].
    pub location: Option<String>,
    /// See [`Event::sku`].
    pub sku: Option<String>,
    /// See [`Event::customer`].
    pub customer: Option<String>,
    /// See [`Event::data`].
    pub data: serde_json::Value,
}

/// Which events a reader wants; every field narrows, absent ones match all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only these types.
    pub types: Vec<String>,
    /// Only events concerning this location.
    pub location: Option<String>,
    /// Only events concerning this SKU.
    pub sku: Option<String>,
    /// Only events concerning this customer.
    pub customer: Option<String>,
    /// Only events at these locations, or catalog events (`product.*`, `location.*`);
    /// empty: all. How a caller bound to locations sees the log.
    pub within: Vec<String>,
}

impl EventFilter {
    /// True when `event` passes the filter.
    pub fn matches(&self, event: &Event) -> bool {
        (self.types.is_empty() || self.types.contains(&event.kind))
            && self
                .location
                .as_ref()
                .is_none_or(|l| event.location.as_ref() == Some(l))
            && self
                .sku
                .as_ref()
                .is_none_or(|s| event.sku.as_ref() == Some(s))
            && self
                .customer
                .as_ref()
                .is_none_or(|c| event.customer.as_ref() == Some(c))
            && (self.within.is_empty()
                || match &event.location {
                    Some(location) => self.within.contains(location),
                    None => {
                        event.customer.is_none()
                            && (event.kind.starts_with("product.")
                                || event.kind.starts_with("location."))
                    }
                })
    }
}

/// A random id in UUID v4 form, for events and orders.
pub fn new_id() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_uuid_v4() {
        let (a, b) = (new_id().unwrap(), new_id().unwrap());
        assert_ne!(a, b);
        assert_eq!((a.len(), &a[14..15]), (36, "4"));
    }

    #[test]
    fn filters_narrow_by_every_field() {
        let e = Event {
            seq: 1,
            id: "x".into(),
            kind: "stock.changed".into(),
            aggregate: "stock:WH/A".into(),
            location: Some("WH".into()),
            sku: Some("A".into()),
            customer: None,
            occurred_at: Utc::now(),
            data: serde_json::Value::Null,
        };
        assert!(EventFilter::default().matches(&e));
        assert!(
            EventFilter {
                types: vec!["stock.changed".into()],
                sku: Some("A".into()),
                ..Default::default()
            }
            .matches(&e)
        );
        assert!(
            !EventFilter {
                customer: Some("C".into()),
                ..Default::default()
            }
            .matches(&e)
        );
        assert!(
            !EventFilter {
                types: vec!["order.created".into()],
                ..Default::default()
            }
            .matches(&e)
        );
    }
}
