//! `GET /metrics`: Prometheus text exposition of what an operator watches — request
//! latency per route, orders placed and refused by reason, movement outcomes, the event
//! log's head, the live stream's subscribers, and webhook deliveries.
//!
//! Hand-rolled (a few atomics and a mutex-guarded map) to keep the dependency tree lean;
//! the numbers are per process, as Prometheus expects of a scrape target.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// The process's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    orders_placed: AtomicU64,
    orders_refused: Mutex<BTreeMap<&'static str, u64>>,
    movements: Mutex<BTreeMap<&'static str, u64>>,
    sse_subscribers: AtomicI64,
    audit_failures: AtomicU64,
    webhook_attempts: Mutex<BTreeMap<&'static str, u64>>,
    webhooks_disabled: AtomicU64,
    webhook_positions: Mutex<BTreeMap<i64, i64>>,
    edge: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// Records one request to a route template (`/api/v1/orders/{id}`, never the raw path,
    /// so the number of series stays bounded).
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        lock(&self.requests)
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// Counts an audit entry that could not be written.
    pub fn audit_failed(&self) {
        self.audit_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a placed order.
    pub fn order_placed(&self) {
        self.orders_placed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a refused order by its problem code.
    pub fn order_refused(&self, reason: &'static str) {
        *lock(&self.orders_refused).entry(reason).or_default() += 1;
    }

    /// Counts movement outcomes (`applied`, `duplicate`, `rejected`).
    pub fn movement(&self, status: &'static str, n: u64) {
        *lock(&self.movements).entry(status).or_default() += n;
    }

    /// A live-stream subscriber came (+1) or went (-1).
    pub fn sse(&self, delta: i64) {
        self.sse_subscribers.fetch_add(delta, Ordering::Relaxed);
    }

    /// Counts a webhook delivery attempt by the worker, delivered (2xx) or failed.
    pub fn webhook_attempt(&self, delivered: bool) {
        let result = if delivered { "delivered" } else { "failed" };
        *lock(&self.webhook_attempts).entry(result).or_default() += 1;
    }

    /// Counts a subscription disabled after sustained failure.
    pub fn webhook_disabled(&self) {
        self.webhooks_disabled.fetch_add(1, Ordering::Relaxed);
    }

    /// The delivery position of a subscription this process serves (`None`: no longer
    /// served here), for its lag behind the log.
    pub fn webhook_position(&self, webhook: i64, delivered_seq: Option<i64>) {
        let mut positions = lock(&self.webhook_positions);
        match delivered_seq {
            Some(seq) => {
                positions.insert(webhook, seq);
            }
            None => {
                positions.remove(&webhook);
            }
        }
    }

    /// Counts what an edge node's sync did: `stockbook_edge_<name>_total{<label>}`; the
    /// label is `outcome` for pushes, `stream` for pulls, `what` for mirrored figures.
    pub fn edge(&self, name: &'static str, label: &'static str, n: u64) {
        *lock(&self.edge).entry((name, label)).or_default() += n;
    }

    /// The edge node's series: its sync counters, and its state as `state` says it now.
    pub fn render_edge(
        &self,
        state: &store::edge::EdgeState,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let mut out = String::new();
        let gauges = [
            (
                "online",
                "1 while HQ answers this edge node.",
                i64::from(state.sync.online),
            ),
            (
                "pending_movements",
                "The node's own movements HQ has not acknowledged.",
                state.pending_movements,
            ),
            (
                "lag_seconds",
                "Seconds since the node and HQ were last known to agree (0 while in sync).",
                state.lag_seconds(now),
            ),
            (
                "last_pull_seq",
                "The last HQ event seq this node applied.",
                state.sync.stock_seq.max(state.sync.catalog_seq),
            ),
            (
                "refused_movements",
                "Movements HQ refused, taken back locally.",
                state.sync.refused,
            ),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP stockbook_edge_{name} {help}");
            let _ = writeln!(out, "# TYPE stockbook_edge_{name} gauge");
            let _ = writeln!(out, "stockbook_edge_{name} {value}");
        }
        let mut last = "";
        for ((name, label), n) in lock(&self.edge).iter() {
            if *name != last {
                let _ = writeln!(out, "# TYPE stockbook_edge_{name}_total counter");
                last = name;
            }
            let kind = match *name {
                "pushed" => "outcome",
                "pulled" => "stream",
                _ => "what",
            };
            if label.is_empty() {
                let _ = writeln!(out, "stockbook_edge_{name}_total {n}");
            } else {
                let _ = writeln!(out, "stockbook_edge_{name}_total{{{kind}=\"{label}\"}} {n}");
            }
        }
        out
    }

    /// The exposition text.
    pub fn render(&self, event_head: i64) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP stockbook_http_request_duration_seconds Time to answer a request, by route."
        );
        let _ = writeln!(
            out,
            "# TYPE stockbook_http_request_duration_seconds histogram"
        );
        for ((method, route, status), h) in lock(&self.requests).iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "stockbook_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "stockbook_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "stockbook_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "stockbook_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP stockbook_orders_placed_total Orders placed through this process."
        );
        let _ = writeln!(out, "# TYPE stockbook_orders_placed_total counter");
        let _ = writeln!(
            out,
            "stockbook_orders_placed_total {}",
            self.orders_placed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP stockbook_audit_failures_total Audit entries that could not be written."
        );
        let _ = writeln!(out, "# TYPE stockbook_audit_failures_total counter");
        let _ = writeln!(
            out,
            "stockbook_audit_failures_total {}",
            self.audit_failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP stockbook_orders_refused_total Orders refused, by reason."
        );
        let _ = writeln!(out, "# TYPE stockbook_orders_refused_total counter");
        for (reason, n) in lock(&self.orders_refused).iter() {
            let _ = writeln!(
                out,
                "stockbook_orders_refused_total{{reason=\"{reason}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP stockbook_movements_total Movements received, by outcome."
        );
        let _ = writeln!(out, "# TYPE stockbook_movements_total counter");
        for (status, n) in lock(&self.movements).iter() {
            let _ = writeln!(out, "stockbook_movements_total{{status=\"{status}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP stockbook_event_log_head The highest seq in the event log."
        );
        let _ = writeln!(out, "# TYPE stockbook_event_log_head gauge");
        let _ = writeln!(out, "stockbook_event_log_head {event_head}");
        let _ = writeln!(
            out,
            "# HELP stockbook_sse_subscribers Live event streams open on this process."
        );
        let _ = writeln!(out, "# TYPE stockbook_sse_subscribers gauge");
        let _ = writeln!(
            out,
            "stockbook_sse_subscribers {}",
            self.sse_subscribers.load(Ordering::Relaxed)
        );
        self.render_webhooks(&mut out, event_head);
        out
    }

    fn render_webhooks(&self, out: &mut String, event_head: i64) {
        let _ = writeln!(
            out,
            "# HELP stockbook_webhook_attempts_total Webhook delivery attempts by this process, by result (failed counts every failed attempt)."
        );
        let _ = writeln!(out, "# TYPE stockbook_webhook_attempts_total counter");
        let attempts = lock(&self.webhook_attempts);
        for result in ["delivered", "failed"] {
            let n = attempts.get(result).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "stockbook_webhook_attempts_total{{result=\"{result}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP stockbook_webhooks_disabled_total Subscriptions this process disabled after sustained failure."
        );
        let _ = writeln!(out, "# TYPE stockbook_webhooks_disabled_total counter");
        let _ = writeln!(
            out,
            "stockbook_webhooks_disabled_total {}",
            self.webhooks_disabled.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP stockbook_webhook_lag_events Events in the log after a subscription's delivery position (subscriptions this process delivers)."
        );
        let _ = writeln!(out, "# TYPE stockbook_webhook_lag_events gauge");
        for (webhook, seq) in lock(&self.webhook_positions).iter() {
            let _ = writeln!(
                out,
                "stockbook_webhook_lag_events{{webhook=\"{webhook}\"}} {}",
                (event_head - seq).max(0)
            );
        }
    }
}

