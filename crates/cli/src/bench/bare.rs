//! The bare HTTP ceilings: a minimal axum server, in this process on 127.0.0.1:0.
//!
//! - Any path but the two below answers one fixed, level-sized JSON document: what serving
//!   a read costs with no authentication, no database and no serialisation of real data.
//!   The same client and the same concurrency cannot go faster than this against any
//!   handler.
//! - `POST /publish` sends its body (an event id) into a tokio `broadcast` channel, and
//!   every `GET /stream` is a Server-Sent Events stream of that channel, each event an
//!   event-sized JSON document: what delivering a commit to SSE subscribers costs with no
//!   database and no event log.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// A body the size and shape of a stock level.
const BODY: &str = r#"{"sku":"BENCH-P000001","location":"BENCH-L01","on_hand":1000,"reserved":0,"available":1000,"incoming":0,"updated_at":"2026-01-01T00:00:00.000000Z"}"#;

/// A running bare server; stopped when dropped.
pub struct BareServer {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl BareServer {
    /// Starts the server on a free port of 127.0.0.1.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the bare HTTP server")?;
        let addr = listener.local_addr()?;
        let (events, _) = broadcast::channel::<String>(1024);
        let app = Router::new()
            .route("/publish", post(publish))
            .route("/stream", get(stream))
            .fallback(|| async { ([(header::CONTENT_TYPE, "application/json")], BODY) })
            .with_state(events);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(%e, "the bare HTTP server stopped");
            }
        });
        Ok(Self { addr, task })
    }

    /// `http://addr` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for BareServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Broadcasts one event id to every stream.
async fn publish(State(events): State<broadcast::Sender<String>>, id: String) -> StatusCode {
    // No subscriber is not an error for a broadcast.
    let _ = events.send(id);
    StatusCode::NO_CONTENT
}

/// Every event broadcast from now on, shaped and sized like a `stock.changed` event.
async fn stream(
    State(events): State<broadcast::Sender<String>>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let receiver = events.subscribe();
    let events = futures_util::stream::unfold((receiver, 0u64), |(mut receiver, seq)| async move {
        loop {
            match receiver.recv().await {
                Ok(id) => {
                    let event = Event::default()
                        .id(seq.to_string())
                        .event("stock.changed")
                        .data(event_json(seq, &id));
                    return Some((Ok(event), (receiver, seq + 1)));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(events)
}

/// A `stock.changed` event as Stockbook's stream sends it, for event `id`.
fn event_json(seq: u64, id: &str) -> String {
    format!(
        r#"{{"seq":{seq},"id":"{id}","type":"stock.changed","aggregate":"stock:BENCH-L00/BENCH-P000000","location":"BENCH-L00","sku":"BENCH-P000000","occurred_at":"2026-01-01T00:00:00.000000Z","data":{{"sku":"BENCH-P000000","location":"BENCH-L00","on_hand":1001,"reserved":0,"available":1001,"movement":{{"seq":{seq},"id":"{id}","kind":"receipt","qty":1,"on_hand_delta":1,"reserved_delta":0,"reason":null}}}}}}"#
    )
}
