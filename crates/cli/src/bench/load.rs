//! The load generator every figure shares: a fixed number of clients, each calling its own
//! operation back to back until a deadline or a call budget runs out (whichever comes
//! first), with one latency per call kept for percentiles.
//!
//! An operation is a closure made once per client, so a client can own what must not be
//! shared: its HTTP connection (one `reqwest::Client` per client, for keep-alive), its
//! random sequence, its movement-id counter.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::stats::percentile;

/// How long a single call may take before it counts as an error.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The bounds of one measurement: it stops at whichever is reached first.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall time from the first call.
    pub duration: Duration,
    /// Calls, across every client.
    pub max_calls: u64,
}

/// What one measurement saw.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Operations done (a batch call of 100 movements is 100), not counting failed calls.
    pub ops: u64,
    /// Calls that failed or timed out.
    pub errors: u64,
    /// The first failure, to say why in the report.
    pub first_error: Option<String>,
    /// From the first call until the last client finished.
    pub elapsed: Duration,
    /// Latency of every call, ascending, in microseconds.
    pub latencies_us: Vec<u64>,
}

impl Sample {
    /// Operations per second.
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` latency percentile of calls, in microseconds.
    pub fn latency_us(&self, q: f64) -> Option<u64> {
        percentile(&self.latencies_us, q)
    }
}

/// Runs `clients` clients, each with an operation made by `make_op(client)`, within
/// `limits`. An operation gets the client's call number and returns how many operations
/// the call did; an error is counted, never fatal.
pub async fn drive<M, Op, Fut>(clients: usize, limits: Limits, make_op: M) -> Sample
where
    M: Fn(usize) -> Op,
    Op: FnMut(u64) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<u64>> + Send,
{
    let started = Instant::now();
    let deadline = started + limits.duration;
    let budget = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..clients {
        let mut op = make_op(client);
        let budget = Arc::clone(&budget);
        tasks.spawn(async move {
            let mut seen = Sample::default();
            let mut call = 0;
            while Instant::now() < deadline
                && budget.fetch_add(1, Ordering::Relaxed) < limits.max_calls
            {
                let begun = Instant::now();
                let outcome = tokio::time::timeout(CALL_TIMEOUT, op(call)).await;
                seen.latencies_us
                    .push(u64::try_from(begun.elapsed().as_micros()).unwrap_or(u64::MAX));
                match outcome {
                    Ok(Ok(n)) => seen.ops += n,
                    Ok(Err(e)) => seen.fail(format!("{e:#}")),
                    Err(_) => seen.fail(format!("no answer within {CALL_TIMEOUT:?}")),
                }
                call += 1;
            }
            seen
        });
    }
    let mut total = Sample::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(seen) => total.merge(seen),
            Err(e) => total.fail(format!("a client task failed: {e}")),
        }
    }
    total.elapsed = started.elapsed();
    total.latencies_us.sort_unstable();
    total
}

impl Sample {
    fn fail(&mut self, error: String) {
        self.errors += 1;
        self.first_error.get_or_insert(error);
    }

    fn merge(&mut self, other: Sample) {
        self.ops += other.ops;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latencies_us.extend(other.latencies_us);
    }
}

/// An HTTP client for one load-generator client: one kept-alive connection, no proxy (the
/// bench talks only to 127.0.0.1), and a timeout so no call hangs a run.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .timeout(CALL_TIMEOUT)
        .build()
        .context("building an HTTP client")
}

/// Sends a request and reads the whole answer (so the connection can be reused), failing
/// on any status but 2xx.
pub async fn send(request: reqwest::RequestBuilder) -> anyhow::Result<()> {
    let response = request.send().await?;
    let status = response.status();
    let body = response.bytes().await?;
    if status.is_success() {
        Ok(())
    } else {
        anyhow::bail!("HTTP {status}: {}", String::from_utf8_lossy(&body))
    }
}

/// Sends requests made by `request` from `clients` clients, each with its own kept-alive
/// connection. `request` gets the client's connection, its random sequence and an id
/// prefix unique to the call (`tag-client-call`), and returns the request and how many
/// operations it holds.
pub async fn http_load<F>(
    clients: usize,
    limits: Limits,
    tag: String,
    request: F,
) -> anyhow::Result<Sample>
where
    F: Fn(&reqwest::Client, &mut Rng, String) -> (reqwest::RequestBuilder, u64)
        + Clone
        + Send
        + 'static,
{
    let connections = (0..clients)
        .map(|_| http_client())
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(drive(clients, limits, |client| {
        let http = connections[client].clone();
        let mut rng = Rng::new(client as u64 + 1);
        let (request, tag) = (request.clone(), tag.clone());
        move |call| {
            let (builder, ops) = request(&http, &mut rng, format!("{tag}-{client}-{call}"));
            async move { send(builder).await.map(|()| ops) }
        }
    })
    .await)
}

/// A small, fast, seeded random sequence (xorshift64*), so that every run picks the same
/// keys and the load generator spends its CPU on load, not on randomness.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A sequence for `stream` (a client number, a pair number…); never the zero state.
    pub fn new(stream: u64) -> Self {
        Self(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_measurement_stops_at_its_call_budget_and_counts_failures() {
        let limits = Limits {
            duration: Duration::from_secs(10),
            max_calls: 50,
        };
        let sample = drive(4, limits, |client| {
            move |call: u64| async move {
                if client == 0 && call == 0 {
                    anyhow::bail!("first call fails");
                }
                Ok(2)
            }
        })
        .await;
        assert_eq!(sample.latencies_us.len(), 50);
        assert_eq!(sample.errors, 1);
        assert_eq!(sample.ops, 49 * 2);
        assert!(sample.latencies_us.is_sorted());
    }

    #[test]
    fn random_keys_stay_in_range() {
        let mut rng = Rng::new(0);
        assert!((0..1000).all(|_| rng.below(7) < 7));
    }
}
