//! What the broker tests share: the broker URLs (tests skip without them), one lock so
//! tests that restart RabbitMQ do not pull it from under the others, a RabbitMQ consumer
//! that survives broker restarts, a NATS reader, and a load of movement batches.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ExchangeDeclareOptions,
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};
use server::sync::{jetstream, nats};

use crate::helpers::{Client, Server};

/// Broker tests run one at a time: one of them stops RabbitMQ.
pub static BROKERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The URL in `var`, or `None` after a note on stderr (the test then skips).
pub fn url(var: &str, test: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "note: broker test '{test}' skipped: set {var} to run it"
        );
    }
    url
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// One message as a consumer saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub id: String,
    pub seq: i64,
    pub aggregate: String,
}

/// Everything received, in arrival order.
pub type Received = Arc<Mutex<Vec<Seen>>>;

pub fn distinct(received: &Received) -> usize {
    received
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.id.as_str())
        .collect::<HashSet<_>>()
        .len()
}

/// Checks what a consumer received against the log: every event at least once, no
/// stranger, and per aggregate the first deliveries in log order. Returns (messages,
/// duplicates).
pub fn check_delivery(received: &Received, log: &[store::Event]) -> (usize, usize) {
    let received = received.lock().unwrap().clone();
    let by_id: HashMap<&str, &store::Event> = log.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut first: HashSet<&str> = HashSet::new();
    let mut last_seq: BTreeMap<&str, i64> = BTreeMap::new();
    for seen in &received {
        let event = by_id
            .get(seen.id.as_str())
            .unwrap_or_else(|| panic!("a message not in the log: {seen:?}"));
        assert_eq!(
            (seen.seq, seen.aggregate.as_str()),
            (event.seq, event.aggregate.as_str())
        );
        if first.insert(seen.id.as_str()) {
            let last = last_seq.entry(seen.aggregate.as_str()).or_default();
            assert!(
                seen.seq > *last,
                "aggregate {} got event {} after {}",
                seen.aggregate,
                seen.seq,
                last
            );
            *last = seen.seq;
        }
    }
    assert_eq!(first.len(), log.len(), "every event of the log arrived");
    (received.len(), received.len() - first.len())
}

async fn amqp_connect(url: &str) -> lapin::Result<Connection> {
    Connection::connect(url, ConnectionProperties::default()).await
}

/// Declares the relay's exchange (as the relay does) and a durable queue bound to all of
/// it, so nothing published before the consumer starts is lost.
pub async fn amqp_declare(url: &str, exchange: &str, queue: &str) {
    let connection = amqp_connect(url).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let _ = connection.close(200, "bye".into()).await;
}

/// Removes what a test declared.
pub async fn amqp_cleanup(url: &str, exchange: Option<&str>, queues: &[&str]) {
    let Ok(connection) = amqp_connect(url).await else {
        return;
    };
    let Ok(channel) = connection.create_channel().await else {
        return;
    };
    for queue in queues {
        let _ = channel
            .queue_delete((*queue).into(), QueueDeleteOptions::default())
            .await;
    }
    if let Some(exchange) = exchange {
        let _ = channel
            .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
            .await;
    }
    let _ = connection.close(200, "bye".into()).await;
}

