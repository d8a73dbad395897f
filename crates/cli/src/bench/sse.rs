//! Commit → SSE receipt: how long after a write commits do 100 subscribers of
//! `GET /api/v1/events/stream` hold its event, against the bare broadcast ceiling (a tokio
//! `broadcast` channel feeding 100 SSE streams of a minimal axum server in this process).
//!
//! One writer commits one change at a time (a single receipt through
//! `POST /api/v1/stock/movements`, or a `POST /publish` to the bare server) and waits until
//! every subscriber has its event before the next write, so latencies are those of an idle
//! system's fan-out, not of a queue. A latency is taken from the moment the writer holds
//! the answer to its write (the first moment a client can know that the commit happened)
//! to the moment a subscriber has read the event off its stream; an event that arrives
//! before the answer counts as 0. Both sides use the same client code, the same event size
//! and the same HTTP stack, so the ratio (the ceiling's p99 over Stockbook's: higher is
//! better) is what the event log, the hub and the per-subscriber reads cost.
//!
//! Every subscriber must receive every event once and in order: a lost, repeated or
//! reordered event fails the run's correctness check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::Setup;
use super::load::{Limits, Sample, http_client, send};
use super::pairs::{Ceiling, FigureSpec, RatioOf, Round, interleaved};
use super::report::{Check, Figure};
use super::seed::{location_code, sku_code};
use super::stats::{median, percentile};

/// Subscribers on each side.
pub const SUBSCRIBERS: usize = 100;
/// How long the writer waits for every subscriber to hold an event before it writes the
/// next one anyway.
const EVENT_WAIT: Duration = Duration::from_secs(2);
/// How long the last events of a side may take to arrive before they count as lost.
const DRAIN: Duration = Duration::from_secs(5);
/// How long opening the subscribers' streams may take.
const CONNECT: Duration = Duration::from_secs(30);

/// The only field of an event the bench reads.
#[derive(Deserialize)]
struct EventId {
    id: String,
}

/// One event read by one subscriber.
struct Receipt {
    subscriber: usize,
    id: String,
    at: Instant,
}

/// What one side saw besides its [`Sample`].
#[derive(Debug, Default)]
struct Delivery {
    /// Latencies from the write request being sent, ascending, in microseconds.
    from_request_us: Vec<u64>,
    /// (subscriber, event) receipts that never came.
    lost: u64,
    /// Receipts that repeated an event or came out of commit order.
    disordered: u64,
}

/// An HTTP client for a stream: no overall timeout (a stream lives as long as the side).
fn stream_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .context("building an HTTP client")
}

/// Reads `response` as an SSE stream, sending each event's id with the time it was read.
async fn read_stream(
    subscriber: usize,
    response: reqwest::Response,
    receipts: mpsc::UnboundedSender<Receipt>,
) {
    let mut stream = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        let at = Instant::now();
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let Some(data) = line.strip_prefix(b"data:") else {
                continue;
            };
            if let Ok(event) = serde_json::from_slice::<EventId>(data.trim_ascii()) {
                let receipt = Receipt {
                    subscriber,
                    id: event.id,
                    at,
                };
                if receipts.send(receipt).is_err() {
                    return;
                }
            }
        }
    }
}

