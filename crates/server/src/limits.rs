//! Per-token rate limits and CORS: the knobs an operator sets on `serve`.
//!
//! The limit is a token bucket per API token, kept in this node's memory: each token may
//! make `rate` requests a second on average, in bursts of up to twice that. Over it, the
//! answer is 429 with `Retry-After`. With several nodes each keeps its own buckets, so the
//! effective limit is per node; that bounds a runaway client, which is its purpose.
//!
//! CORS answers browsers from the configured origins only: a preflight gets the allowed
//! methods and headers, and responses to those origins carry `Access-Control-Allow-Origin`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::AppError;

/// Most buckets kept; past this the idle ones are dropped.
const MAX_BUCKETS: usize = 100_000;

/// Request budgets per token.
#[derive(Default)]
pub struct RateLimiter {
    /// Requests per second per token; `None`: unlimited.
    rate: Option<f64>,
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter allowing `per_second` requests a second per token (0: unlimited).
    pub fn new(per_second: u32) -> Self {
        Self {
            rate: (per_second > 0).then_some(f64::from(per_second)),
            buckets: Mutex::default(),
        }
    }

    /// Takes one request from `token_id`'s bucket, or says how long to wait.
    pub fn take(&self, token_id: i64) -> Result<(), AppError> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let burst = rate * 2.0;
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs() < 60);
        }
        let (tokens, at) = buckets.entry(token_id).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - *tokens) / rate).ceil().max(1.0);
            Err(AppError::TooManyRequests {
                retry_after: wait as u64,
                detail: format!("more than {rate} requests a second with this token"),
            })
        }
    }
}

/// Origins allowed to call the API from a browser.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<String>,
}

impl Cors {
    /// Allows these origins (`*`: any).
    pub fn new(origins: Vec<String>) -> Self {
        Self { origins }
    }

    fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == "*" || o == origin)
    }
}

/// Answers CORS preflights and marks responses to allowed origins.
pub async fn cors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| state.cors.allows(o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "authorization, content-type, idempotency-key, if-match, last-event-id, x-request-id",
            ),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        r
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("etag, location, retry-after, x-request-id"),
    );
    h.append(header::VARY, HeaderValue::from_static("origin"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_a_burst_then_refuses_with_a_wait() {
        let limiter = RateLimiter::new(5);
        for _ in 0..10 {
            limiter.take(1).unwrap();
        }
        match limiter.take(1) {
            Err(AppError::TooManyRequests { retry_after, .. }) => assert_eq!(retry_after, 1),
            other => panic!("{other:?}"),
        }
        limiter.take(2).unwrap();
        assert!(RateLimiter::new(0).take(1).is_ok());
    }
}
