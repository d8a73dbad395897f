//! The audit trail of the HTTP API: every mutating request, who made it and what it did.
//!
//! A route layer wraps every route. For a `POST`, `PUT`, `PATCH` or `DELETE` it keeps the
//! body, lets the handler run, and then appends one entry to the store's hash-chained trail
//! with the actor and role (filled in by the [`crate::auth::Caller`] extractor through an
//! [`AuditSlot`]), the route, the path, the request id, the client's address, the status and
//! a summary of the body with secrets masked. Refused requests (401, 403, 4xx) are recorded
//! too: an attempt is as interesting as a success.
//!
//! The entry is written after the handler's own transaction, before the response leaves;
//! if writing it fails the response still goes out (the change already happened) and the
//! failure is logged at error level and counted in `/metrics`.
//!
//! The trail is one hash chain, so appends are serialised (one lock on PostgreSQL, the one
//! writer on SQLite). Written one transaction per request, that queue was a cost of every
//! mutating request. [`AuditWriter`] commits in groups instead: requests hand their entry
//! to one task per process, which appends everything that queued up while its previous
//! transaction ran in one transaction, then answers each request. Under load one commit
//! carries many entries; alone, an entry is written at once.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::auth::Principal;
use serde_json::Value;
use store::{NewAudit, Store};

use crate::AppState;
use crate::error::AppError;
use crate::hardening::RequestId;

/// Longest body summary kept, in characters.
const MAX_SUMMARY: usize = 2000;
/// Most entries appended in one transaction.
const MAX_GROUP: usize = 256;
/// Entries waiting for the writer before requests wait to hand theirs over.
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<(), String>>;

/// Appends this process's audit entries in groups: one transaction for all entries that
/// arrived while the previous one was being written.
pub struct AuditWriter {
    queue: mpsc::Sender<(NewAudit, Reply)>,
}

impl AuditWriter {
    /// Starts the writer task on the current Tokio runtime.
    pub fn start(store: Arc<dyn Store>) -> Arc<Self> {
        let (queue, mut arrivals) = mpsc::channel::<(NewAudit, Reply)>(QUEUE);
        tokio::spawn(async move {
            let mut group = Vec::with_capacity(MAX_GROUP);
            while arrivals.recv_many(&mut group, MAX_GROUP).await > 0 {
                let (entries, replies): (Vec<NewAudit>, Vec<Reply>) = group.drain(..).unzip();
                let written = store
                    .append_audits(entries)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string());
                for reply in replies {
                    // A request that went away no longer waits for its answer.
                    let _ = reply.send(written.clone());
                }
            }
        });
        Arc::new(Self { queue })
    }

    /// Appends `entry` and waits until its group has committed.
    pub async fn append(&self, entry: NewAudit) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((entry, reply))
            .await
            .map_err(|_| "the audit writer has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the audit writer has stopped".to_owned())?
    }
}

/// Where the `Caller` extractor leaves the principal for the audit layer to read.
#[derive(Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Option<Principal>>>);

impl AuditSlot {
    /// Records who the caller is.
    pub fn set(&self, principal: &Principal) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(principal.clone());
    }

    fn take(&self) -> Option<Principal> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// Records mutating requests in the audit trail.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let bytes = match to_bytes(body, crate::MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return AppError::Malformed {
                code: "payload_too_large",
                detail: format!("the body is larger than {} bytes", crate::MAX_BODY_BYTES),
            }
            .into_response();
        }
    };
    let slot = AuditSlot::default();
    parts.extensions.insert(slot.clone());
    let action = format!(
        "{} {}",
        parts.method,
        parts
            .extensions
            .get::<MatchedPath>()
            .map_or("?", MatchedPath::as_str)
    );
    let target = parts.uri.path().chars().take(500).collect::<String>();
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let source = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let summary = summarise(&bytes);
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let principal = slot.take();
    let entry = NewAudit {
        at: Utc::now(),
        actor: principal
            .as_ref()
            .map_or_else(|| "anonymous".to_owned(), |p| p.actor.clone()),
        role: principal
            .as_ref()
            .map(|p| p.grant.role.to_string())
            .unwrap_or_default(),
        action,
        target,
        request_id,
        source,
        status: response.status().as_u16(),
        summary,
    };
    if let Err(error) = state.audit.append(entry).await {
        tracing::error!(%error, "could not record the audit entry");
        state.metrics.audit_failed();
    }
    response
}

/// The body as compact JSON with every `password`, `secret` or `token` value masked, cut to
/// [`MAX_SUMMARY`] characters; a body that is not JSON is described by its size.
pub fn summarise(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let Ok(mut value) = serde_json::from_slice::<Value>(body) else {
        return format!("({} bytes, not JSON)", body.len());
    };
    mask(&mut value);
    let text = value.to_string();
    if text.chars().count() > MAX_SUMMARY {
        let cut: String = text.chars().take(MAX_SUMMARY).collect();
        format!("{cut}…")
    } else {
        text
    }
}

fn mask(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let key = key.to_ascii_lowercase();
                if ["password", "secret", "token"]
                    .iter()
                    .any(|s| key.contains(s))
                {
                    *v = Value::String("***".to_owned());
                } else {
                    mask(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_mask_secrets_at_any_depth_and_stay_short() {
        let s =
            summarise(br#"{"username":"a","password":"hunter22!","x":[{"client_secret":"s"}]}"#);
        assert_eq!(
            s,
            r#"{"password":"***","username":"a","x":[{"client_secret":"***"}]}"#
        );
        assert_eq!(summarise(b"not json"), "(8 bytes, not JSON)");
        let long = format!("{{\"a\":\"{}\"}}", "x".repeat(5000));
        assert_eq!(summarise(long.as_bytes()).chars().count(), MAX_SUMMARY + 1);
    }
}
