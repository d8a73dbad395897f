//! Webhooks end to end: a real receiver on 127.0.0.1 checks every signature with its own
//! verifier (written here from the Standard Webhooks spec, not the server's signer), and
//! the worker delivers in log order through failures, disables a dead receiver, redelivers
//! and replays, and delivers each event once when two nodes share one database.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use server::sync::webhooks::{WebhookConfig, WebhookWorker};
use sha2::{Digest, Sha256};

use crate::helpers::TestApp;

crate::on_both_backends!(
    a_receiver_that_fails_three_times_then_recovers_gets_every_event_in_order,
    a_receiver_that_always_fails_gets_its_webhook_disabled_with_an_alert,
    a_logged_delivery_can_be_sent_again_and_a_replay_goes_back_in_order,
    event_type_filters_deliver_only_the_wanted_events,
    two_nodes_on_one_database_deliver_each_event_once,
    a_subscription_leased_by_another_node_waits_for_it,
);

// ---- The receiver's own verifier, from the spec ------------------------------------------

/// HMAC-SHA256 (RFC 2104) over SHA-256, written out.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// True when one of the space-separated `v1,` signatures signs `{id}.{timestamp}.{body}`
/// with the key in `secret` (`whsec_` + base64), compared in constant time.
fn signature_matches(
    secret: &str,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|k| STANDARD.decode(k).ok())
    else {
        return false;
    };
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    let expected = STANDARD.encode(hmac_sha256(&key, &signed));
    signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| {
            s.len() == expected.len()
                && s.bytes()
                    .zip(expected.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
}

/// The whole check a receiver makes: a signature matches and the timestamp is within five
/// minutes of now (replay protection).
fn verify(secret: &str, r: &Received) -> bool {
    let fresh = r
        .timestamp
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= 300);
    fresh && signature_matches(secret, &r.id, &r.timestamp, &r.signature, &r.body)
}

#[test]
fn the_test_verifier_accepts_the_spec_vector_and_refuses_a_wrong_secret_or_body() {
    let (secret, id, ts, body) = (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        br#"{"test": 2432232314}"#,
    );
    let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert!(signature_matches(secret, id, ts, sig, body));
    assert!(signature_matches(
        secret,
        id,
        ts,
        &format!("v1,bm9wZQ== {sig}"),
        body
    ));
    assert!(!signature_matches(
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        id,
        ts,
        sig,
        body
    ));
    assert!(!signature_matches(
        secret,
        id,
        ts,
        sig,
        br#"{"test": 2432232315}"#
    ));
    assert!(!signature_matches(secret, id, "1614265331", sig, body));
}

// ---- A receiver on 127.0.0.1 -----------------------------------------------------------

#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    answered: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

struct Shared {
    /// Answer 500 to this many requests first (`usize::MAX`: always).
    fail_first: usize,
    log: Mutex<Vec<Received>>,
}

struct Receiver {
    url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut log = shared.log.lock().unwrap();
    let status = if log.len() < shared.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    };
    log.push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: body.to_vec(),
        answered: status.as_u16(),
    });
    status
}

