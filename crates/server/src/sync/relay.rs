//! The relay loop shared by every broker: lease, read, publish, confirm, advance.
//!
//! One task per sink. It holds the sink's lease (a [`store::Store`] use case) while it
//! publishes, so one node at a time publishes to a sink. It reads the log after the sink's
//! cursor in pages, publishes a page pipelined (every message of it in flight at once),
//! then awaits the confirmations in log order and stores the highest `seq` confirmed with
//! every event before it. Anything that fails — the broker, the connection, a confirmation
//! that does not come — drops the connection and starts again from the stored cursor after a
//! backoff, so events may be published twice but never skipped, and one aggregate's events
//! go out in log order. Between pages it sleeps on the [`EventHub`] (woken by new events),
//! renewing the lease every third of its lifetime.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use store::{Event, EventFilter, Store};
use tokio::sync::watch;

use super::{BrokerError, Sinks};
use crate::hub::EventHub;

/// Events read and published per page.
const PAGE: i64 = 1000;
/// How long a published message may wait for its confirmation.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(15);

/// A broker's confirmation that it has one message safe.
pub type Confirm = Pin<Box<dyn Future<Output = Result<(), BrokerError>> + Send>>;

/// A live connection to a broker, publishing one event at a time.
#[async_trait::async_trait]
pub(crate) trait Publisher: Send {
    /// Sends `event` (serialised as `body`) and returns the wait for its confirmation; an
    /// error means the connection is unusable.
    async fn publish(&mut self, event: &Event, body: Vec<u8>) -> Result<Confirm, BrokerError>;
    /// Closes the connection politely (on shutdown or a lost lease).
    async fn close(&mut self);
}

/// How to reach a sink's broker.
#[async_trait::async_trait]
pub(crate) trait Connector: Send + Sync {
    /// `amqp` or `nats`.
    fn kind(&self) -> &'static str;
    /// The sink's name, the key of its cursor and lease.
    fn name(&self) -> String;
    /// Connects and declares what publishing needs (exchange, stream).
    async fn connect(&self) -> Result<Box<dyn Publisher>, BrokerError>;
}

/// What every relay task of a node shares.
#[derive(Clone)]
pub(crate) struct RelayContext {
    pub store: Arc<dyn Store>,
    pub hub: Arc<EventHub>,
    pub sinks: Arc<Sinks>,
    pub holder: String,
    pub lease: Duration,
}

/// Waits with exponential backoff (with jitter) after failures: 200 ms doubling to 2 s.
pub(crate) struct Backoff(u32);

impl Backoff {
    pub(crate) fn new() -> Self {
        Self(0)
    }

    pub(crate) fn next(&mut self) -> Duration {
        let base = 200u64 << self.0.min(5);
        self.0 += 1;
        let jitter = u64::from(chrono::Utc::now().timestamp_subsec_millis()) % (base / 4 + 1);
        Duration::from_millis(base.min(2000) + jitter)
    }

    pub(crate) fn reset(&mut self) {
        self.0 = 0;
    }
}

/// Sleeps for `d` unless asked to stop first; true when stopping.
pub(crate) async fn pause(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(d) => false,
        _ = stop.changed() => true,
    }
}

/// Why the publishing loop ended.
enum Ended {
    Stopped,
    LeaseLost,
    Failed(BrokerError),
}