/// Times each routed request (installed with `route_layer`, so the route is known).
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// `GET /metrics` (no token: scrape it from the internal network only).
pub async fn expose(State(state): State<AppState>) -> Response {
    let head = state.store.event_head().await.unwrap_or(-1);
    let mut text = state.metrics.render(head);
    crate::sync::render_metrics(&state, &mut text).await;
    if let Ok(Some(edge)) = state.store.edge_state().await {
        text.push_str(&state.metrics.render_edge(&edge, chrono::Utc::now()));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_series_are_rendered() {
        let m = Metrics::default();
        m.request(
            "GET",
            "/api/v1/stock/{location}/{sku}",
            200,
            Duration::from_millis(3),
        );
        m.request(
            "GET",
            "/api/v1/stock/{location}/{sku}",
            200,
            Duration::from_millis(40),
        );
        m.order_refused("insufficient_stock");
        m.movement("applied", 5);
        let text = m.render(7);
        assert!(text.contains(r#"stockbook_http_request_duration_seconds_bucket{method="GET",route="/api/v1/stock/{location}/{sku}",status="200",le="0.005"} 1"#), "{text}");
        assert!(text.contains(r#"le="0.05"} 2"#));
        assert!(text.contains(r#"stockbook_orders_refused_total{reason="insufficient_stock"} 1"#));
        assert!(text.contains(r#"stockbook_movements_total{status="applied"} 5"#));
        assert!(text.contains("stockbook_event_log_head 7"));
    }

    #[test]
    fn webhook_attempts_and_lag_are_rendered() {
        let m = Metrics::default();
        m.webhook_attempt(true);
        m.webhook_attempt(false);
        m.webhook_attempt(false);
        m.webhook_position(3, Some(5));
        m.webhook_position(4, Some(1));
        m.webhook_position(4, None);
        let text = m.render(9);
        assert!(text.contains(r#"stockbook_webhook_attempts_total{result="delivered"} 1"#));
        assert!(text.contains(r#"stockbook_webhook_attempts_total{result="failed"} 2"#));
        assert!(text.contains(r#"stockbook_webhook_lag_events{webhook="3"} 4"#));
        assert!(!text.contains(r#"webhook="4""#), "{text}");
    }
}