/// One side: opens [`SUBSCRIBERS`] streams with `subscribe`, then writes one change at a
/// time with `write` (given the change's id; its event's id is `stock:<id>`) until
/// `limits` are reached, each time waiting for every subscriber to hold the event.
async fn side<S, W>(
    limits: Limits,
    tag: &str,
    subscribe: S,
    write: W,
) -> anyhow::Result<(Sample, Delivery)>
where
    S: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    W: Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
{
    let (receipts_tx, mut receipts) = mpsc::unbounded_channel::<Receipt>();
    let (ready_tx, mut ready) = mpsc::channel::<Result<(), String>>(SUBSCRIBERS);
    let mut streams = tokio::task::JoinSet::new();
    for subscriber in 0..SUBSCRIBERS {
        let request = subscribe(&stream_client()?);
        let (receipts_tx, ready_tx) = (receipts_tx.clone(), ready_tx.clone());
        streams.spawn(async move {
            match request.send().await.and_then(|r| r.error_for_status()) {
                Ok(response) => {
                    let _ = ready_tx.send(Ok(())).await;
                    read_stream(subscriber, response, receipts_tx).await;
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("{e:#}"))).await;
                }
            }
        });
    }
    drop((receipts_tx, ready_tx));
    let connected_by = tokio::time::Instant::now() + CONNECT;
    for _ in 0..SUBSCRIBERS {
        match tokio::time::timeout_at(connected_by, ready.recv()).await {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(e))) => anyhow::bail!("a subscriber could not connect: {e}"),
            Ok(None) | Err(_) => anyhow::bail!("the subscribers did not connect in time"),
        }
    }

    let writer = http_client()?;
    // Event id → (write number, request sent, answer received).
    let mut writes: HashMap<String, (u64, Instant, Option<Instant>)> = HashMap::new();
    let mut seen: Vec<Receipt> = Vec::new();
    let (mut received, mut expected, mut errors) = (0usize, 0usize, 0u64);
    let mut first_error = None;
    let started = Instant::now();
    let deadline = started + limits.duration;
    let mut n = 0u64;
    let mut take = |r: Receipt, writes: &HashMap<_, _>, received: &mut usize| {
        if writes.contains_key(&r.id) {
            *received += 1;
        }
        seen.push(r);
    };
    while Instant::now() < deadline && n < limits.max_calls {
        let id = format!("{tag}-{n}");
        let event = format!("stock:{id}");
        let sent = Instant::now();
        // Known before the write, since its event may arrive before the answer does.
        writes.insert(event.clone(), (n, sent, None));
        n += 1;
        if let Err(e) = send(write(&writer, &id)).await {
            writes.remove(&event);
            errors += 1;
            first_error.get_or_insert(format!("write: {e:#}"));
            continue;
        }
        let answered = Instant::now();
        if let Some(w) = writes.get_mut(&event) {
            w.2 = Some(answered);
        }
        expected += SUBSCRIBERS;
        let wait_until = tokio::time::Instant::from_std(answered + EVENT_WAIT);
        while received < expected {
            match tokio::time::timeout_at(wait_until, receipts.recv()).await {
                Ok(Some(r)) => take(r, &writes, &mut received),
                Ok(None) | Err(_) => break,
            }
        }
    }
    let elapsed = started.elapsed();
    let drained_by = tokio::time::Instant::now() + DRAIN;
    while received < expected {
        match tokio::time::timeout_at(drained_by, receipts.recv()).await {
            Ok(Some(r)) => take(r, &writes, &mut received),
            Ok(None) | Err(_) => break,
        }
    }
    streams.abort_all();

    let mut sample = Sample {
        errors,
        first_error,
        elapsed,
        ..Sample::default()
    };
    let mut delivery = Delivery::default();
    let mut last: Vec<Option<u64>> = vec![None; SUBSCRIBERS];
    let mut got: Vec<u64> = vec![0; SUBSCRIBERS];
    for r in &seen {
        let Some(&(number, sent, Some(answered))) = writes.get(&r.id) else {
            continue;
        };
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        sample
            .latencies_us
            .push(micros(r.at.saturating_duration_since(answered)));
        delivery
            .from_request_us
            .push(micros(r.at.saturating_duration_since(sent)));
        sample.ops += 1;
        if last[r.subscriber].is_some_and(|l| number <= l) {
            delivery.disordered += 1;
        } else {
            got[r.subscriber] += 1;
        }
        last[r.subscriber] = Some(number);
    }
    let written = writes.values().filter(|w| w.2.is_some()).count() as u64;
    delivery.lost = got.iter().map(|&g| written.saturating_sub(g)).sum();
    if delivery.lost > 0 {
        sample.errors += delivery.lost;
        sample.first_error.get_or_insert(format!(
            "{} of {} receipts never came",
            delivery.lost,
            written * SUBSCRIBERS as u64
        ));
    }
    sample.latencies_us.sort_unstable();
    delivery.from_request_us.sort_unstable();
    Ok((sample, delivery))
}

