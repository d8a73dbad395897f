//! The bare HTTP ceiling: a minimal axum server, in this process on 127.0.0.1:0, that
//! answers every request with one fixed, level-sized JSON document. It is what serving a
//! read costs with no authentication, no database and no serialisation of real data: the
//! same client and the same concurrency cannot go faster than this against any handler.

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::http::header;
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
        let app = Router::new()
            .fallback(|| async { ([(header::CONTENT_TYPE, "application/json")], BODY) });
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
