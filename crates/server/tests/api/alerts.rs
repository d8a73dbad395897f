//! Alerts over HTTP: thresholds, low and negative stock raised by movements and orders,
//! listing with filters and pages, acknowledging.

use serde_json::{Value, json};

use crate::helpers::TestApp;

crate::on_both_backends!(
    low_stock_is_raised_once_and_acknowledged_by_staff,
    a_sale_beyond_on_hand_raises_negative_stock,
    thresholds_are_set_listed_and_removed
);

async fn movement(app: &TestApp, id: &str, sku: &str, kind: &str, qty: i64) -> Value {
    let mut m = json!({"id": id, "sku": sku, "location": "WH", "kind": kind, "qty": qty});
    if kind == "adjustment" {
        m["reason"] = "shrinkage".into();
    }
    app.post(
        "/api/v1/stock/movements",
        &json!({ "movements": [m] }).to_string(),
    )
    .await
    .expect(200)
}

fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().unwrap().clone()
}

async fn low_stock_is_raised_once_and_acknowledged_by_staff(app: &TestApp) {
    movement(app, "r1", "A", "receipt", 20).await;
    let t = app
        .put("/api/v1/stock/WH/A/threshold", r#"{"low_stock":5}"#)
        .await
        .expect(200);
    assert_eq!(
        (t["location"].as_str(), t["low_stock"].as_i64()),
        (Some("WH"), Some(5))
    );
    movement(app, "s1", "A", "sale", 10).await;
    assert!(items(&app.get("/api/v1/alerts").await.expect(200)).is_empty());

    movement(app, "s2", "A", "sale", 6).await;
    let open = items(&app.get("/api/v1/alerts?state=open").await.expect(200));
    assert_eq!(open.len(), 1);
    assert_eq!(
        (
            open[0]["kind"].as_str(),
            open[0]["key"].as_str(),
            open[0]["detail"]["available"].as_i64()
        ),
        (Some("low_stock"), Some("WH/A"), Some(4))
    );
    movement(app, "s3", "A", "sale", 1).await;
    movement(app, "a1", "A", "adjustment", -1).await;
    assert_eq!(
        items(&app.get("/api/v1/alerts").await.expect(200)).len(),
        1,
        "no duplicate"
    );
    let raised = app
        .get("/api/v1/events?types=alert.raised")
        .await
        .expect(200);
    assert_eq!(items(&raised).len(), 1);
    assert_eq!(items(&raised)[0]["data"]["id"], open[0]["id"]);

    let id = open[0]["id"].as_i64().unwrap();
    let one = app.get(&format!("/api/v1/alerts/{id}")).await.expect(200);
    assert_eq!(one, open[0]);
    let acked = app
        .post(&format!("/api/v1/alerts/{id}/acknowledge"), "")
        .await
        .expect(200);
    assert_eq!(acked["state"], "acknowledged");
    assert!(acked["acknowledged_at"].is_string());
    assert!(items(&app.get("/api/v1/alerts?state=open").await.expect(200)).is_empty());
    assert_eq!(
        items(
            &app.get("/api/v1/alerts?state=acknowledged&kind=low_stock&location=WH&sku=A")
                .await
                .expect(200)
        )
        .len(),
        1
    );
    assert_eq!(
        items(
            &app.get("/api/v1/events?types=alert.acknowledged")
                .await
                .expect(200)
        )
        .len(),
        1
    );
    app.get("/api/v1/alerts/99999").await.expect(404);
    app.post("/api/v1/alerts/99999/acknowledge", "")
        .await
        .expect(404);
}

async fn a_sale_beyond_on_hand_raises_negative_stock(app: &TestApp) {
    movement(app, "r1", "B", "receipt", 1).await;
    let sold = movement(app, "pos-1", "B", "sale", 3).await;
    assert_eq!(sold["results"][0]["negative_stock"], true);
    let open = items(
        &app.get("/api/v1/alerts?kind=negative_stock")
            .await
            .expect(200),
    );
    assert_eq!(open.len(), 1);
    assert_eq!(
        (
            open[0]["sku"].as_str(),
            open[0]["detail"]["on_hand"].as_i64(),
            open[0]["detail"]["movement"].as_str()
        ),
        (Some("B"), Some(-2), Some("pos-1"))
    );
    // Pages: newest first, with a cursor.
    for (i, sku) in ["A", "A"].iter().enumerate() {
        movement(app, &format!("neg-{i}"), sku, "sale", 1).await;
    }
    let first = app.get("/api/v1/alerts?limit=1").await.expect(200);
    assert_eq!(items(&first)[0]["sku"], "A");
    let next = first["next"].as_str().unwrap();
    let second = app
        .get(&format!("/api/v1/alerts?limit=1&cursor={next}"))
        .await
        .expect(200);
    assert_eq!(items(&second)[0]["sku"], "B");
    assert!(second["next"].is_null());
}

async fn thresholds_are_set_listed_and_removed(app: &TestApp) {
    app.put("/api/v1/stock/WH/A/threshold", r#"{"low_stock":3}"#)
        .await
        .expect(200);
    app.put("/api/v1/stock/WH/B/threshold", r#"{"low_stock":0}"#)
        .await
        .expect(200);
    let alerts = items(&app.get("/api/v1/alerts").await.expect(200));
    assert_eq!(
        alerts.len(),
        2,
        "both levels are at 0, so both are low at once"
    );
    let got = app.get("/api/v1/stock/WH/A/threshold").await.expect(200);
    assert_eq!(got["low_stock"], 3);
    let page = app
        .get("/api/v1/stock/thresholds?limit=1")
        .await
        .expect(200);
    assert_eq!(items(&page)[0]["sku"], "A");
    let rest = app
        .get(&format!(
            "/api/v1/stock/thresholds?location=WH&cursor={}",
            page["next"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(items(&rest)[0]["sku"], "B");
    app.delete("/api/v1/stock/WH/A/threshold").await.expect(204);
    app.get("/api/v1/stock/WH/A/threshold").await.expect(404);
    app.delete("/api/v1/stock/WH/A/threshold").await.expect(404);
    app.put("/api/v1/stock/WH/GHOST/threshold", r#"{"low_stock":3}"#)
        .await
        .expect(404);
}
