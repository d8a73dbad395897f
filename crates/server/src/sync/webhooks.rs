//! The webhook delivery worker: for each enabled subscription, one node at a time (the
//! holder of the subscription's lease) POSTs the events after its position, signed, one at
//! a time, and moves the position only after a 2xx. A failure is retried with exponential
//! backoff and jitter, and the events behind it wait: order is the log's order, with no
//! gaps. Sustained failure disables the subscription (the store decides, in the same
//! transaction as it records the attempt). See `docs/decisions/0006-webhook-delivery.md`.
//!
//! The worker wakes on the [`crate::hub::EventHub`] (at once for writes made through this
//! node, within its poll for other nodes) and on [`Webhooks::touch`] when a subscription
//! is created or changed through this node; it looks for subscriptions it does not serve
//! yet (created through other nodes) every [`WebhookConfig::scan_every`].

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use store::webhooks::{
    DeliveryOutcome, DisablePolicy, LeaseClaim, NewDelivery, Webhook, lease_name,
};
use store::{Event, EventFilter, StoreError};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};

use crate::AppState;
use crate::sync::signature;

/// How long a receiver has to answer (the spec recommends 15 to 30 s).
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Events read from the log at a time.
const BATCH: i64 = 100;
/// Most bytes of a failed answer kept in the delivery log.
const SNIPPET: usize = 200;

/// What the worker and the API share: the HTTP client and the doorbell for subscription
/// changes.
pub struct Webhooks {
    client: Result<reqwest::Client, String>,
    changes: watch::Sender<u64>,
}

impl Default for Webhooks {
    fn default() -> Self {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            // The spec: a redirect is a failure; the subscription's URL should be fixed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Stockbook-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string());
        if let Err(e) = &client {
            tracing::error!(error = %e, "no HTTP client: webhooks cannot be delivered");
        }
        Self {
            client,
            changes: watch::Sender::new(0),
        }
    }
}

/// The result of one attempt, ready to record, and the receiver's `Retry-After`.
pub struct Attempt {
    /// The log entry to record.
    pub delivery: NewDelivery,
    /// How long the receiver asked to wait, if it did.
    pub retry_after: Option<Duration>,
}

impl Webhooks {
    /// Says that a subscription was created, changed or replayed through this node, so
    /// the worker looks at it now rather than at its next scan.
    pub fn touch(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes on every [`Webhooks::touch`].
    fn watch(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// POSTs `event` to the subscription once, signed, and says what happened.
    pub async fn send(&self, w: &Webhook, event: &Event, attempt: i64, manual: bool) -> Attempt {
        let attempted_at = Utc::now();
        let started = Instant::now();
        let (status_code, error, retry_after) = match self.post(w, event).await {
            Ok((status, retry_after, snippet)) => {
                let ok = (200..300).contains(&status);
                let error = (!ok).then(|| match snippet {
                    Some(s) if !s.is_empty() => format!("HTTP {status}: {s}"),
                    _ => format!("HTTP {status}"),
                });
                (Some(i64::from(status)), error, retry_after)
            }
            Err(e) => (None, Some(e), None),
        };
        Attempt {
            delivery: NewDelivery {
                webhook_id: w.id,
                event_seq: event.seq,
                event_id: event.id.clone(),
                event_type: event.kind.clone(),
                attempt,
                manual,
                attempted_at,
                status_code,
                error,
                duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            },
            retry_after,
        }
    }

    /// The status, `Retry-After` and start of the body of one signed POST.
    async fn post(
        &self,
        w: &Webhook,
        event: &Event,
    ) -> Result<(u16, Option<Duration>, Option<String>), String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let body = payload(event);
        let id = signature::message_id(&event.id);
        let timestamp = Utc::now().timestamp();
        let signature = signature::sign(&w.secret, &id, timestamp, &body)
            .ok_or("the subscription's secret is not whsec_ + base64")?;
        let mut response = client
            .post(&w.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let snippet = if (200..300).contains(&status) {
            None
        } else {
            // The first chunk is enough to say what went wrong; never read a huge body.
            response.chunk().await.ok().flatten().map(|b| {
                let text = String::from_utf8_lossy(&b[..b.len().min(SNIPPET)]).into_owned();
                text.chars().filter(|c| !c.is_control()).collect()
            })
        };
        Ok((status, retry_after, snippet))
    }
}

/// The body of a delivery: the event as `GET /events` shows it, plus `timestamp` (when it
/// happened) as the Standard Webhooks payload recommends.
pub fn payload(event: &Event) -> Vec<u8> {
    let mut value = serde_json::to_value(event).unwrap_or(serde_json::Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "timestamp".to_owned(),
            serde_json::Value::String(event.occurred_at.to_rfc3339()),
        );
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

/// A transport error in a few words, with its cause (`connection refused`, `timed out`).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {cause}")
    }
}

/// How the worker retries, gives up and shares the work.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Wait after the first failure; doubled after each further one.
    pub retry_base: Duration,
    /// Longest wait between two attempts.
    pub retry_cap: Duration,
    /// When a failing subscription is disabled.
    pub disable: DisablePolicy,
    /// How long a node's claim on a subscription lasts unless renewed (renewed at a third).
    pub lease_ttl: Duration,
    /// How often to look for subscriptions nobody serves.
    pub scan_every: Duration,
    /// This node's name in the lease table.
    pub holder: String,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            retry_base: Duration::from_secs(1),
            retry_cap: Duration::from_secs(300),
            disable: DisablePolicy {
                after_failures: 20,
                after: chrono::Duration::hours(24),
            },
            lease_ttl: Duration::from_secs(30),
            scan_every: Duration::from_secs(5),
            holder: node_name(),
        }
    }
}