/// Runs the relay of one sink until `stop` turns true, then gives its lease up.
pub(crate) async fn run(
    ctx: RelayContext,
    connector: Box<dyn Connector>,
    mut stop: watch::Receiver<bool>,
) {
    let (sink, kind) = (connector.name(), connector.kind());
    ctx.sinks.register(&sink, kind, &ctx.holder);
    let ttl_ms = i64::try_from(ctx.lease.as_millis()).unwrap_or(i64::MAX);
    let mut backoff = Backoff::new();
    loop {
        if *stop.borrow() {
            break;
        }
        let state = match ctx
            .store
            .acquire_sink(&sink, kind, &ctx.holder, ttl_ms)
            .await
        {
            Ok(Some(state)) => state,
            Ok(None) => {
                // Another node publishes; look again before its lease could run out.
                ctx.sinks.update(&sink, |s| s.holding = false);
                if pause(&mut stop, ctx.lease / 3).await {
                    break;
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(%sink, error = %e, "relay cannot read its lease");
                if pause(&mut stop, backoff.next()).await {
                    break;
                }
                continue;
            }
        };
        if !ctx.sinks.local(&sink).is_some_and(|s| s.holding) {
            tracing::info!(%sink, holder = %ctx.holder, cursor = state.cursor, "relay took the sink's lease");
        }
        ctx.sinks.update(&sink, |s| s.holding = true);
        let mut publisher = match connector.connect().await {
            Ok(publisher) => publisher,
            Err(e) => {
                failed(&ctx, &sink, &e).await;
                if pause(&mut stop, backoff.next()).await {
                    break;
                }
                continue;
            }
        };
        tracing::info!(%sink, cursor = state.cursor, "relay connected");
        let ended = publish_from(
            &ctx,
            &sink,
            publisher.as_mut(),
            state.cursor,
            &mut stop,
            &mut backoff,
        )
        .await;
        match ended {
            Ended::Stopped => {
                publisher.close().await;
                break;
            }
            Ended::LeaseLost => {
                tracing::warn!(%sink, "relay lost its lease to another node; stopped publishing");
                ctx.sinks.update(&sink, |s| s.holding = false);
                publisher.close().await;
            }
            Ended::Failed(e) => {
                failed(&ctx, &sink, &e).await;
                drop(publisher);
                if pause(&mut stop, backoff.next()).await {
                    break;
                }
            }
        }
    }
    ctx.sinks.update(&sink, |s| s.holding = false);
    if let Err(e) = ctx.store.release_sink(&sink, &ctx.holder).await {
        tracing::warn!(%sink, error = %e, "relay could not give its lease up");
    }
}

/// Records a failure for `/metrics`, `/api/v1/sinks` and the log.
async fn failed(ctx: &RelayContext, sink: &str, error: &BrokerError) {
    tracing::warn!(%sink, %error, "relay failed; retrying from its cursor");
    ctx.sinks.update(sink, |s| {
        s.errors += 1;
        s.last_error = Some(error.0.clone());
    });
    if let Err(e) = ctx
        .store
        .record_sink_error(sink, &ctx.holder, &error.0)
        .await
    {
        tracing::warn!(%sink, error = %e, "relay could not record its error");
    }
}

/// Publishes everything after `cursor` and then whatever comes, until something fails.
async fn publish_from(
    ctx: &RelayContext,
    sink: &str,
    publisher: &mut dyn Publisher,
    mut cursor: i64,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> Ended {
    let ttl_ms = i64::try_from(ctx.lease.as_millis()).unwrap_or(i64::MAX);
    let renew_every = ctx.lease / 3;
    let mut wake = ctx.hub.subscribe();
    let mut renewed = Instant::now();
    loop {
        if *stop.borrow() {
            return Ended::Stopped;
        }
        wake.borrow_and_update();
        let read_at = Instant::now();
        let events = match ctx
            .store
            .events_after(cursor, &EventFilter::default(), PAGE)
            .await
        {
            Ok(events) => events,
            Err(e) => return Ended::Failed(BrokerError(format!("reading the event log: {e}"))),
        };
        if events.is_empty() {
            if renewed.elapsed() >= renew_every {
                match ctx
                    .store
                    .advance_sink(sink, &ctx.holder, cursor, ttl_ms)
                    .await
                {
                    Ok(true) => renewed = Instant::now(),
                    Ok(false) => return Ended::LeaseLost,
                    Err(e) => {
                        return Ended::Failed(BrokerError(format!("renewing the lease: {e}")));
                    }
                }
            }
            let idle = renew_every.saturating_sub(renewed.elapsed());
            tokio::select! {
                changed = wake.changed() => {
                    if changed.is_err() {
                        tokio::time::sleep(crate::hub::POLL).await;
                    }
                }
                () = tokio::time::sleep(idle) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let publish_at = Instant::now();
        let (confirmed, error) = publish_page(publisher, &events).await;
        tracing::debug!(%sink, events = events.len(), read_ms = (publish_at - read_at).as_millis() as u64, publish_ms = publish_at.elapsed().as_millis() as u64, "relay page");
        if confirmed > cursor {
            let count = events.iter().take_while(|e| e.seq <= confirmed).count() as u64;
            match ctx
                .store
                .advance_sink(sink, &ctx.holder, confirmed, ttl_ms)
                .await
            {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => return Ended::LeaseLost,
                Err(e) => return Ended::Failed(BrokerError(format!("storing the cursor: {e}"))),
            }
            cursor = confirmed;
            ctx.sinks.update(sink, |s| s.published += count);
        }
        if let Some(error) = error {
            return Ended::Failed(error);
        }
        backoff.reset();
    }
}

/// Publishes every event of a page, then awaits the confirmations in order. Returns the
/// highest `seq` confirmed with all before it (0 when none) and the first failure.
async fn publish_page(
    publisher: &mut dyn Publisher,
    events: &[Event],
) -> (i64, Option<BrokerError>) {
    let mut pending = Vec::with_capacity(events.len());
    let mut error = None;
    for event in events {
        let body = match serde_json::to_vec(event) {
            Ok(body) => body,
            Err(e) => {
                error = Some(BrokerError(format!("serialising event {}: {e}", event.seq)));
                break;
            }
        };
        match publisher.publish(event, body).await {
            Ok(confirm) => pending.push((event.seq, confirm)),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let mut confirmed = 0;
    for (seq, confirm) in pending {
        match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
            Ok(Ok(())) => confirmed = seq,
            Ok(Err(e)) => return (confirmed, Some(e)),
            Err(_) => {
                return (
                    confirmed,
                    Some(BrokerError(format!(
                        "no confirmation of event {seq} within {CONFIRM_TIMEOUT:?}"
                    ))),
                );
            }
        }
    }
    (confirmed, error)
}
