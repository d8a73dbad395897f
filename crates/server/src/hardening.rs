//! Cross-cutting protections every response gets: a request id (accepted from the client
//! or made here) in the `x-request-id` header, the logs and every problem body; a time limit
//! on producing a response; and security headers.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// The header carrying the request id, both ways.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// How long a handler may take to produce its response (a stream may then run on).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The id of the request being served, for logs and error bodies.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn fresh_id() -> String {
    let mut bytes = [0u8; 12];
    // Without randomness the id is still unique enough for logs: fall back to the time.
    if getrandom::fill(&mut bytes).is_err() {
        return format!(
            "t{}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Gives the request an id, bounds the time to answer, and stamps the response.
pub async fn protect(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(fresh_id, str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(request_id = %id, %method, %path, "request timed out");
            AppError::Unavailable("the request took too long".to_owned()).into_response()
        }
    };
    let mut response = with_request_id_in_problem(response, &id).await;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID.clone(), value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // The docs page sets its own (its inline script and style, by hash).
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Adds `request_id` to a problem+json body, so a client can quote it to an operator.
async fn with_request_id_in_problem(response: Response, id: &str) -> Response {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == "application/problem+json");
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, 1024 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut problem)) => {
            problem.insert(
                "request_id".to_owned(),
                serde_json::Value::String(id.to_owned()),
            );
            let text = serde_json::Value::Object(problem).to_string();
            parts.headers.remove(header::CONTENT_LENGTH);
            Body::from(text)
        }
        _ => Body::from(bytes),
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_tame_request_ids_are_accepted() {
        assert!(super::acceptable("req-2026-11-22:0001"));
        for bad in ["", "has space", "new\\nline", &"x".repeat(129), "ünï"] {
            assert!(!super::acceptable(bad), "{bad}");
        }
        assert_eq!(super::fresh_id().len(), 24);
    }
}