/// A name for this process in lease tables: its pid and a random tag.
pub fn node_name() -> String {
    let mut tag = [0u8; 4];
    let _ = getrandom::fill(&mut tag);
    let tag: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("node-{}-{tag}", std::process::id())
}

/// The wait before the attempt that follows `failures` failures in a row: `base * 2^(n-1)`
/// capped at `cap`, then "equal jitter" (a random point in its upper half), and at least
/// what the receiver asked for with `Retry-After` (itself capped).
pub fn backoff(config: &WebhookConfig, failures: i64, retry_after: Option<Duration>) -> Duration {
    let doublings = u32::try_from(failures.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let full = config
        .retry_base
        .saturating_mul(1 << doublings)
        .min(config.retry_cap);
    let mut r = [0u8; 8];
    let _ = getrandom::fill(&mut r);
    let fraction = (u64::from_le_bytes(r) % 1001) as f64 / 1000.0;
    let jittered = full / 2 + full.mul_f64(fraction / 2.0);
    jittered.max(retry_after.unwrap_or_default().min(config.retry_cap))
}

/// The running worker; stops (with every delivery task) when dropped.
pub struct WebhookWorker {
    supervisor: tokio::task::JoinHandle<()>,
}

impl Drop for WebhookWorker {
    fn drop(&mut self) {
        self.supervisor.abort();
    }
}

impl WebhookWorker {
    /// Starts delivering for every enabled subscription this node can claim.
    pub fn start(state: AppState, config: WebhookConfig) -> Self {
        Self {
            supervisor: tokio::spawn(supervise(state, Arc::new(config))),
        }
    }
}

/// Finds enabled subscriptions that no task of this node serves and starts one for each;
/// the task exits when another node holds the lease, and is tried again at the next scan.
async fn supervise(state: AppState, config: Arc<WebhookConfig>) {
    let mut tasks = JoinSet::new();
    let mut running: HashMap<i64, AbortHandle> = HashMap::new();
    let mut changes = state.webhooks.watch();
    loop {
        while tasks.try_join_next().is_some() {}
        running.retain(|_, task| !task.is_finished());
        match enabled_webhooks(&state).await {
            Ok(ids) => {
                for id in ids {
                    if let Entry::Vacant(slot) = running.entry(id) {
                        let task = Subscription {
                            changes: state.webhooks.watch(),
                            state: state.clone(),
                            config: config.clone(),
                            id,
                            renewed: Instant::now(),
                        };
                        slot.insert(tasks.spawn(task.run()));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "webhook worker cannot list subscriptions"),
        }
        tokio::select! {
            _ = changes.changed() => {}
            () = tokio::time::sleep(config.scan_every) => {}
        }
    }
}

async fn enabled_webhooks(state: &AppState) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.list_webhooks(after, 500).await?;
        ids.extend(page.iter().filter(|w| w.enabled).map(|w| w.id));
        if page.len() < 500 {
            return Ok(ids);
        }
        after = page.last().map(|w| w.id);
    }
}

/// Why a delivery task stops.
#[derive(Debug)]
enum Stop {
    /// Another node holds the lease now.
    LeaseLost,
    /// Disabled, paused or deleted.
    NotEnabled,
    /// The database failed; the next scan starts over.
    Store(StoreError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => Stop::NotEnabled,
            other => Stop::Store(other),
        }
    }
}