impl Receiver {
    async fn start(fail_first: usize) -> Self {
        let shared = Arc::new(Shared {
            fail_first,
            log: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://{addr}/hook"),
            shared,
            server,
        }
    }

    fn log(&self) -> Vec<Received> {
        self.shared.log.lock().unwrap().clone()
    }

    /// The requests answered 2xx.
    fn accepted(&self) -> Vec<Received> {
        self.log()
            .into_iter()
            .filter(|r| r.answered < 300)
            .collect()
    }
}

// ---- Helpers ----------------------------------------------------------------------------

fn fast(holder: &str) -> WebhookConfig {
    WebhookConfig {
        retry_base: Duration::from_millis(10),
        retry_cap: Duration::from_millis(50),
        disable: store::webhooks::DisablePolicy {
            after_failures: 1000,
            after: chrono::Duration::hours(1),
        },
        lease_ttl: Duration::from_secs(2),
        scan_every: Duration::from_millis(100),
        holder: holder.to_owned(),
    }
}

/// Polls `done` every 20 ms until it holds or 20 s passed; false on timeout.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

/// Creates a subscription; returns its id, secret and starting position.
async fn subscribe(app: &TestApp, url: &str, types: &[&str]) -> (i64, String, i64) {
    let created = app
        .post(
            "/api/v1/webhooks",
            &json!({"url": url, "event_types": types, "description": "test receiver"}).to_string(),
        )
        .await
        .expect(201);
    (
        created["id"].as_i64().unwrap(),
        created["secret"].as_str().unwrap().to_owned(),
        created["delivered_seq"].as_i64().unwrap(),
    )
}

async fn receipts(app: &TestApp, prefix: &str, n: usize) {
    for i in 0..n {
        let sku = if i % 2 == 0 { "A" } else { "B" };
        let batch = json!({"movements": [{"id": format!("{prefix}-{i}"), "sku": sku, "location": "WH", "kind": "receipt", "qty": 1 + i}]});
        app.post("/api/v1/stock/movements", &batch.to_string())
            .await
            .expect(200);
    }
}

/// The seqs of the log after `after`, of these types (all when empty).
async fn log_after(app: &TestApp, after: i64, types: &str) -> Vec<i64> {
    let page = app
        .get(&format!(
            "/api/v1/events?after={after}&limit=1000&types={types}"
        ))
        .await
        .expect(200);
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect()
}

fn seqs(received: &[Received]) -> Vec<i64> {
    received
        .iter()
        .map(|r| r.json()["seq"].as_i64().unwrap())
        .collect()
}

async fn webhook(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/api/v1/webhooks/{id}")).await.expect(200)
}

/// Waits until the subscription's position reached `seq` (the receiver answers before the
/// worker records the attempt), then returns it.
async fn settled(app: &TestApp, id: i64, seq: i64) -> Value {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let w = webhook(app, id).await;
        if w["delivered_seq"].as_i64() >= Some(seq) || Instant::now() > until {
            return w;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- Stories ----------------------------------------------------------------------------

async fn a_receiver_that_fails_three_times_then_recovers_gets_every_event_in_order(app: &TestApp) {
    let receiver = Receiver::start(3).await;
    let (id, secret, start) = subscribe(app, &receiver.url, &[]).await;
    assert!(secret.starts_with("whsec_") && STANDARD.decode(&secret[6..]).unwrap().len() >= 24);
    let shown = webhook(app, id).await;
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown once: {shown}"
    );
    let _worker = WebhookWorker::start(app.state.clone(), fast("node-a"));

    receipts(app, "r", 10).await;
    let expected = log_after(app, start, "").await;
    assert_eq!(expected.len(), 10);
    assert!(
        eventually(|| receiver.accepted().len() >= expected.len()).await,
        "delivered {:?} of {expected:?}",
        seqs(&receiver.accepted())
    );

    let log = receiver.log();
    assert!(
        log.iter().all(|r| verify(&secret, r)),
        "every delivery verifies"
    );
    assert!(
        !verify("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &log[0]),
        "and a wrong secret does not"
    );
    let first = &log[0];
    assert!(
        log[..4]
            .iter()
            .all(|r| r.id == first.id && r.body == log[3].body),
        "the first event is retried, same id and body, until it is taken"
    );
    assert_eq!(
        log.iter().map(|r| r.answered).take(4).collect::<Vec<_>>(),
        [500, 500, 500, 204]
    );
    assert_eq!(
        seqs(&receiver.accepted()),
        expected,
        "every event once, in log order, no gaps"
    );
    let body = first.json();
    assert_eq!(
        (first.id.as_str(), body["type"].as_str()),
        ("stock:r-0", Some("stock.changed"))
    );
    assert!(body["timestamp"].is_string() && body["data"]["on_hand"].is_i64());

    let after = settled(app, id, *expected.last().unwrap()).await;
    assert_eq!(
        (
            after["delivered_seq"].as_i64(),
            after["consecutive_failures"].as_i64()
        ),
        (expected.last().copied(), Some(0))
    );
    let deliveries = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries?limit=500"))
        .await
        .expect(200);
    let mut items: Vec<Value> = deliveries["items"].as_array().unwrap().clone();
    items.reverse();
    let attempts: Vec<(i64, Option<i64>, bool)> = items
        .iter()
        .take(4)
        .map(|d| {
            (
                d["attempt"].as_i64().unwrap(),
                d["status_code"].as_i64(),
                d["ok"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (1, Some(500), false),
            (2, Some(500), false),
            (3, Some(500), false),
            (4, Some(204), true)
        ]
    );
    assert!(items[0]["error"].as_str().unwrap().starts_with("HTTP 500"));
    assert_eq!(items[0]["event_seq"].as_i64(), Some(expected[0]));
    let text = String::from_utf8_lossy(&metrics_text(app).await).into_owned();
    assert!(
        text.contains(r#"stockbook_webhook_attempts_total{result="failed"} 3"#),
        "{text}"
    );
}

async fn metrics_text(app: &TestApp) -> Vec<u8> {
    use tower::ServiceExt;
    let response = app
        .app
        .clone()
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec()
}

async fn a_receiver_that_always_fails_gets_its_webhook_disabled_with_an_alert(app: &TestApp) {
    let receiver = Receiver::start(usize::MAX).await;
    let (id, _, _) = subscribe(app, &receiver.url, &["stock.*"]).await;
    let mut config = fast("node-a");
    config.disable = store::webhooks::DisablePolicy {
        after_failures: 4,
        after: chrono::Duration::zero(),
    };
    let _worker = WebhookWorker::start(app.state.clone(), config);
    receipts(app, "dead", 2).await;

    let until = Instant::now() + Duration::from_secs(20);
    let mut shown = webhook(app, id).await;
    while shown["enabled"] == true && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
        shown = webhook(app, id).await;
    }
    assert_eq!(shown["enabled"], false, "{shown}");
    assert!(
        shown["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("4 failed attempts in a row"),
        "{shown}"
    );
    let alerts = app
        .get("/api/v1/alerts?state=open&kind=webhook_failing")
        .await
        .expect(200);
    let items = alerts["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{alerts}");
    assert_eq!(items[0]["key"].as_str(), Some(id.to_string().as_str()));
    let events = app
        .get("/api/v1/events?types=webhook.disabled,alert.raised")
        .await
        .expect(200);
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["webhook.disabled", "alert.raised"]);

    // Nothing more is sent once disabled; every attempt is in the log.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.log().len(), 4);
    let deliveries = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries"))
        .await
        .expect(200);
    assert_eq!(deliveries["items"].as_array().unwrap().len(), 4);
    let text = String::from_utf8_lossy(&metrics_text(app).await).into_owned();
    assert!(
        text.contains("stockbook_webhooks_disabled_total 1"),
        "{text}"
    );

    // Acknowledged by staff; enabling again resumes with a fresh count.
    let alert_id = items[0]["id"].as_i64().unwrap();
    let acked = app
        .post(&format!("/api/v1/alerts/{alert_id}/acknowledge"), "")
        .await
        .expect(200);
    assert_eq!(
        (acked["state"].as_str(), acked["acknowledged_by"].as_str()),
        (Some("acknowledged"), Some("test"))
    );
    let resumed = app
        .patch(&format!("/api/v1/webhooks/{id}"), r#"{"enabled":true}"#)
        .await
        .expect(200);
    assert_eq!(
        (
            resumed["enabled"].as_bool(),
            resumed["consecutive_failures"].as_i64()
        ),
        (Some(true), Some(0))
    );
    assert!(
        eventually(|| receiver.log().len() > 4).await,
        "delivery resumed"
    );
}

async fn a_logged_delivery_can_be_sent_again_and_a_replay_goes_back_in_order(app: &TestApp) {
    let receiver = Receiver::start(0).await;
    let (id, secret, start) = subscribe(app, &receiver.url, &["stock.changed"]).await;
    let _worker = WebhookWorker::start(app.state.clone(), fast("node-a"));
    // Let the worker settle into waiting, then time one movement from commit to receipt.
    tokio::time::sleep(Duration::from_millis(200)).await;
    receipts(app, "x", 1).await;
    let committed = Instant::now();
    while receiver.accepted().is_empty() && committed.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(receiver.accepted().len(), 1);
    println!(
        "commit → webhook receipt: {:?} ({})",
        committed.elapsed(),
        app.db.store.backend()
    );
    for i in 1..3 {
        let batch = json!({"movements": [{"id": format!("x-{i}"), "sku": "A", "location": "WH", "kind": "receipt", "qty": 1}]});
        app.post("/api/v1/stock/movements", &batch.to_string())
            .await
            .expect(200);
    }
    let expected = log_after(app, start, "stock.changed").await;
    assert!(eventually(|| receiver.accepted().len() >= 3).await);
    settled(app, id, *expected.last().unwrap()).await;

    let deliveries = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries"))
        .await
        .expect(200);
    let oldest = deliveries["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let again = app
        .post(
            &format!(
                "/api/v1/webhooks/{id}/deliveries/{}/redeliver",
                oldest["id"]
            ),
            "",
        )
        .await
        .expect(200);
    assert_eq!(
        (
            again["manual"].as_bool(),
            again["ok"].as_bool(),
            again["event_seq"].as_i64()
        ),
        (Some(true), Some(true), Some(expected[0]))
    );
    let log = receiver.log();
    assert_eq!(log.len(), 4);
    assert_eq!(
        log[3].id, log[0].id,
        "the same webhook-id, so receivers can de-duplicate"
    );
    assert!(verify(&secret, &log[3]));
    assert_eq!(
        webhook(app, id).await["delivered_seq"].as_i64(),
        expected.last().copied(),
        "a manual redelivery moves nothing"
    );

    let replayed = app
        .post(
            &format!("/api/v1/webhooks/{id}/replay?from_seq={}", expected[1]),
            "",
        )
        .await
        .expect(202);
    assert_eq!(replayed["delivered_seq"].as_i64(), Some(expected[1] - 1));
    assert!(eventually(|| receiver.accepted().len() >= 6).await);
    assert_eq!(seqs(&receiver.accepted()[4..]), expected[1..]);
    let forward = app
        .post(&format!("/api/v1/webhooks/{id}/replay?from_seq=999999"), "")
        .await;
    assert_eq!(
        (
            forward.status.as_u16(),
            forward.body["errors"][0]["field"].as_str()
        ),
        (422, Some("from_seq"))
    );
    let missing = app
        .post(
            &format!("/api/v1/webhooks/{id}/deliveries/999999/redeliver"),
            "",
        )
        .await;
    assert_eq!(missing.status.as_u16(), 404);
    app.delete(&format!("/api/v1/webhooks/{id}"))
        .await
        .expect(204);
    app.get(&format!("/api/v1/webhooks/{id}")).await.expect(404);
}

async fn event_type_filters_deliver_only_the_wanted_events(app: &TestApp) {
    let receiver = Receiver::start(0).await;
    let (_, secret, start) = subscribe(app, &receiver.url, &["alert.*"]).await;
    let _worker = WebhookWorker::start(app.state.clone(), fast("node-a"));
    receipts(app, "f", 4).await;
    app.put("/api/v1/stock/WH/A/threshold", r#"{"low_stock":100}"#)
        .await
        .expect(200);
    let expected = log_after(app, start, "alert.raised").await;
    assert_eq!(expected.len(), 1);
    assert!(eventually(|| !receiver.accepted().is_empty()).await);
    receipts(app, "g", 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = receiver.accepted();
    assert_eq!(seqs(&got), expected);
    assert!(verify(&secret, &got[0]));
    assert_eq!(got[0].json()["data"]["kind"], "low_stock");
}

async fn two_nodes_on_one_database_deliver_each_event_once(app: &TestApp) {
    // A second node: its own connections to the same database, its own hub and worker.
    let other_store = store_sql::connect(&app.db.url).await.unwrap();
    let other_state = server::AppState::new(other_store, None);
    let other = server::build_app(other_state.clone());
    let receiver = Receiver::start(0).await;
    let (id, secret, start) = subscribe(app, &receiver.url, &[]).await;
    let worker_a = WebhookWorker::start(app.state.clone(), fast("node-a"));
    let _worker_b = WebhookWorker::start(other_state.clone(), fast("node-b"));

    let post_to = |router: &axum::Router, i: usize| {
        use tower::ServiceExt;
        let batch = json!({"movements": [{"id": format!("two-{i}"), "sku": "A", "location": "WH", "kind": "receipt", "qty": 1}]});
        let request = axum::http::Request::post("/api/v1/stock/movements")
            .header("authorization", format!("Bearer {}", app.token))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(batch.to_string()))
            .unwrap();
        router.clone().oneshot(request)
    };
    for i in 0..20 {
        let router = if i % 2 == 0 { &app.app } else { &other };
        assert_eq!(post_to(router, i).await.unwrap().status(), 200);
    }
    let expected = log_after(app, start, "").await;
    assert!(eventually(|| receiver.accepted().len() >= expected.len()).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = receiver.accepted();
    assert_eq!(
        seqs(&got),
        expected,
        "each event once, in order, across two nodes"
    );
    assert!(got.iter().all(|r| verify(&secret, r)));

    // The node that delivers stops: the other takes over once its lease lapses.
    drop(worker_a);
    for i in 20..24 {
        let router = if i % 2 == 0 { &app.app } else { &other };
        assert_eq!(post_to(router, i).await.unwrap().status(), 200);
    }
    let expected = log_after(app, start, "").await;
    assert!(
        eventually(|| receiver.accepted().len() >= expected.len()).await,
        "the remaining node delivers"
    );
    assert_eq!(seqs(&receiver.accepted()), expected);
    settled(app, id, *expected.last().unwrap()).await;
    let deliveries = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries?limit=500"))
        .await
        .expect(200);
    assert_eq!(
        deliveries["items"].as_array().unwrap().len(),
        expected.len(),
        "one attempt per event: no double delivery"
    );
}

async fn a_subscription_leased_by_another_node_waits_for_it(app: &TestApp) {
    let receiver = Receiver::start(0).await;
    let (id, _, start) = subscribe(app, &receiver.url, &[]).await;
    let name = store::webhooks::lease_name(id);
    let now = chrono::Utc::now();
    assert!(
        app.db
            .store
            .acquire_lease(&name, "elsewhere", now, now + chrono::Duration::seconds(60))
            .await
            .unwrap()
    );
    let _worker = WebhookWorker::start(app.state.clone(), fast("node-a"));
    receipts(app, "held", 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        receiver.log().is_empty(),
        "the lease holder delivers, not us"
    );

    app.db
        .store
        .release_lease(&name, "elsewhere")
        .await
        .unwrap();
    let expected = log_after(app, start, "").await;
    assert!(eventually(|| receiver.accepted().len() >= expected.len()).await);
    assert_eq!(seqs(&receiver.accepted()), expected);
}
