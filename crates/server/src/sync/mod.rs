//! Sync: relays from the event log to brokers, and the inbound movement queue.
//!
//! `stockbook serve --amqp URL` / `--nats URL` starts one relay per broker ([`relay`]): it
//! publishes every event after its sink's persisted cursor, at least once and in log order,
//! and only one node at a time does so per sink (a lease in the database). `--amqp-inbound-queue`
//! starts a consumer applying movement batches from RabbitMQ ([`inbound`]). [`Sinks`] keeps
//! this process's counters for `/metrics` and `GET /api/v1/sinks`. See docs/brokers.md and
//! docs/decisions/0007-broker-relay.md.
//!
//! Webhooks ([`webhooks`], signed per [`signature`]) follow the same rule: each
//! subscription keeps its own position in the log and moves it only once the receiver has
//! the event (docs/webhooks.md, docs/decisions/0006-webhook-delivery.md).

pub mod amqp;
pub mod inbound;
pub mod jetstream;
pub mod keys;
pub mod nats;
pub mod relay;
pub mod signature;
pub mod webhooks;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use store::EventFilter;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::AppState;

/// Why talking to a broker failed (the connection is then dropped and made again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerError(pub String);

impl std::fmt::Display for BrokerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<nats::NatsError> for BrokerError {
    fn from(e: nats::NatsError) -> Self {
        BrokerError(format!("NATS: {e}"))
    }
}

/// Which brokers this node relays to and consumes from.
#[derive(Debug, Clone, Default)]
pub struct BrokerConfig {
    /// RabbitMQ URL (`amqp://user:pass@host:5672/%2f`).
    pub amqp: Option<String>,
    /// The topic exchange events are published to.
    pub amqp_exchange: String,
    /// The queue inbound movement batches are consumed from, if any.
    pub amqp_inbound_queue: Option<String>,
    /// NATS URL (`nats://host:4222`).
    pub nats: Option<String>,
    /// The JetStream stream events are stored in.
    pub nats_stream: String,
    /// The first token of every subject.
    pub nats_subject_prefix: String,
    /// How long a relay's lease lasts without renewal (another node takes over after it).
    pub lease: Duration,
}

impl BrokerConfig {
    /// Checks names before anything connects; the error names the setting.
    pub fn validate(&self) -> Result<(), String> {
        let plain = |s: &str| {
            !s.is_empty()
                && s.len() <= 200
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        };
        if self.amqp.is_some() && !self.amqp_exchange.split(['.', ':']).all(plain) {
            return Err("--amqp-exchange: letters, digits, '-', '_', '.' and ':' only".into());
        }
        if let Some(queue) = &self.amqp_inbound_queue
            && !queue.split(['.', ':']).all(plain)
        {
            return Err("--amqp-inbound-queue: letters, digits, '-', '_', '.' and ':' only".into());
        }
        if self.nats.is_some() {
            if !plain(&self.nats_stream) {
                return Err("--nats-stream: letters, digits, '-' and '_' only".into());
            }
            if !self.nats_subject_prefix.split('.').all(plain) {
                return Err(
                    "--nats-subject-prefix: dot-separated tokens of letters, digits, '-' and '_'"
                        .into(),
                );
            }
        }
        if self.lease < Duration::from_secs(1) {
            return Err("--relay-lease-secs: at least 1".into());
        }
        Ok(())
    }
}

/// This process's view of one sink, for `/metrics` and `GET /api/v1/sinks`.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct LocalSink {
    /// `amqp` or `nats`.
    pub kind: String,
    /// This process's lease holder id (what `holder` shows while it publishes).
    pub holder: String,
    /// Events this process published (and the broker confirmed).
    pub published: u64,
    /// Failures this process met (connection, publish, confirmation).
    pub errors: u64,
    /// True while this process holds the sink's lease.
    pub holding: bool,
    /// The last failure this process met.
    pub last_error: Option<String>,
}

