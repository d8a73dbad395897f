//! HQ's HTTP API as an edge node uses it: the same public API every client uses, with the
//! node's `--token`, plus `GET /api/v1/edge/snapshot` for the first copy of the store's
//! figures.

use std::time::Duration;

use domain::catalog::{Location, Product};
use domain::ids::{LocationCode, Sku};
use domain::stock::{Movement, MovementInput};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use store::Event;
use store::edge::StockSnapshot;

/// How long a REST call to HQ may take before it counts as HQ being unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting to HQ may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a call to HQ failed.
#[derive(Debug)]
pub enum HqError {
    /// No answer, or HQ failed (5xx): try again later.
    Unreachable(String),
    /// HQ answered with a 4xx: the request (or the token) is wrong as it stands.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The problem+json body, or `null`.
        problem: serde_json::Value,
    },
}

impl std::fmt::Display for HqError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HqError::Unreachable(why) => write!(f, "HQ unreachable: {why}"),
            HqError::Refused { status, problem } => {
                let detail = problem
                    .get("detail")
                    .and_then(|d| d.as_str())
                    .unwrap_or("no detail");
                write!(f, "HQ refused the request ({status}): {detail}")
            }
        }
    }
}

/// HQ's answer for one pushed movement.
#[derive(Debug, Clone, Deserialize)]
pub struct PushResult {
    /// The movement's id.
    pub id: String,
    /// `applied`, `duplicate` or `rejected`.
    pub status: String,
    /// Why it was rejected.
    #[serde(default)]
    pub error: Option<Rejection>,
}

/// Why HQ rejected a movement.
#[derive(Debug, Clone, Deserialize)]
pub struct Rejection {
    /// Stable code.
    pub code: String,
    /// What happened.
    pub message: String,
}

#[derive(Deserialize)]
struct PushResults {
    results: Vec<PushResult>,
}

#[derive(Deserialize)]
struct Page<T> {
    items: Vec<T>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct EventPage {
    items: Vec<Event>,
}

/// A client of one HQ.
#[derive(Clone)]
pub struct Hq {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Hq {
    /// A client of the HQ at `base` (`http://hq.example:8080`), authenticating with `token`.
    pub fn new(base: &str, token: &str) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, HqError> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| HqError::Unreachable(describe(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status.is_server_error() {
            return Err(HqError::Unreachable(format!("HQ answered {status}")));
        }
        let problem = response.json().await.unwrap_or(serde_json::Value::Null);
        Err(HqError::Refused {
            status: status.as_u16(),
            problem,
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, HqError> {
        let response = self
            .send(
                self.http
                    .get(self.url(path))
                    .query(query)
                    .timeout(REQUEST_TIMEOUT),
            )
            .await?;
        response
            .json()
            .await
            .map_err(|e| HqError::Unreachable(format!("reading HQ's answer: {}", describe(&e))))
    }

    /// Every item of a paged list.
    async fn all<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, HqError> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("limit", "500")];
            if let Some(c) = cursor.as_deref() {
                query.push(("cursor", c));
            }
            let page: Page<T> = self.get(path, &query).await?;
            items.extend(page.items);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// The store's levels and the event head they reflect.
    pub async fn snapshot(&self, location: &LocationCode) -> Result<StockSnapshot, HqError> {
        self.get("/edge/snapshot", &[("location", location.as_str())])
            .await
    }

    /// Every location.
    pub async fn locations(&self) -> Result<Vec<Location>, HqError> {
        self.all("/locations").await
    }

    /// Every product.
    pub async fn products(&self) -> Result<Vec<Product>, HqError> {
        self.all("/products").await
    }

    /// One product.
    pub async fn product(&self, sku: &Sku) -> Result<Product, HqError> {
        self.get(&format!("/products/{sku}"), &[]).await
    }

    /// Events after `after` (polling).
    pub async fn events(
        &self,
        after: i64,
        types: &str,
        location: Option<&LocationCode>,
        limit: usize,
    ) -> Result<Vec<Event>, HqError> {
        let (after, limit) = (after.to_string(), limit.to_string());
        let mut query = vec![
            ("after", after.as_str()),
            ("types", types),
            ("limit", &limit),
        ];
        if let Some(l) = location {
            query.push(("location", l.as_str()));
        }
        let page: EventPage = self.get("/events", &query).await?;
        Ok(page.items)
    }

    /// The live stream of events after `after` (an open response to read chunks from).
    pub async fn stream(
        &self,
        after: i64,
        types: &str,
        location: Option<&LocationCode>,
    ) -> Result<reqwest::Response, HqError> {
        let mut query = vec![("types", types)];
        if let Some(l) = location {
            query.push(("location", l.as_str()));
        }
        let response = self
            .send(
                self.http
                    .get(self.url("/events/stream"))
                    .query(&query)
                    .header("last-event-id", after.to_string())
                    .header("accept", "text/event-stream"),
            )
            .await?;
        let is_stream = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if is_stream {
            Ok(response)
        } else {
            Err(HqError::Refused {
                status: 406,
                problem: serde_json::json!({"detail": "HQ's event stream is not text/event-stream"}),
            })
        }
    }

    /// Posts movements to HQ's movements API: one result per movement, in order.
    pub async fn push(&self, movements: &[&Movement]) -> Result<Vec<PushResult>, HqError> {
        let inputs: Vec<MovementInput> = movements
            .iter()
            .map(|m| MovementInput {
                id: m.id.to_string(),
                sku: m.sku.to_string(),
                location: m.location.to_string(),
                kind: m.kind.as_str().to_owned(),
                qty: m.qty,
                reason: m.reason.clone(),
                occurred_at: Some(m.occurred_at),
            })
            .collect();
        let response = self
            .send(
                self.http
                    .post(self.url("/stock/movements"))
                    .json(&serde_json::json!({ "movements": inputs }))
                    .timeout(REQUEST_TIMEOUT),
            )
            .await?;
        let results: PushResults = response
            .json()
            .await
            .map_err(|e| HqError::Unreachable(format!("reading HQ's answer: {}", describe(&e))))?;
        if results.results.len() != movements.len() {
            return Err(HqError::Unreachable(format!(
                "HQ answered {} results for {} movements",
                results.results.len(),
                movements.len()
            )));
        }
        Ok(results.results)
    }
}

/// A reqwest error with its causes, which its `Display` leaves out.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