/// Per side, what the rounds saw besides their samples.
#[derive(Debug, Default)]
struct Sides {
    /// p99 from the write request, per measured round, in µs: (ceiling, Stockbook).
    from_request_p99: Vec<(u64, u64)>,
    /// The last ceiling round's p99 from request, waiting for its Stockbook round.
    pending: Option<u64>,
    /// Stockbook's lost and disordered receipts over every round, warm-up included.
    lost: u64,
    disordered: u64,
    events: u64,
}

fn lock(s: &Mutex<Sides>) -> std::sync::MutexGuard<'_, Sides> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The commit → SSE figure and the check that no subscriber lost or reordered an event.
pub async fn sse(setup: &Setup) -> anyhow::Result<(Figure, Check)> {
    let spec = FigureSpec {
        backend: setup.backend,
        key: "sse".to_owned(),
        title: format!("commit → SSE receipt, {SUBSCRIBERS} subscribers, p99"),
        unit: "ms",
        clients: SUBSCRIBERS,
        latency: true,
        ratio_of: RatioOf::P99,
    };
    let sides = Arc::new(Mutex::new(Sides::default()));
    let p99 = |d: &Delivery| percentile(&d.from_request_us, 99.0).unwrap_or(0);
    let pairs = interleaved(
        &setup.probe,
        setup.schedule,
        |round: Round| {
            let (bare, sides) = (setup.bare_url.clone(), Arc::clone(&sides));
            async move {
                let (sample, delivery) = side(
                    round.limits,
                    &format!("sse-c{}", round.tag),
                    |http| http.get(format!("{bare}/stream")),
                    |http, id| {
                        http.post(format!("{bare}/publish"))
                            .body(format!("stock:{id}"))
                    },
                )
                .await?;
                if round.tag != "w" {
                    lock(&sides).pending = Some(p99(&delivery));
                }
                Ok(Ceiling::single("bare broadcast to SSE", sample))
            }
        },
        |round: Round| {
            let sides = Arc::clone(&sides);
            let (stream, movements) = (
                setup.server.url("/api/v1/events/stream"),
                setup.server.url("/api/v1/stock/movements"),
            );
            let token = setup.token.clone();
            async move {
                let (sample, delivery) = side(
                    round.limits,
                    &format!("sse-p{}", round.tag),
                    |http| http.get(&stream).bearer_auth(&token),
                    |http, id| {
                        let body = json!({ "movements": [{
                            "id": id, "sku": sku_code(0), "location": location_code(0),
                            "kind": "receipt", "qty": 1,
                        }]});
                        http.post(&movements).bearer_auth(&token).json(&body)
                    },
                )
                .await?;
                let mut s = lock(&sides);
                s.lost += delivery.lost;
                s.disordered += delivery.disordered;
                s.events += sample.ops + delivery.lost;
                if let Some(ceiling) = s.pending.take() {
                    s.from_request_p99.push((ceiling, p99(&delivery)));
                }
                Ok(sample)
            }
        },
    )
    .await?;
    let mut figure = spec.figure(&pairs);
    let sides = std::mem::take(&mut *lock(&sides));
    let ms = |f: fn(&(u64, u64)) -> u64| {
        median(
            &sides
                .from_request_p99
                .iter()
                .map(|p| f(p) as f64 / 1000.0)
                .collect::<Vec<_>>(),
        )
        .unwrap_or(0.0)
    };
    figure.notes.push(format!(
        "latency from the writer holding the answer to its write; from sending the write \
         instead, p99 {:.2} ms (ceiling {:.2} ms)",
        ms(|p| p.1),
        ms(|p| p.0)
    ));
    let check = Check {
        name: "sse".to_owned(),
        passed: sides.lost == 0 && sides.disordered == 0,
        detail: format!(
            "{} receipts due to {SUBSCRIBERS} subscribers: {} lost, {} repeated or out of order",
            sides.events, sides.lost, sides.disordered
        ),
    };
    Ok((figure, check))
}
