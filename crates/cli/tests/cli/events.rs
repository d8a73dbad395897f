//! Two `stockbook serve` processes on one PostgreSQL: a subscriber of one sees, at once,
//! the commits made through the other.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use store_sql::testing::TestDatabase;

use crate::helpers::{Client, Server, issue_token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_of_one_node_sees_commits_made_through_another() {
    let Some(db) = TestDatabase::postgres("two_nodes").await.unwrap() else {
        return;
    };
    let token = issue_token(&db.url);
    let (a, b) = (Server::start(&db.url), Server::start(&db.url));
    let client = Client::new(token.clone());
    client
        .post(
            b.url("/api/v1/locations"),
            &json!({"code": "WH", "name": "WH", "kind": "warehouse"}),
        )
        .await
        .unwrap();
    client
        .post(
            b.url("/api/v1/products"),
            &json!({"sku": "A", "name": "A", "unit": "件", "price": 1}),
        )
        .await
        .unwrap();

    let response = reqwest::Client::new()
        .get(a.url("/api/v1/events/stream?types=stock.changed"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let batch = json!({"movements": [{"id": "via-b", "sku": "A", "location": "WH", "kind": "receipt", "qty": 7}]});
    let (status, _) = client
        .post(b.url("/api/v1/stock/movements"), &batch)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let committed = Instant::now();
    let mut text = String::new();
    let deadline = committed + Duration::from_secs(10);
    while !text.contains("via-b") {
        let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline.into(), body.next()).await
        else {
            break;
        };
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    println!(
        "commit through node B → SSE receipt at node A: {:?}",
        committed.elapsed()
    );
    assert!(
        text.contains("event: stock.changed") && text.contains("via-b"),
        "node A saw node B's commit: {text}"
    );
    drop((a, b));
    db.cleanup().await;
}
