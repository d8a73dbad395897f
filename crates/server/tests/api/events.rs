//! The event log over HTTP: pages, and the live SSE stream with resume.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, header};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::TestApp;

crate::on_both_backends!(
    events_page_through_the_log,
    a_subscriber_sees_a_movement_at_once_and_can_resume,
    subscribers_with_different_filters_each_get_their_events_once_in_order_under_concurrent_writes
);

async fn events_page_through_the_log(app: &TestApp) {
    let batch = json!({"movements": [{"id": "r1", "sku": "A", "location": "WH", "kind": "receipt", "qty": 5}]});
    app.post("/api/v1/stock/movements", &batch.to_string())
        .await
        .expect(200);
    let all = app.get("/api/v1/events").await.expect(200);
    let kinds: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "location.created",
            "product.created",
            "product.created",
            "stock.changed"
        ]
    );
    let last = all["next"].as_i64().unwrap();
    assert_eq!(all["items"][3]["seq"].as_i64(), Some(last));
    assert_eq!(all["items"][3]["data"]["on_hand"], 5);
    let stock = app
        .get("/api/v1/events?types=stock.changed,order.created&sku=A")
        .await
        .expect(200);
    assert_eq!(stock["items"].as_array().unwrap().len(), 1);
    let none = app
        .get(&format!("/api/v1/events?after={last}"))
        .await
        .expect(200);
    assert_eq!(
        (
            none["items"].as_array().unwrap().len(),
            none["next"].as_i64()
        ),
        (0, Some(last))
    );
    let bad = app.get("/api/v1/events?after=-1").await;
    assert_eq!(
        (bad.status.as_u16(), bad.body["errors"][0]["field"].as_str()),
        (422, Some("after"))
    );
}