/// What became of one event.
enum Sent {
    /// Delivered; the position moved on.
    Delivered,
    /// The subscription changed under us (replayed, re-enabled): read it again.
    Stale,
}

/// One subscription served by this node.
struct Subscription {
    state: AppState,
    config: Arc<WebhookConfig>,
    id: i64,
    renewed: Instant,
    changes: watch::Receiver<u64>,
}

impl Subscription {
    fn claim(&self) -> LeaseClaim {
        LeaseClaim {
            holder: self.config.holder.clone(),
            until: Utc::now() + self.config.lease_ttl,
        }
    }

    fn renew_every(&self) -> Duration {
        self.config.lease_ttl / 3
    }

    /// Takes or renews the lease; `LeaseLost` when another node holds it.
    async fn renew(&mut self) -> Result<(), Stop> {
        let claim = self.claim();
        let held = self
            .state
            .store
            .acquire_lease(&lease_name(self.id), &claim.holder, Utc::now(), claim.until)
            .await?;
        self.renewed = Instant::now();
        if held { Ok(()) } else { Err(Stop::LeaseLost) }
    }

    async fn run(mut self) {
        let stop = match self.renew().await {
            Ok(()) => self.deliver().await,
            Err(stop) => Err(stop),
        };
        self.state.metrics.webhook_position(self.id, None);
        match stop {
            Err(Stop::LeaseLost) => return,
            Err(Stop::Store(e)) => {
                tracing::warn!(webhook = self.id, error = %e, "webhook delivery paused");
            }
            Err(Stop::NotEnabled) | Ok(()) => {}
        }
        let _ = self
            .state
            .store
            .release_lease(&lease_name(self.id), &self.config.holder)
            .await;
    }

    /// Delivers until the subscription is disabled or gone, or the lease is lost.
    async fn deliver(&mut self) -> Result<(), Stop> {
        let mut head = self.state.events.subscribe();
        loop {
            let w = self.state.store.get_webhook(self.id).await?;
            if !w.enabled {
                return Err(Stop::NotEnabled);
            }
            self.state
                .metrics
                .webhook_position(self.id, Some(w.delivered_seq));
            let events = self
                .state
                .store
                .events_after(w.delivered_seq, &EventFilter::default(), BATCH)
                .await?;
            if events.is_empty() {
                let pause = self.renew_every();
                tokio::select! {
                    _ = head.changed() => {}
                    _ = self.changes.changed() => {}
                    () = tokio::time::sleep(pause) => {}
                }
                if self.renewed.elapsed() >= self.renew_every() {
                    self.renew().await?;
                }
                continue;
            }
            self.deliver_batch(&w, &events).await?;
        }
    }

    /// Sends the wanted events of a batch in order and skips the others.
    async fn deliver_batch(&mut self, w: &Webhook, events: &[Event]) -> Result<(), Stop> {
        let mut position = w.delivered_seq;
        let mut failures = w.consecutive_failures;
        let mut skipped = None;
        for event in events {
            if !domain::webhook::wants(&w.event_types, &event.kind) {
                skipped = Some(event.seq);
                continue;
            }
            match self
                .send_until_delivered(w, event, position, failures)
                .await?
            {
                Sent::Delivered => {
                    position = event.seq;
                    failures = 0;
                    skipped = None;
                }
                // Replayed, paused, or taken over by another node: which one, the lease
                // tells (a node that lost it must stop sending at once).
                Sent::Stale => return self.renew().await,
            }
        }
        if let Some(to) = skipped {
            let claim = self.claim();
            let moved = self
                .state
                .store
                .skip_webhook_events(self.id, position, to, &claim)
                .await?;
            self.renewed = Instant::now();
            if !moved {
                return self.renew().await;
            }
        }
        Ok(())
    }

