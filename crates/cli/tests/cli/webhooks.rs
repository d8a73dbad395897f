//! `stockbook serve` delivers webhooks: in log order, and when two nodes share one
//! PostgreSQL and the delivering one is killed, the other takes over with nothing lost.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use store_sql::testing::TestDatabase;

use crate::helpers::{Client, Server, issue_token};

type Log = Arc<Mutex<Vec<(String, Value)>>>;

/// A receiver on 127.0.0.1 that logs (webhook-id, body) of signed requests and takes them.
async fn receiver() -> (String, Log, tokio::task::JoinHandle<()>) {
    let log: Log = Arc::default();
    let kept = log.clone();
    let app = axum::Router::new().route(
        "/in",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let log = kept.clone();
            async move {
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let (Some(id), Some(_), Some(sig)) = (
                    header("webhook-id"),
                    header("webhook-timestamp"),
                    header("webhook-signature"),
                ) else {
                    return StatusCode::BAD_REQUEST;
                };
                assert!(sig.starts_with("v1,"));
                log.lock()
                    .unwrap()
                    .push((id, serde_json::from_slice(&body).unwrap()));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, log, server)
}

/// The event ids in the order they first arrived.
fn first_arrivals(log: &Log) -> Vec<String> {
    let mut seen = Vec::new();
    for (_, body) in log.lock().unwrap().iter() {
        let id = body["id"].as_str().unwrap().to_owned();
        if !seen.contains(&id) {
            seen.push(id);
        }
    }
    seen
}

async fn wait_for(log: &Log, n: usize) {
    let until = Instant::now() + Duration::from_secs(30);
    while first_arrivals(log).len() < n && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const FAST: &[&str] = &["--webhook-retry-base-ms", "10", "--webhook-lease-secs", "2"];

async fn seed(client: &Client, server: &Server) {
    for (path, body) in [
        (
            "/api/v1/locations",
            json!({"code": "WH", "name": "WH", "kind": "warehouse"}),
        ),
        (
            "/api/v1/products",
            json!({"sku": "A", "name": "A", "unit": "件", "price": 1}),
        ),
    ] {
        let (status, _) = client.post(server.url(path), &body).await.unwrap();
        assert_eq!(status, 201);
    }
}

async fn receipt(client: &Client, server: &Server, id: &str) {
    let batch = json!({"movements": [{"id": id, "sku": "A", "location": "WH", "kind": "receipt", "qty": 1}]});
    let (status, _) = client
        .post(server.url("/api/v1/stock/movements"), &batch)
        .await
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_delivers_webhooks_in_log_order() {
    let db = TestDatabase::sqlite("serve_webhooks").await.unwrap();
    let client = Client::new(issue_token(&db.url));
    let server = Server::start_with(&db.url, FAST);
    seed(&client, &server).await;
    let (url, log, _receiver) = receiver().await;
    let (status, created) = client
        .post(
            server.url("/api/v1/webhooks"),
            &json!({"url": url, "event_types": ["stock.changed"]}),
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{created}");
    for i in 0..5 {
        receipt(&client, &server, &format!("m-{i}")).await;
    }
    wait_for(&log, 5).await;
    assert_eq!(
        first_arrivals(&log),
        (0..5).map(|i| format!("stock:m-{i}")).collect::<Vec<_>>()
    );
    drop(server);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_delivering_node_is_killed_another_delivers_the_rest_in_order() {
    let Some(db) = TestDatabase::postgres("serve_webhooks_failover")
        .await
        .unwrap()
    else {
        return;
    };
    let client = Client::new(issue_token(&db.url));
    let (a, b) = (
        Server::start_with(&db.url, FAST),
        Server::start_with(&db.url, FAST),
    );
    seed(&client, &a).await;
    let (url, log, _receiver) = receiver().await;
    let (status, _) = client
        .post(
            a.url("/api/v1/webhooks"),
            &json!({"url": url, "event_types": ["stock.*"]}),
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    for i in 0..10 {
        let node = if i % 2 == 0 { &a } else { &b };
        receipt(&client, node, &format!("m-{i}")).await;
    }
    wait_for(&log, 10).await;
    let before = log.lock().unwrap().len();
    assert_eq!(before, 10, "each event once while both nodes run");

    a.kill();
    for i in 10..20 {
        receipt(&client, &b, &format!("m-{i}")).await;
    }
    wait_for(&log, 20).await;
    assert_eq!(
        first_arrivals(&log),
        (0..20).map(|i| format!("stock:m-{i}")).collect::<Vec<_>>(),
        "every event, in log order, across the kill"
    );
    drop(b);
    db.cleanup().await;
}