/// The relays and consumers of this process, and their counters.
#[derive(Default)]
pub struct Sinks {
    local: Mutex<BTreeMap<String, LocalSink>>,
    inbound: Mutex<BTreeMap<(String, &'static str), u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Sinks {
    fn register(&self, sink: &str, kind: &str, holder: &str) {
        let mut local = lock(&self.local);
        let entry = local.entry(sink.to_owned()).or_default();
        entry.kind = kind.to_owned();
        entry.holder = holder.to_owned();
    }

    fn update(&self, sink: &str, change: impl FnOnce(&mut LocalSink)) {
        change(lock(&self.local).entry(sink.to_owned()).or_default());
    }

    /// This process's counters of `sink`, if it runs a relay for it.
    pub fn local(&self, sink: &str) -> Option<LocalSink> {
        lock(&self.local).get(sink).cloned()
    }

    fn inbound(&self, queue: &str, outcome: &'static str) {
        *lock(&self.inbound)
            .entry((queue.to_owned(), outcome))
            .or_default() += 1;
    }
}

/// A sink as `GET /api/v1/sinks` shows it: the stored state, the lag, and this process's
/// counters when it runs the sink.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SinkStatus {
    /// The sink's name (`amqp:<exchange>`, `nats:<stream>`).
    pub name: String,
    /// `amqp` or `nats`.
    pub kind: String,
    /// The last `seq` the broker confirmed.
    pub cursor: i64,
    /// The event log's head.
    pub head: i64,
    /// Events not yet confirmed: `head - cursor`.
    pub lag: i64,
    /// Age of the oldest event not yet confirmed, in seconds (0 when none).
    pub lag_seconds: f64,
    /// The node holding the lease, if any holds a live one.
    pub holder: Option<String>,
    /// When that lease ends unless renewed.
    pub lease_until: Option<chrono::DateTime<Utc>>,
    /// The last error the relay recorded, and when.
    pub last_error: Option<String>,
    /// When the last error happened.
    pub last_error_at: Option<chrono::DateTime<Utc>>,
    /// This process's counters, when it runs a relay for this sink.
    pub this_node: Option<LocalSink>,
}

/// Every sink's status, read from the database (so any node answers for all).
pub async fn status(state: &AppState) -> Result<Vec<SinkStatus>, store::StoreError> {
    let head = state.store.event_head().await?;
    let mut out = Vec::new();
    for sink in state.store.list_sinks().await? {
        let oldest = state
            .store
            .events_after(sink.cursor, &EventFilter::default(), 1)
            .await?;
        let lag_seconds = oldest.first().map_or(0.0, |e| {
            (Utc::now() - e.occurred_at).num_milliseconds().max(0) as f64 / 1000.0
        });
        out.push(SinkStatus {
            lag: (head - sink.cursor).max(0),
            head,
            lag_seconds,
            this_node: state.sinks.local(&sink.sink),
            name: sink.sink,
            kind: sink.kind,
            cursor: sink.cursor,
            holder: sink.holder,
            lease_until: sink.lease_until,
            last_error: sink.last_error,
            last_error_at: sink.last_error_at,
        });
    }
    Ok(out)
}

/// Raises a `sink_lag` alert (key: the sink's name) for every sink whose oldest
/// unconfirmed event is older than `threshold`; one open alert per sink, however many
/// nodes check. Returns how many alerts this pass raised.
pub async fn check_lag(state: &AppState, threshold: Duration) -> Result<usize, store::StoreError> {
    let mut raised = 0;
    for sink in status(state).await? {
        if sink.lag == 0 || sink.lag_seconds < threshold.as_secs_f64() {
            continue;
        }
        let alert = store::alerts::NewAlert {
            kind: "sink_lag".to_owned(),
            key: sink.name.clone(),
            location: None,
            sku: None,
            message: format!(
                "{} is {} events ({:.0} s) behind the event log",
                sink.name, sink.lag, sink.lag_seconds
            ),
            detail: serde_json::json!({
                "sink": sink.name,
                "kind": sink.kind,
                "lag": sink.lag,
                "lag_seconds": sink.lag_seconds,
                "holder": sink.holder,
                "last_error": sink.last_error,
            }),
        };
        if state.store.raise_alert(alert, Utc::now()).await?.created {
            raised += 1;
        }
    }
    Ok(raised)
}

/// Checks every sink's lag every `every` until the process ends (see [`check_lag`]). It
/// runs on every node, so a sink whose relay died everywhere is still reported.
pub fn watch_lag(state: AppState, threshold: Duration, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = check_lag(&state, threshold).await {
                tracing::warn!(error = %e, "checking the sinks' lag failed");
            }
        }
    })
}