/// Consumes `queue` until stopped, acknowledging after recording, reconnecting whenever
/// the broker goes away.
pub fn amqp_consume(url: String, queue: String, received: Received) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let result: lapin::Result<()> = async {
                let connection = amqp_connect(&url).await?;
                let channel = connection.create_channel().await?;
                channel.basic_qos(2000, BasicQosOptions::default()).await?;
                let mut consumer = channel
                    .basic_consume(
                        queue.as_str().into(),
                        "test".into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                while let Some(delivery) = consumer.next().await {
                    let delivery = delivery?;
                    let props = &delivery.properties;
                    let headers = props.headers().clone().unwrap_or_default();
                    let seq = match headers.inner().get("seq") {
                        Some(AMQPValue::LongLongInt(n)) => *n,
                        other => panic!("seq header: {other:?}"),
                    };
                    let aggregate = match headers.inner().get("aggregate") {
                        Some(AMQPValue::LongString(s)) => s.to_string(),
                        other => panic!("aggregate header: {other:?}"),
                    };
                    assert_eq!(props.delivery_mode(), &Some(2), "persistent");
                    let body: Value = serde_json::from_slice(&delivery.data).unwrap();
                    let id = props.message_id().clone().unwrap().to_string();
                    assert_eq!(
                        body["id"].as_str(),
                        Some(id.as_str()),
                        "the body is the event"
                    );
                    assert_eq!(body["seq"].as_i64(), Some(seq));
                    received.lock().unwrap().push(Seen { id, seq, aggregate });
                    delivery.acker.ack(BasicAckOptions::default()).await?;
                }
                Ok(())
            }
            .await;
            if result.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// Every message of a JetStream stream, through a pull consumer, until `want` distinct ids
/// arrived or `deadline` passed.
pub async fn nats_read(url: &str, stream: &str, want: usize, deadline: Duration) -> Received {
    let client = nats::Client::connect(url).await.unwrap();
    jetstream::pull_consumer(&client, stream, "test")
        .await
        .unwrap();
    let received: Received = Arc::default();
    let until = Instant::now() + deadline;
    while distinct(&received) < want && Instant::now() < until {
        let messages = jetstream::fetch(&client, stream, "test", 1000, Duration::from_millis(500))
            .await
            .unwrap();
        for m in messages {
            let body: Value = serde_json::from_slice(&m.payload).unwrap();
            let id = body["id"].as_str().unwrap().to_owned();
            assert_eq!(m.header("Nats-Msg-Id"), Some(id.as_str()));
            received.lock().unwrap().push(Seen {
                id,
                seq: body["seq"].as_i64().unwrap(),
                aggregate: body["aggregate"].as_str().unwrap().to_owned(),
            });
        }
    }
    received
}

/// How many messages a stream stores.
pub async fn nats_stream_messages(url: &str, stream: &str) -> u64 {
    let client = nats::Client::connect(url).await.unwrap();
    let info = jetstream::api(
        &client,
        &format!("$JS.API.STREAM.INFO.{stream}"),
        &json!({}),
    )
    .await
    .unwrap();
    info["state"]["messages"].as_u64().unwrap()
}

pub async fn nats_delete_stream(url: &str, stream: &str) {
    if let Ok(client) = nats::Client::connect(url).await {
        let _ = jetstream::api(
            &client,
            &format!("$JS.API.STREAM.DELETE.{stream}"),
            &json!({}),
        )
        .await;
    }
}

/// Number of SKUs the load spreads over (one aggregate each).
pub const SKUS: usize = 20;

/// Creates the location `WH` and the SKUs `S0`… through `server`.
pub async fn catalog(client: &Client, server: &Server) {
    let (status, _) = client
        .post(
            server.url("/api/v1/locations"),
            &json!({"code": "WH", "name": "WH", "kind": "warehouse"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    for i in 0..SKUS {
        let product = json!({"sku": format!("S{i}"), "name": "x", "unit": "件", "price": 1});
        let (status, _) = client
            .post(server.url("/api/v1/products"), &product)
            .await
            .unwrap();
        assert_eq!(status, 201);
    }
}

/// Batch `n` of 100 receipts spread over the SKUs.
pub fn batch(tag: &str, n: usize) -> Value {
    let movements: Vec<Value> = (0..100)
        .map(|k| json!({"id": format!("{tag}-{n}-{k}"), "sku": format!("S{}", (n + k) % SKUS), "location": "WH", "kind": "receipt", "qty": 1}))
        .collect();
    json!({"movements": movements})
}

/// Posts batches `range` to `base` from 4 concurrent senders; returns when all are applied
/// (retrying a batch the server could not answer, which is safe: movement ids).
pub async fn send_batches(
    token: String,
    bases: Vec<String>,
    tag: &'static str,
    range: std::ops::Range<usize>,
    sent: Arc<std::sync::atomic::AtomicUsize>,
) {
    let senders: Vec<_> = (0..4)
        .map(|s| {
            let (client, bases, sent) = (Client::new(token.clone()), bases.clone(), sent.clone());
            let range = range.clone();
            tokio::spawn(async move {
                for n in range.skip(s).step_by(4) {
                    let base = &bases[n % bases.len()];
                    loop {
                        match client
                            .post(format!("{base}/api/v1/stock/movements"), &batch(tag, n))
                            .await
                        {
                            Ok((200, _)) => break,
                            Ok((status, body)) => panic!("batch {n}: {status} {body}"),
                            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                        }
                    }
                    sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    for s in senders {
        s.await.unwrap();
    }
}

/// The whole event log.
pub async fn log(store: &dyn store::Store) -> Vec<store::Event> {
    store
        .events_after(0, &store::EventFilter::default(), 1_000_000)
        .await
        .unwrap()
}

/// Polls `GET /api/v1/sinks` until the sink has caught up with `head`; the time it took.
pub async fn wait_caught_up(
    client: &Client,
    server: &Server,
    sink: &str,
    head: i64,
    deadline: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let (status, body) = client.get(server.url("/api/v1/sinks")).await;
        assert_eq!(status, 200);
        let item = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == sink)
            .cloned();
        if item
            .as_ref()
            .is_some_and(|s| s["cursor"].as_i64() >= Some(head))
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < deadline,
            "sink {sink} did not catch up with {head}: {item:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
