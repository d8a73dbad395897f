//! `GET /api/v1/sinks` and the sink series of `/metrics`: read from the stored sinks, so
//! every node reports every relay, with its lag in events and in seconds.

use serde_json::json;
use tower::ServiceExt;

use crate::helpers::TestApp;

crate::on_both_backends!(
    sinks_report_cursor_lag_and_holder,
    a_lagging_sink_raises_one_sink_lag_alert
);

async fn a_lagging_sink_raises_one_sink_lag_alert(app: &TestApp) {
    use std::time::Duration;
    let store = &app.db.store;
    store
        .acquire_sink("amqp:lagging", "amqp", "node-y", 60_000)
        .await
        .unwrap()
        .unwrap();
    let head = store.event_head().await.unwrap();
    store
        .advance_sink("amqp:lagging", "node-y", head, 60_000)
        .await
        .unwrap();
    let state = &app.state;
    let quiet = server::sync::check_lag(state, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(quiet, 0, "a sink at the head is not lagging");

    let batch = json!({"movements": [
        {"id": "lag-1", "sku": "A", "location": "WH", "kind": "receipt", "qty": 1},
    ]});
    app.post("/api/v1/stock/movements", &batch.to_string())
        .await
        .expect(200);
    let patient = server::sync::check_lag(state, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(patient, 0, "behind, but not for longer than the threshold");
    let raised = server::sync::check_lag(state, Duration::ZERO)
        .await
        .unwrap();
    let again = server::sync::check_lag(state, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!((raised, again), (1, 0), "one open alert per sink");
    let alerts = app.get("/api/v1/alerts?kind=sink_lag").await.expect(200);
    let items = alerts["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{alerts:#}");
    assert_eq!(items[0]["key"], "amqp:lagging");
    assert_eq!(items[0]["state"], "open");
}

async fn sinks_report_cursor_lag_and_holder(app: &TestApp) {
    let none = app.get("/api/v1/sinks").await.expect(200);
    assert_eq!(none["items"], json!([]));

    // A relay (of another node) holds a sink and has published up to the current head.
    let store = &app.db.store;
    store
        .acquire_sink("nats:S", "nats", "node-x", 60_000)
        .await
        .unwrap()
        .unwrap();
    let head = store.event_head().await.unwrap();
    assert!(
        store
            .advance_sink("nats:S", "node-x", head, 60_000)
            .await
            .unwrap()
    );
    store
        .record_sink_error("nats:S", "node-x", "connection refused")
        .await
        .unwrap();
    let batch = json!({"movements": [
        {"id": "s1", "sku": "A", "location": "WH", "kind": "receipt", "qty": 1},
        {"id": "s2", "sku": "B", "location": "WH", "kind": "receipt", "qty": 1},
    ]});
    app.post("/api/v1/stock/movements", &batch.to_string())
        .await
        .expect(200);

    let sinks = app.get("/api/v1/sinks").await.expect(200);
    let sink = &sinks["items"][0];
    assert_eq!(
        (
            sink["name"].as_str(),
            sink["kind"].as_str(),
            sink["cursor"].as_i64(),
            sink["head"].as_i64(),
            sink["lag"].as_i64(),
            sink["holder"].as_str(),
            sink["last_error"].as_str(),
        ),
        (
            Some("nats:S"),
            Some("nats"),
            Some(head),
            Some(head + 2),
            Some(2),
            Some("node-x"),
            Some("connection refused")
        )
    );
    assert!(sink["lag_seconds"].as_f64().unwrap() >= 0.0);
    assert!(sink["this_node"].is_null(), "this process runs no relay");

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
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    for line in [
        r#"stockbook_sink_lag_events{sink="nats:S",kind="nats"} 2"#.to_owned(),
        format!(r#"stockbook_sink_cursor{{sink="nats:S",kind="nats"}} {head}"#),
        r#"stockbook_sink_leader{sink="nats:S",kind="nats"} 0"#.to_owned(),
        r#"stockbook_sink_published_total{sink="nats:S",kind="nats"} 0"#.to_owned(),
    ] {
        assert!(text.contains(&line), "{line} in\n{text}");
    }
    assert!(text.contains(r#"stockbook_sink_lag_seconds{sink="nats:S",kind="nats"} "#));
}