/// Appends the sinks' series to the `/metrics` text.
pub async fn render_metrics(state: &AppState, out: &mut String) {
    let sinks = match status(state).await {
        Ok(sinks) => sinks,
        Err(e) => {
            tracing::warn!(error = %e, "metrics: cannot read the sinks");
            Vec::new()
        }
    };
    /// Name, type, help, and the value of one sink.
    type Series = (
        &'static str,
        &'static str,
        &'static str,
        fn(&SinkStatus) -> String,
    );
    let series: [Series; 6] = [
        (
            "stockbook_sink_lag_events",
            "gauge",
            "Events not yet confirmed by the sink's broker (head - cursor).",
            |s| s.lag.to_string(),
        ),
        (
            "stockbook_sink_lag_seconds",
            "gauge",
            "Age of the oldest event the sink's broker has not confirmed.",
            |s| s.lag_seconds.to_string(),
        ),
        (
            "stockbook_sink_cursor",
            "gauge",
            "The last seq the sink's broker confirmed.",
            |s| s.cursor.to_string(),
        ),
        (
            "stockbook_sink_leader",
            "gauge",
            "1 while this process holds the sink's lease and publishes.",
            |s| u8::from(s.this_node.as_ref().is_some_and(|l| l.holding)).to_string(),
        ),
        (
            "stockbook_sink_published_total",
            "counter",
            "Events this process published to the sink, confirmed.",
            |s| s.this_node.as_ref().map_or(0, |l| l.published).to_string(),
        ),
        (
            "stockbook_sink_errors_total",
            "counter",
            "Failures this process met publishing to the sink.",
            |s| s.this_node.as_ref().map_or(0, |l| l.errors).to_string(),
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for s in &sinks {
            let _ = writeln!(
                out,
                "{name}{{sink=\"{}\",kind=\"{}\"}} {}",
                s.name,
                s.kind,
                value(s)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP stockbook_inbound_messages_total Inbound queue messages, by outcome."
    );
    let _ = writeln!(out, "# TYPE stockbook_inbound_messages_total counter");
    for ((queue, outcome), n) in lock(&state.sinks.inbound).iter() {
        let _ = writeln!(
            out,
            "stockbook_inbound_messages_total{{queue=\"{queue}\",outcome=\"{outcome}\"}} {n}"
        );
    }
}

/// The relays and consumers started by [`start`]; [`Running::stop`] ends them.
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops every relay and consumer, giving leases up, waiting at most a few seconds.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

/// A lease holder id unique to this process: host, pid and a random suffix.
fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned());
    let mut random = [0u8; 3];
    let _ = getrandom::fill(&mut random);
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{host}/{}/{suffix}", std::process::id())
}

/// Starts the relays and the inbound consumer `config` asks for (needs a Tokio runtime).
pub fn start(state: &AppState, config: &BrokerConfig) -> Running {
    let (stop, stopped) = watch::channel(false);
    let holder = holder_id();
    let ctx = relay::RelayContext {
        store: state.store.clone(),
        hub: state.events.clone(),
        sinks: state.sinks.clone(),
        holder,
        lease: config.lease,
    };
    let mut connectors: Vec<Box<dyn relay::Connector>> = Vec::new();
    if let Some(url) = &config.amqp {
        connectors.push(Box::new(amqp::AmqpSink {
            url: url.clone(),
            exchange: config.amqp_exchange.clone(),
        }));
    }
    if let Some(url) = &config.nats {
        connectors.push(Box::new(jetstream::NatsSink {
            url: url.clone(),
            stream: config.nats_stream.clone(),
            prefix: config.nats_subject_prefix.clone(),
        }));
    }
    let mut tasks: Vec<JoinHandle<()>> = connectors
        .into_iter()
        .map(|connector| tokio::spawn(relay::run(ctx.clone(), connector, stopped.clone())))
        .collect();
    if let (Some(url), Some(queue)) = (&config.amqp, &config.amqp_inbound_queue) {
        let inbound = inbound::InboundContext {
            store: state.store.clone(),
            hub: state.events.clone(),
            metrics: state.metrics.clone(),
            sinks: state.sinks.clone(),
            url: url.clone(),
            queue: queue.clone(),
        };
        tasks.push(tokio::spawn(inbound::run(inbound, stopped.clone())));
    }
    Running { stop, tasks }
}
