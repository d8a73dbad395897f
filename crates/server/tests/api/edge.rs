//! The edge endpoints: HQ's snapshot of a store, and a node's sync status.

use serde_json::json;

use crate::helpers::TestApp;

crate::on_both_backends!(
    a_snapshot_gives_a_stores_levels_with_the_event_head_they_reflect,
    an_edge_nodes_status_shows_its_backlog_and_link
);

async fn a_snapshot_gives_a_stores_levels_with_the_event_head_they_reflect(app: &TestApp) {
    let batch = json!({"movements": [
        {"id": "r1", "sku": "A", "location": "WH", "kind": "receipt", "qty": 10},
        {"id": "s1", "sku": "B", "location": "WH", "kind": "sale", "qty": 2},
    ]});
    app.post("/api/v1/stock/movements", &batch.to_string())
        .await
        .expect(200);
    let head = app
        .get("/api/v1/events?after=0&limit=1000")
        .await
        .expect(200)["next"]
        .clone();
    let snapshot = app
        .get("/api/v1/edge/snapshot?location=WH")
        .await
        .expect(200);
    assert_eq!(snapshot["head"], head);
    let figures: Vec<(String, i64)> = snapshot["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap().to_owned(),
                l["on_hand"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(figures, [("A".to_owned(), 10), ("B".to_owned(), -2)]);
}

async fn an_edge_nodes_status_shows_its_backlog_and_link(app: &TestApp) {
    let wh = domain::ids::LocationCode::parse("location", "WH").unwrap();
    app.db
        .store
        .edge_bind("http://hq.example:8080", &wh, chrono::Utc::now())
        .await
        .unwrap();
    let batch = json!({"movements": [
        {"id": "pos-1", "sku": "A", "location": "WH", "kind": "sale", "qty": 1},
        {"id": "pos-2", "sku": "A", "location": "WH", "kind": "sale", "qty": 1},
    ]});
    app.post("/api/v1/stock/movements", &batch.to_string())
        .await
        .expect(200);
    let status = app.get("/api/v1/edge/status").await.expect(200);
    assert_eq!(
        (
            &status["hq"],
            &status["location"],
            &status["online"],
            &status["pending_movements"],
            &status["last_push_at"],
            &status["last_pull_seq"],
        ),
        (
            &json!("http://hq.example:8080"),
            &json!("WH"),
            &json!(false),
            &json!(2),
            &json!(null),
            &json!(0)
        ),
        "{status}"
    );
    assert!(status["lag_seconds"].as_i64().unwrap() >= 0, "{status}");
    for key in [
        "last_sync_at",
        "bootstrapped_at",
        "refused_movements",
        "last_error",
    ] {
        assert!(status.get(key).is_some(), "{key} in {status}");
    }
}
