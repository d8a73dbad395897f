//! Orders over HTTP: idempotent placement, refusals with their data, review, edit with
//! If-Match, shipment, delivery, return, reorder and listing.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp};

crate::on_both_backends!(
    cancel_reject_and_close_release_over_http,
    placing_is_idempotent_by_key_and_refusals_carry_their_data,
    an_order_goes_from_review_to_return_over_http,
    customers_see_their_own_prices
);

async fn setup(app: &TestApp) {
    let stock = json!({"movements": [
        {"id": "open-a", "sku": "A", "location": "WH", "kind": "receipt", "qty": 50},
        {"id": "open-b", "sku": "B", "location": "WH", "kind": "receipt", "qty": 5},
    ]});
    app.post("/api/v1/stock/movements", &stock.to_string())
        .await
        .expect(200);
    let customer = json!({"code": "ACME", "name": "Acme Trading", "auto_confirm": false,
        "ship_to": [{"name": "Li Lei", "line1": "1 Nanjing Rd", "city": "Shanghai"}]});
    app.post("/api/v1/customers", &customer.to_string())
        .await
        .expect(201);
}

async fn order(app: &TestApp, key: &str, body: &Value) -> Reply {
    let headers = [("idempotency-key", key)];
    app.send_with("POST", "/api/v1/orders", Some(&body.to_string()), &headers)
        .await
}