    /// Sends one event until a 2xx, waiting between attempts; every attempt is recorded.
    async fn send_until_delivered(
        &mut self,
        first: &Webhook,
        event: &Event,
        position: i64,
        mut failures: i64,
    ) -> Result<Sent, Stop> {
        let mut w = first.clone();
        loop {
            // Never send on a lease that may have lapsed (after a stall): renew first.
            if self.renewed.elapsed() >= self.renew_every() {
                self.renew().await?;
            }
            let attempt = self
                .state
                .webhooks
                .send(&w, event, failures + 1, false)
                .await;
            let claim = self.claim();
            let recorded = self
                .state
                .store
                .record_delivery(attempt.delivery, position, &claim, &self.config.disable)
                .await?;
            self.renewed = Instant::now();
            let metrics = &self.state.metrics;
            match recorded.outcome {
                DeliveryOutcome::Delivered => {
                    metrics.webhook_attempt(true);
                    metrics.webhook_position(self.id, Some(event.seq));
                    return Ok(Sent::Delivered);
                }
                DeliveryOutcome::Failed { failures: n } => {
                    metrics.webhook_attempt(false);
                    failures = n;
                }
                DeliveryOutcome::Disabled => {
                    metrics.webhook_attempt(false);
                    metrics.webhook_disabled();
                    tracing::warn!(webhook = self.id, url = %w.url, "webhook disabled after sustained failure");
                    return Err(Stop::NotEnabled);
                }
                DeliveryOutcome::Stale | DeliveryOutcome::Manual => return Ok(Sent::Stale),
            }
            self.wait(backoff(&self.config, failures, attempt.retry_after))
                .await?;
            w = self.state.store.get_webhook(self.id).await?;
            if !w.enabled {
                return Err(Stop::NotEnabled);
            }
            if w.delivered_seq != position {
                return Ok(Sent::Stale);
            }
        }
    }

    /// Sleeps, renewing the lease when due (a long backoff must not let it lapse); wakes
    /// early when a subscription changes through this node (an enable, a replay).
    async fn wait(&mut self, duration: Duration) -> Result<(), Stop> {
        let until = Instant::now() + duration;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            let pause = left.min(self.renew_every());
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = self.changes.changed() => return Ok(()),
            }
            if self.renewed.elapsed() >= self.renew_every() {
                self.renew().await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let config = WebhookConfig {
            retry_base: Duration::from_millis(100),
            retry_cap: Duration::from_secs(1),
            ..WebhookConfig::default()
        };
        for (failures, full) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (60, 1000),
        ] {
            for _ in 0..20 {
                let d = backoff(&config, failures, None).as_millis();
                assert!(d >= full / 2 && d <= full, "{failures}: {d} for {full}");
            }
        }
        let asked = backoff(&config, 1, Some(Duration::from_millis(700)));
        assert!(asked >= Duration::from_millis(700));
        let capped = backoff(&config, 1, Some(Duration::from_secs(3600)));
        assert_eq!(capped, Duration::from_secs(1));
    }

    #[test]
    fn the_payload_is_the_event_with_a_timestamp() {
        let event = Event {
            seq: 7,
            id: "stock:m.1".into(),
            kind: "stock.changed".into(),
            aggregate: "stock:WH/A".into(),
            location: Some("WH".into()),
            sku: Some("A".into()),
            customer: None,
            occurred_at: Utc::now(),
            data: serde_json::json!({"on_hand": 3}),
        };
        let body: serde_json::Value = serde_json::from_slice(&payload(&event)).unwrap();
        assert_eq!(
            (
                body["seq"].as_i64(),
                body["type"].as_str(),
                body["data"]["on_hand"].as_i64()
            ),
            (Some(7), Some("stock.changed"), Some(3))
        );
        assert_eq!(
            body["timestamp"].as_str(),
            Some(event.occurred_at.to_rfc3339().as_str())
        );
    }
}
