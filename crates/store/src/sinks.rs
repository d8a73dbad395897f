//! Broker sinks: where a relay keeps its place in the event log and who may publish.
//!
//! A relay (RabbitMQ, NATS) reads the event log after its sink's cursor, publishes, and
//! moves the cursor only once the broker confirmed everything up to it, so a crash repeats
//! events but never skips one. When several nodes share a database, a lease (holder and
//! expiry, on the database's clock) lets exactly one of them publish to a sink at a time;
//! moving the cursor also renews the lease and fails once another node took it over.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A sink's persisted state, as the relays and `GET /api/v1/sinks` see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct SinkState {
    /// The sink's name, e.g. `amqp:stockbook` or `nats:STOCKBOOK`.
    pub sink: String,
    /// What it publishes to: `amqp` or `nats`.
    pub kind: String,
    /// The last `seq` the broker confirmed, with every event before it.
    pub cursor: i64,
    /// Who holds the lease now; `None` when nobody holds a live one.
    pub holder: Option<String>,
    /// When the live lease ends unless renewed.
    pub lease_until: Option<DateTime<Utc>>,
    /// The last error the relay met, if any (kept after recovery, with its time).
    pub last_error: Option<String>,
    /// When the last error happened.
    pub last_error_at: Option<DateTime<Utc>>,
}