/// Reads SSE frames from a response body until `want` events arrived or the deadline.
async fn read_frames(body: Body, want: usize, deadline: Duration) -> Vec<(String, String, Value)> {
    let mut stream = body.into_data_stream();
    let mut text = String::new();
    let mut frames = Vec::new();
    let until = Instant::now() + deadline;
    while frames.len() < want {
        let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(until.into(), stream.next()).await else {
            break;
        };
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            let field = |name: &str| {
                frame.lines().find_map(|l| {
                    l.strip_prefix(&format!("{name}:"))
                        .map(|v| v.trim().to_owned())
                })
            };
            if let (Some(id), Some(kind), Some(data)) = (field("id"), field("event"), field("data"))
            {
                frames.push((id, kind, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    frames
}

fn stream_request(app: &TestApp, last_event_id: Option<&str>) -> Request<Body> {
    stream_with(app, "?types=stock.changed", last_event_id)
}

fn stream_with(app: &TestApp, query: &str, last_event_id: Option<&str>) -> Request<Body> {
    let mut request = Request::builder()
        .uri(format!("/api/v1/events/stream{query}"))
        .header(header::AUTHORIZATION, format!("Bearer {}", app.token));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    request.body(Body::empty()).unwrap()
}

async fn a_subscriber_sees_a_movement_at_once_and_can_resume(app: &TestApp) {
    let response = app
        .app
        .clone()
        .oneshot(stream_request(app, None))
        .await
        .unwrap();
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let reader = tokio::spawn(read_frames(
        response.into_body(),
        1,
        Duration::from_secs(10),
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let batch = json!({"movements": [{"id": "live-1", "sku": "A", "location": "WH", "kind": "receipt", "qty": 3}]});
    app.post("/api/v1/stock/movements", &batch.to_string())
        .await
        .expect(200);
    let committed = Instant::now();
    let frames = reader.await.unwrap();
    let latency = committed.elapsed();
    println!(
        "commit → SSE receipt: {latency:?} ({})",
        app.db.store.backend()
    );
    assert_eq!(frames.len(), 1, "the movement's event arrived");
    let (id, kind, data) = &frames[0];
    assert_eq!(
        (kind.as_str(), data["data"]["movement"]["id"].as_str()),
        ("stock.changed", Some("live-1"))
    );

    let second = json!({"movements": [{"id": "live-2", "sku": "B", "location": "WH", "kind": "receipt", "qty": 1}]});
    app.post("/api/v1/stock/movements", &second.to_string())
        .await
        .expect(200);
    let resumed = app
        .app
        .clone()
        .oneshot(stream_request(app, Some(id)))
        .await
        .unwrap();
    let frames = read_frames(resumed.into_body(), 1, Duration::from_secs(10)).await;
    assert_eq!(frames.len(), 1);
    assert_eq!(
        frames[0].2["data"]["movement"]["id"], "live-2",
        "resumes right after Last-Event-ID"
    );
}

/// Subscribers share the hub's one read of the newest events; each must still get exactly
/// the events its filter passes, once, in log order, while writers commit concurrently —
/// and one resuming from the start of the log (older than anything the hub holds) too.
async fn subscribers_with_different_filters_each_get_their_events_once_in_order_under_concurrent_writes(
    app: &TestApp,
) {
    let (writers, per_writer) = (8, 5);
    let sku_of = |w: usize, k: usize| if (w + k).is_multiple_of(2) { "A" } else { "B" };
    let before = app.get("/api/v1/events?limit=1000").await.expect(200);
    let head = before["next"].as_i64().unwrap();
    let earlier_stock = before["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "stock.changed")
        .count();
    let count = |sku: &str| {
        (0..writers)
            .flat_map(|w| (0..per_writer).map(move |k| (w, k)))
            .filter(|&(w, k)| sku_of(w, k) == sku)
            .count()
    };
    let streams = [
        ("", None, writers * per_writer),
        ("?types=stock.changed&sku=A", None, count("A")),
        ("?sku=B", None, count("B")),
        (
            "?types=stock.changed",
            Some("0"),
            earlier_stock + writers * per_writer,
        ),
    ];
    let mut readers = Vec::new();
    for (query, resume, want) in streams {
        let response = app
            .app
            .clone()
            .oneshot(stream_with(app, query, resume))
            .await
            .unwrap();
        readers.push(tokio::spawn(read_frames(
            response.into_body(),
            want,
            Duration::from_secs(10),
        )));
    }
    let mut posts = Vec::new();
    for w in 0..writers {
        for k in 0..per_writer {
            let batch = json!({"movements": [{"id": format!("w{w}-{k}"), "sku": sku_of(w, k),
                "location": "WH", "kind": "receipt", "qty": 1}]});
            posts.push(async move {
                app.post("/api/v1/stock/movements", &batch.to_string())
                    .await
                    .expect(200);
            });
        }
    }
    futures_util::future::join_all(posts).await;

    let all = app.get("/api/v1/events?limit=1000").await.expect(200);
    let log: Vec<&Value> = all["items"].as_array().unwrap().iter().collect();
    let seqs = |pass: &dyn Fn(&Value) -> bool| -> Vec<i64> {
        log.iter()
            .filter(|e| pass(e))
            .map(|e| e["seq"].as_i64().unwrap())
            .collect()
    };
    let new = |e: &Value| e["seq"].as_i64().unwrap() > head;
    let expected = [
        seqs(&|e| new(e)),
        seqs(&|e| new(e) && e["type"] == "stock.changed" && e["sku"] == "A"),
        seqs(&|e| new(e) && e["sku"] == "B"),
        seqs(&|e| e["type"] == "stock.changed"),
    ];
    for ((reader, expected), (query, _, _)) in readers.into_iter().zip(expected).zip(streams) {
        let frames = reader.await.unwrap();
        let got: Vec<i64> = frames
            .iter()
            .map(|(id, _, _)| id.parse().unwrap())
            .collect();
        assert_eq!(got, expected, "stream{query}");
    }
}
