//! JetStream over the minimal client in [`super::nats`]: making sure the stream exists,
//! publishing with `Nats-Msg-Id` and reading the PubAck, and (for tests and tools) a pull
//! consumer. All of it is requests to the `$JS.API` subjects with JSON bodies.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store::Event;

use super::nats::{Client, Message, NatsError};
use super::relay::{Confirm, Connector, Publisher};
use super::{BrokerError, keys};

/// How long a JetStream API request may take.
const API_TIMEOUT: Duration = Duration::from_secs(5);
/// How long JetStream remembers a `Nats-Msg-Id` to drop a duplicate publish.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

fn err(message: impl Into<String>) -> NatsError {
    NatsError(message.into())
}

/// Sends a JetStream API request and returns its JSON answer, or the error it carries.
pub async fn api(client: &Client, subject: &str, body: &Value) -> Result<Value, NatsError> {
    let reply = client
        .request_wait(subject, body.to_string().as_bytes(), API_TIMEOUT)
        .await?;
    if reply.status == Some(503) {
        return Err(err(
            "JetStream is not enabled on this NATS server (no responders)",
        ));
    }
    let answer: Value = serde_json::from_slice(&reply.payload)
        .map_err(|e| err(format!("{subject} answered with bad JSON: {e}")))?;
    if let Some(e) = answer.get("error") {
        return Err(err(format!(
            "{subject}: {} (code {}, err_code {})",
            e["description"].as_str().unwrap_or("error"),
            e["code"],
            e["err_code"]
        )));
    }
    Ok(answer)
}

/// Creates the stream `name` capturing `subject` (file storage, a two-minute duplicate
/// window) unless it exists; returns its info. An existing stream is left as configured.
pub async fn ensure_stream(client: &Client, name: &str, subject: &str) -> Result<Value, NatsError> {
    match api(client, &format!("$JS.API.STREAM.INFO.{name}"), &json!({})).await {
        Ok(info) => Ok(info),
        Err(e) if e.0.contains("err_code 10059") => {
            let config = json!({
                "name": name,
                "subjects": [subject],
                "retention": "limits",
                "storage": "file",
                "discard": "old",
                "num_replicas": 1,
                "duplicate_window": u64::try_from(DUPLICATE_WINDOW.as_nanos()).unwrap_or(u64::MAX),
            });
            api(client, &format!("$JS.API.STREAM.CREATE.{name}"), &config).await
        }
        Err(e) => Err(e),
    }
}

/// Reads a PubAck: `Ok(true)` when stored, `Ok(false)` when JetStream dropped it as a
/// duplicate of a message id it already has (which is also success for the relay).
pub fn pub_ack(reply: &Message) -> Result<bool, NatsError> {
    if reply.status == Some(503) {
        return Err(err("no stream captures this subject (no responders)"));
    }
    let ack: Value = serde_json::from_slice(&reply.payload)
        .map_err(|e| err(format!("a PubAck that is not JSON: {e}")))?;
    if let Some(e) = ack.get("error") {
        return Err(err(format!(
            "JetStream refused the message: {}",
            e["description"].as_str().unwrap_or("error")
        )));
    }
    if ack.get("seq").and_then(Value::as_u64).is_none() {
        return Err(err(format!("a PubAck without seq: {ack}")));
    }
    Ok(!ack["duplicate"].as_bool().unwrap_or(false))
}

/// Creates (or finds) a durable pull consumer reading the whole stream, without acks.
pub async fn pull_consumer(client: &Client, stream: &str, durable: &str) -> Result<(), NatsError> {
    let config = json!({
        "stream_name": stream,
        "config": {"durable_name": durable, "deliver_policy": "all", "ack_policy": "none", "replay_policy": "instant"},
    });
    api(
        client,
        &format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}"),
        &config,
    )
    .await
    .map(drop)
}

/// Pulls up to `batch` messages from a pull consumer, waiting at most `wait` for them.
pub async fn fetch(
    client: &Client,
    stream: &str,
    durable: &str,
    batch: usize,
    wait: Duration,
) -> Result<Vec<Message>, NatsError> {
    let inbox = client.new_inbox();
    let (sid, mut rx) = client.subscribe(&inbox)?;
    let request =
        json!({"batch": batch, "expires": u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX)});
    client.publish(
        &format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"),
        Some(&inbox),
        &[],
        request.to_string().as_bytes(),
    )?;
    let until = Instant::now() + wait + Duration::from_secs(1);
    let mut messages = Vec::new();
    while messages.len() < batch {
        match tokio::time::timeout_at(until.into(), rx.recv()).await {
            Ok(Some(m)) if m.status.is_none() => messages.push(m),
            // 404 no messages, 408 request expired, 409 …: this pull is over.
            Ok(Some(_)) | Err(_) => break,
            Ok(None) => {
                return Err(err(format!(
                    "the NATS connection closed: {}",
                    client.closed().unwrap_or_default()
                )));
            }
        }
    }
    let _ = client.unsubscribe(sid);
    Ok(messages)
}

/// The relay's NATS JetStream sink.
pub(crate) struct NatsSink {
    pub url: String,
    pub stream: String,
    pub prefix: String,
}

struct NatsPublisher {
    client: Client,
    prefix: String,
}

#[async_trait::async_trait]
impl Connector for NatsSink {
    fn kind(&self) -> &'static str {
        "nats"
    }

    fn name(&self) -> String {
        format!("nats:{}", self.stream)
    }

    async fn connect(&self) -> Result<Box<dyn Publisher>, BrokerError> {
        let client = Client::connect(&self.url).await?;
        ensure_stream(&client, &self.stream, &format!("{}.>", self.prefix)).await?;
        Ok(Box::new(NatsPublisher {
            client,
            prefix: self.prefix.clone(),
        }))
    }
}

#[async_trait::async_trait]
impl Publisher for NatsPublisher {
    async fn publish(&mut self, event: &Event, body: Vec<u8>) -> Result<Confirm, BrokerError> {
        let subject = keys::subject(&self.prefix, event);
        let reply = self
            .client
            .request(&subject, &[("Nats-Msg-Id", &event.id)], &body)?;
        Ok(Box::pin(async move {
            let reply = reply
                .await
                .map_err(|_| BrokerError("the NATS connection closed before the PubAck".into()))?;
            pub_ack(&reply)?;
            Ok(())
        }))
    }

    async fn close(&mut self) {}
}
