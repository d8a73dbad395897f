//! The catalog and stock endpoints doing their job.

use serde_json::{Value, json};

use crate::helpers::TestApp;

crate::on_both_backends!(
    a_batch_reports_each_outcome_in_input_order,
    every_list_pages_through_all_items_with_its_cursor,
    products_can_be_read_and_changed
);

async fn a_batch_reports_each_outcome_in_input_order(app: &TestApp) {
    let batch = json!({"movements": [
        {"id": "r1", "sku": "A", "location": "WH", "kind": "receipt", "qty": 10},
        {"id": "s1", "sku": "B", "location": "WH", "kind": "sale", "qty": 2, "occurred_at": "2026-11-20T08:00:00+08:00"},
        {"id": "a1", "sku": "A", "location": "WH", "kind": "adjustment", "qty": -11, "reason": "breakage"},
        {"id": "r1", "sku": "A", "location": "WH", "kind": "receipt", "qty": 10},
        {"id": "c1", "sku": "A", "location": "WH", "kind": "count", "qty": 7},
    ]});
    let body = app
        .post("/api/v1/stock/movements", &batch.to_string())
        .await
        .expect(200);
    let results = body["results"].as_array().unwrap();
    let summary: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("r1", "applied"),
            ("s1", "applied"),
            ("a1", "rejected"),
            ("r1", "duplicate"),
            ("c1", "applied")
        ]
    );
    assert_eq!(
        (
            results[0]["on_hand"].as_i64(),
            results[0].get("negative_stock")
        ),
        (Some(10), None)
    );
    assert_eq!(
        (
            results[1]["on_hand"].as_i64(),
            results[1]["negative_stock"].as_bool()
        ),
        (Some(-2), Some(true))
    );
    assert_eq!(results[2]["error"]["code"], "insufficient_stock");
    assert_eq!(
        results[3]["seq"], results[0]["seq"],
        "a duplicate answers with the first outcome"
    );

    let level = app.get("/api/v1/stock/WH/A").await.expect(200);
    assert_eq!(
        (
            level["on_hand"].as_i64(),
            level["reserved"].as_i64(),
            level["available"].as_i64(),
            level["incoming"].as_i64()
        ),
        (Some(7), Some(0), Some(7), Some(0))
    );
    let ledger = app.get("/api/v1/stock/WH/A/movements").await.expect(200);
    let kinds: Vec<&str> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["count", "receipt"], "newest first");
    assert_eq!(ledger["items"][0]["on_hand_delta"], -3);
    let sale = &app.get("/api/v1/stock/WH/B/movements").await.expect(200)["items"][0];
    assert_eq!(
        sale["occurred_at"], "2026-11-20T00:00:00Z",
        "times are stored in UTC"
    );
}

/// Follows `next` from the first page to the last, collecting `key` of every item.
async fn all_pages(app: &TestApp, path: &str, key: impl Fn(&Value) -> String) -> Vec<String> {
    let mut keys = Vec::new();
    let mut url = path.to_owned();
    for _ in 0..100 {
        let page = app.get(&url).await.expect(200);
        keys.extend(page["items"].as_array().unwrap().iter().map(&key));
        match page["next"].as_str() {
            Some(cursor) => url = format!("{path}&cursor={cursor}"),
            None => return keys,
        }
    }
    panic!("more than 100 pages");
}

async fn every_list_pages_through_all_items_with_its_cursor(app: &TestApp) {
    app.post(
        "/api/v1/locations",
        r#"{"code":"ST-1","name":"Store 1","kind":"store","time_zone":"Asia/Shanghai"}"#,
    )
    .await
    .expect(201);
    let mut movements = Vec::new();
    for i in 0..5 {
        let sku = format!("P{i}");
        app.post(
            "/api/v1/products",
            &json!({"sku": sku, "name": sku, "unit": "件", "price": 100}).to_string(),
        )
        .await
        .expect(201);
        for (j, location) in ["WH", "ST-1"].into_iter().enumerate() {
            movements.push(json!({"id": format!("m{i}-{j}"), "sku": sku, "location": location, "kind": "receipt", "qty": i + 1}));
        }
    }
    app.post(
        "/api/v1/stock/movements",
        &json!({"movements": movements}).to_string(),
    )
    .await
    .expect(200);

    let skus = all_pages(app, "/api/v1/products?limit=2", |p| {
        p["sku"].as_str().unwrap().to_owned()
    })
    .await;
    assert_eq!(skus, ["A", "B", "P0", "P1", "P2", "P3", "P4"]);
    let locations = all_pages(app, "/api/v1/locations?limit=1", |l| {
        l["code"].as_str().unwrap().to_owned()
    })
    .await;
    assert_eq!(locations, ["ST-1", "WH"]);
    let levels = all_pages(app, "/api/v1/stock?limit=3", |l| {
        format!(
            "{}/{}",
            l["location"].as_str().unwrap(),
            l["sku"].as_str().unwrap()
        )
    })
    .await;
    assert_eq!(levels.len(), 10);
    assert!(
        levels.windows(2).all(|w| w[0] < w[1]),
        "ordered, no repeats: {levels:?}"
    );
    let at_store = all_pages(app, "/api/v1/stock?location=ST-1&limit=2", |l| {
        l["sku"].as_str().unwrap().to_owned()
    })
    .await;
    assert_eq!(at_store, ["P0", "P1", "P2", "P3", "P4"]);
    let one_sku = app.get("/api/v1/stock?sku=P3").await.expect(200);
    let on_hand: Vec<i64> = one_sku["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["on_hand"].as_i64().unwrap())
        .collect();
    assert_eq!(on_hand, [4, 4]);

    for i in 0..4 {
        let m = json!({"movements": [{"id": format!("sale-{i}"), "sku": "P0", "location": "WH", "kind": "sale", "qty": 1}]});
        app.post("/api/v1/stock/movements", &m.to_string())
            .await
            .expect(200);
    }
    let ledger = all_pages(app, "/api/v1/stock/WH/P0/movements?limit=2", |m| {
        m["id"].as_str().unwrap().to_owned()
    })
    .await;
    assert_eq!(ledger, ["sale-3", "sale-2", "sale-1", "sale-0", "m0-0"]);
}

async fn products_can_be_read_and_changed(app: &TestApp) {
    let a = app.get("/api/v1/products/A").await.expect(200);
    assert_eq!(
        (
            a["price"].as_i64(),
            a["currency"].as_str(),
            a["active"].as_bool()
        ),
        (Some(1250), Some("CNY"), Some(true))
    );
    assert_eq!(a["gtins"], json!(["06901234567892"]));
    let patched = app
        .patch(
            "/api/v1/products/A",
            r#"{"price":1300,"active":false,"gtins":["6901234567892","96385074"]}"#,
        )
        .await;
    assert_eq!(
        patched.status.as_u16(),
        409,
        "B already owns 96385074: {:#}",
        patched.body
    );
    assert_eq!(
        app.get("/api/v1/products/A").await.expect(200),
        a,
        "a refused patch changes nothing"
    );
    let patched = app
        .patch(
            "/api/v1/products/A",
            r#"{"price":1300,"active":false,"name":"  Renamed  "}"#,
        )
        .await
        .expect(200);
    assert_eq!(
        (
            patched["price"].as_i64(),
            patched["active"].as_bool(),
            patched["name"].as_str()
        ),
        (Some(1300), Some(false), Some("Renamed"))
    );
    assert_eq!(app.get("/api/v1/products/A").await.expect(200), patched);
}