async fn placing_is_idempotent_by_key_and_refusals_carry_their_data(app: &TestApp) {
    setup(app).await;
    let body =
        json!({"customer": "ACME", "lines": [{"sku": "A", "qty": 4}, {"sku": "B", "qty": 1}]});
    let first = order(app, "k-1", &body).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:#}", first.body);
    assert_eq!(
        first.headers["location"],
        format!("/api/v1/orders/{}", first.body["id"].as_str().unwrap())
    );
    assert_eq!(first.headers["etag"], "\"1\"");
    assert_eq!(first.body["location"], "WH", "the default warehouse");
    assert_eq!(
        first.body["ship_to"]["city"], "Shanghai",
        "the customer's first address"
    );
    assert_eq!(
        (
            first.body["total"].as_i64(),
            first.body["currency"].as_str()
        ),
        (Some(4 * 1250 + 1250), Some("CNY"))
    );
    let again = order(app, "k-1", &body).await;
    assert_eq!(
        (again.status, &again.body["id"]),
        (StatusCode::CREATED, &first.body["id"]),
        "same key, same order"
    );
    let other = order(
        app,
        "k-1",
        &json!({"customer": "ACME", "lines": [{"sku": "A", "qty": 5}]}),
    )
    .await;
    assert_eq!(
        (other.status.as_u16(), other.body["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );

    let missing = app.post("/api/v1/orders", &body.to_string()).await;
    assert_eq!(
        (
            missing.status.as_u16(),
            missing.body["errors"][0]["field"].as_str()
        ),
        (422, Some("Idempotency-Key"))
    );

    let short = order(
        app,
        "k-2",
        &json!({"customer": "ACME", "lines": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 9}]}),
    )
    .await;
    assert_eq!(
        (short.status.as_u16(), short.body["code"].as_str()),
        (409, Some("insufficient_stock"))
    );
    assert_eq!(
        short.body["shortages"],
        json!([{"sku": "B", "requested": 9, "available": 4}])
    );
    let stale = order(
        app,
        "k-3",
        &json!({"customer": "ACME", "lines": [{"sku": "A", "qty": 1, "expected_unit_price": 999}]}),
    )
    .await;
    assert_eq!(
        (stale.status.as_u16(), stale.body["code"].as_str()),
        (409, Some("price_changed"))
    );
    assert_eq!(stale.body["prices"][0]["unit_price"], 1250);
    let a = app.get("/api/v1/stock/WH/A").await.expect(200);
    assert_eq!(
        (a["reserved"].as_i64(), a["available"].as_i64()),
        (Some(4), Some(46)),
        "refusals reserved nothing"
    );
}

async fn an_order_goes_from_review_to_return_over_http(app: &TestApp) {
    setup(app).await;
    let placed = order(
        app,
        "k",
        &json!({"customer": "ACME", "lines": [{"sku": "A", "qty": 10}], "note": "rush"}),
    )
    .await
    .body;
    let id = placed["id"].as_str().unwrap();
    assert_eq!(placed["status"], "pending_review");
    let path = |action: &str| format!("/api/v1/orders/{id}/{action}");

    let early = app
        .post(&path("ship"), r#"{"lines":[{"sku":"A","qty":1}]}"#)
        .await;
    assert_eq!(
        (
            early.status.as_u16(),
            early.body["code"].as_str(),
            early.body["order_status"].as_str()
        ),
        (409, Some("invalid_transition"), Some("pending_review"))
    );
    assert_eq!(
        early.body["status"], 409,
        "the problem's status stays the HTTP status"
    );
    let no_version = app
        .patch(&format!("/api/v1/orders/{id}"), r#"{"note":"x"}"#)
        .await;
    assert_eq!(
        (no_version.status.as_u16(), no_version.body["code"].as_str()),
        (428, Some("if_match_required"))
    );
    let stale = app
        .send_with(
            "PATCH",
            &format!("/api/v1/orders/{id}"),
            Some(r#"{"note":"x"}"#),
            &[("if-match", "\"7\"")],
        )
        .await;
    assert_eq!(
        (
            stale.status.as_u16(),
            stale.body["current_version"].as_i64()
        ),
        (412, Some(1))
    );
    let edited = app
        .send_with(
            "PATCH",
            &format!("/api/v1/orders/{id}"),
            Some(r#"{"lines":[{"sku":"A","qty":12}]}"#),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(
        (edited.status.as_u16(), edited.body["version"].as_i64()),
        (200, Some(2)),
        "{:#}",
        edited.body
    );
    assert_eq!(
        app.get("/api/v1/stock/WH/A").await.expect(200)["reserved"],
        12
    );

    app.send("POST", &path("approve"), None, Some(&app.token), "")
        .await
        .expect(200);
    let shipped = app
        .post(
            &path("ship"),
            r#"{"lines":[{"sku":"A","qty":12}],"carrier":"SF Express","tracking_number":"SF1234"}"#,
        )
        .await
        .expect(200);
    assert_eq!(
        (
            shipped["status"].as_str(),
            shipped["shipments"][0]["tracking_number"].as_str()
        ),
        (Some("shipped"), Some("SF1234"))
    );
    app.send("POST", &path("deliver"), None, Some(&app.token), "")
        .await
        .expect(200);
    let returned = app
        .post(
            &path("return"),
            r#"{"lines":[{"sku":"A","qty":2}],"reason":"broken seal"}"#,
        )
        .await
        .expect(200);
    assert_eq!(returned["lines"][0]["returned_qty"], 2);
    let actions: Vec<&str> = returned["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["placed", "edit", "approve", "ship", "deliver", "return"]
    );
    let level = app.get("/api/v1/stock/WH/A").await.expect(200);
    assert_eq!(
        (level["on_hand"].as_i64(), level["reserved"].as_i64()),
        (Some(40), Some(0))
    );

    let by_number = app
        .get(&format!(
            "/api/v1/orders/{}",
            returned["number"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(by_number["id"], returned["id"]);
    let again = app
        .send_with(
            "POST",
            &path("reorder"),
            None,
            &[("idempotency-key", "re-1")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{:#}", again.body);
    assert_ne!(again.body["id"], returned["id"]);
    assert_eq!(again.body["lines"][0]["qty"], 12);

    let listed = app
        .get("/api/v1/orders?customer=ACME&limit=1")
        .await
        .expect(200);
    assert_eq!(listed["items"][0]["id"], again.body["id"], "newest first");
    let next = listed["next"].as_str().unwrap();
    let older = app
        .get(&format!(
            "/api/v1/orders?customer=ACME&limit=1&cursor={next}"
        ))
        .await
        .expect(200);
    assert_eq!(older["items"][0]["id"], returned["id"]);
    let found = app
        .get("/api/v1/orders?q=rush&status=delivered")
        .await
        .expect(200);
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
}

async fn customers_see_their_own_prices(app: &TestApp) {
    setup(app).await;
    let list = json!({"name": "Gold", "entries": [{"sku": "A", "unit_price": 1100}, {"sku": "A", "min_qty": 10, "unit_price": 1000}]});
    app.send(
        "PUT",
        "/api/v1/price-lists/GOLD",
        Some(&list.to_string()),
        Some(&app.token),
        "application/json",
    )
    .await
    .expect(200);
    app.patch(
        "/api/v1/customers/ACME",
        r#"{"price_tier":"GOLD","credit_limit":100000}"#,
    )
    .await
    .expect(200);
    let rules = json!({"entries": [{"sku": "B", "unit_price": 900}]});
    app.send(
        "PUT",
        "/api/v1/customers/ACME/price-rules",
        Some(&rules.to_string()),
        Some(&app.token),
        "application/json",
    )
    .await
    .expect(200);
    let one = app
        .get("/api/v1/customers/ACME/prices?sku=A&qty=10")
        .await
        .expect(200);
    assert_eq!(
        (
            one["items"][0]["unit_price"].as_i64(),
            one["items"][0]["source"].as_str()
        ),
        (Some(1000), Some("tier"))
    );
    let all = app.get("/api/v1/customers/ACME/prices").await.expect(200);
    let sources: Vec<(&str, i64, &str)> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["sku"].as_str().unwrap(),
                q["unit_price"].as_i64().unwrap(),
                q["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(sources, [("A", 1100, "tier"), ("B", 900, "customer")]);
    let bad_tier = app
        .patch("/api/v1/customers/ACME", r#"{"price_tier":"PLATINUM"}"#)
        .await;
    assert_eq!(
        (
            bad_tier.status.as_u16(),
            bad_tier.body["errors"][0]["code"].as_str()
        ),
        (422, Some("unknown_price_list"))
    );
}

async fn cancel_reject_and_close_release_over_http(app: &TestApp) {
    setup(app).await;
    let mut ids = Vec::new();
    for key in ["k1", "k2", "k3"] {
        let placed = order(
            app,
            key,
            &json!({"customer": "ACME", "lines": [{"sku": "A", "qty": 4}]}),
        )
        .await
        .body;
        ids.push(placed["id"].as_str().unwrap().to_owned());
    }
    let cancelled = app
        .post(
            &format!("/api/v1/orders/{}/cancel", ids[0]),
            r#"{"reason":"customer changed mind"}"#,
        )
        .await
        .expect(200);
    assert_eq!(
        (
            cancelled["status"].as_str(),
            cancelled["timeline"][1]["detail"].as_str()
        ),
        (Some("cancelled"), Some("customer changed mind"))
    );
    let rejected = app
        .send(
            "POST",
            &format!("/api/v1/orders/{}/reject", ids[1]),
            None,
            Some(&app.token),
            "",
        )
        .await
        .expect(200);
    assert_eq!(rejected["status"], "rejected", "the reason is optional");
    app.send(
        "POST",
        &format!("/api/v1/orders/{}/approve", ids[2]),
        None,
        Some(&app.token),
        "",
    )
    .await
    .expect(200);
    app.post(
        &format!("/api/v1/orders/{}/ship", ids[2]),
        r#"{"lines":[{"sku":"A","qty":1}]}"#,
    )
    .await
    .expect(200);
    let closed = app
        .send(
            "POST",
            &format!("/api/v1/orders/{}/close", ids[2]),
            None,
            Some(&app.token),
            "",
        )
        .await
        .expect(200);
    assert_eq!(
        (
            closed["status"].as_str(),
            closed["lines"][0]["reserved_qty"].as_i64()
        ),
        (Some("shipped"), Some(0))
    );
    let level = app.get("/api/v1/stock/WH/A").await.expect(200);
    assert_eq!(
        (level["on_hand"].as_i64(), level["reserved"].as_i64()),
        (Some(49), Some(0))
    );
    let unknown = app
        .send(
            "POST",
            &format!("/api/v1/orders/{}/frobnicate", ids[2]),
            None,
            Some(&app.token),
            "",
        )
        .await;
    assert_eq!(
        (unknown.status.as_u16(), unknown.body["code"].as_str()),
        (404, Some("not_found"))
    );
    let bad = app
        .post(
            &format!("/api/v1/orders/{}/cancel", ids[2]),
            r#"{"reason":""}"#,
        )
        .await;
    assert_eq!(
        (bad.status.as_u16(), bad.body["errors"][0]["field"].as_str()),
        (422, Some("reason"))
    );
}
