//! A server SIGKILLed in the middle of a stream of movement batches loses no acknowledged
//! batch, applies no batch in part, and verifies after restart.

use serde_json::{Value, json};
use store_sql::testing::TestDatabase;

use crate::helpers::{Client, Server, issue_token, run, stdout};

fn batch(n: usize) -> Value {
    let movements: Vec<Value> = (0..20)
        .map(|k| {
            let kind = if k % 5 == 4 { "sale" } else { "receipt" };
            json!({"id": format!("b{n}-m{k}"), "sku": format!("S{}", (n + k) % 8), "location": "WH", "kind": kind, "qty": 1 + k % 3})
        })
        .collect();
    json!({"movements": movements})
}

async fn killed_server_keeps_every_acknowledged_batch(db: TestDatabase) {
    let token = issue_token(&db.url);
    let client = Client::new(token);
    let server = Server::start(&db.url);
    let (status, _) = client
        .post(
            server.url("/api/v1/locations"),
            &json!({"code": "WH", "name": "WH", "kind": "warehouse"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 201);
    for i in 0..8 {
        let product = json!({"sku": format!("S{i}"), "name": "x", "unit": "件", "price": 1});
        assert_eq!(
            client
                .post(server.url("/api/v1/products"), &product)
                .await
                .unwrap()
                .0,
            201
        );
    }

    // Stream batches from 4 concurrent senders; kill the server once 40 are acknowledged.
    let base = server.url("");
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let senders: Vec<_> = (0..4)
        .map(|s| {
            let (client, base, acked) = (
                Client::new(client.token.clone()),
                base.clone(),
                acked.clone(),
            );
            tokio::spawn(async move {
                let mut sent = Vec::new();
                for n in (s..10_000).step_by(4) {
                    sent.push(n);
                    match client
                        .post(format!("{base}/api/v1/stock/movements"), &batch(n))
                        .await
                    {
                        Ok((200, _)) => acked.lock().unwrap().push(n),
                        Ok((status, body)) => panic!("batch {n}: {status} {body}"),
                        Err(_) => break, // the server is gone
                    }
                }
                sent
            })
        })
        .collect();
    while acked.lock().unwrap().len() < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill();
    let mut sent = Vec::new();
    for s in senders {
        sent.extend(s.await.unwrap());
    }
    let acked = acked.lock().unwrap().clone();

    let server = Server::start(&db.url);
    for &n in &sent {
        let (status, body) = client
            .post(server.url("/api/v1/stock/movements"), &batch(n))
            .await
            .unwrap();
        assert_eq!(status, 200);
        let statuses: Vec<&str> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        if acked.contains(&n) {
            assert!(
                statuses.iter().all(|s| *s == "duplicate"),
                "acknowledged batch {n} lost: {statuses:?}"
            );
        } else {
            let first = statuses[0];
            assert!(
                statuses.iter().all(|s| *s == first),
                "batch {n} was applied in part: {statuses:?}"
            );
        }
    }
    drop(server);
    let out = run(&db.url, &["verify"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("verify OK"));
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_batch_on_sqlite() {
    killed_server_keeps_every_acknowledged_batch(TestDatabase::sqlite("crash").await.unwrap())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_batch_on_postgres() {
    let Some(db) = TestDatabase::postgres("crash").await.unwrap() else {
        return;
    };
    killed_server_keeps_every_acknowledged_batch(db).await;
}
