//! POS sales and returns through the API: codes, idempotency, negative stock, returns,
//! devices bound to their store, and many terminals selling the same SKU at once.

use std::time::Instant;

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::shop::{
    A_CASE, PORK_LABEL, device, on_hand, post_as, sale, sgtin, shop, stock, verified,
};

crate::on_both_backends!(
    a_sale_sent_again_answers_its_first_receipt_and_changes_nothing,
    every_form_of_code_resolves_to_its_product_and_quantity,
    a_sale_beyond_stock_is_recorded_and_leaves_stock_negative,
    returns_with_and_without_the_sale_and_no_more_than_was_sold,
    a_device_sells_only_at_its_own_store_until_disabled,
    eight_terminals_selling_one_sku_at_once_count_every_sale_once,
);

async fn a_sale_sent_again_answers_its_first_receipt_and_changes_nothing(app: &TestApp) {
    shop(app).await;
    stock(app, "ST-A", "A", 10).await;
    let body = sale(
        "S-1",
        "ST-A",
        json!([{"sku": "A", "qty": 2}, {"code": "6901234567892"}]),
    );
    let first = app
        .post("/api/v1/pos/sales", &body.to_string())
        .await
        .expect(201);
    assert_eq!(
        (first["total"].as_i64(), first["currency"].as_str()),
        (Some(3750), Some("CNY"))
    );
    let before = app.snapshot().await;
    // The same content in another key order is the same request.
    let reordered: Value = serde_json::from_str(&body.to_string()).unwrap();
    let replay = app
        .post("/api/v1/pos/sales", &reordered.to_string())
        .await
        .expect(200);
    assert_eq!(replay, first, "a replay answers the first receipt");
    assert_eq!(app.snapshot().await, before, "and changes nothing");
    assert_eq!(on_hand(app, "ST-A", "A").await, 7);

    let mut other = body.clone();
    other["lines"] = json!([{"sku": "A", "qty": 5}]);
    let refused = app
        .post("/api/v1/pos/sales", &other.to_string())
        .await
        .expect(409);
    assert_eq!(refused["code"], "sale_id_reused");
    assert_eq!(app.snapshot().await, before);
    let shown = app.get("/api/v1/pos/sales/S-1").await.expect(200);
    assert_eq!(shown["lines"], first["lines"]);
    verified(app).await;
}

async fn every_form_of_code_resolves_to_its_product_and_quantity(app: &TestApp) {
    shop(app).await;
    let epc = sgtin("6901234567892", 1001);
    let cases: Vec<(&str, Value, &str, i64, i64)> = vec![
        ("GTIN-13", json!({"code": "6901234567892"}), "A", 1, 1250),
        (
            "GTIN-14 form, scanned twice",
            json!({"code": "06901234567892", "qty": 2}),
            "A",
            2,
            2500,
        ),
        (
            "EAN-13 with symbology id",
            json!({"code": "]E06901234567892"}),
            "A",
            1,
            1250,
        ),
        ("GTIN-8", json!({"code": "96385074"}), "B", 1, 1250),
        (
            "case GTIN: 12 units",
            json!({"code": A_CASE}),
            "A",
            12,
            15000,
        ),
        (
            "element string with a count",
            json!({"code": "(01)06901234567892(30)3"}),
            "A",
            3,
            3750,
        ),
        (
            "raw GS1-128 with a count",
            json!({"code": "]C10106901234567892303"}),
            "A",
            3,
            3750,
        ),
        (
            "element string with a net weight in kg",
            json!({"code": "(01)06901234200010(3103)001500"}),
            "RICE",
            1500,
            3000,
        ),
        (
            "scale price label: the label's price",
            json!({"code": PORK_LABEL}),
            "PORK",
            2,
            1234,
        ),
        ("SGTIN EPC at the till", json!({"code": epc}), "A", 1, 1250),
        (
            "SKU keyed with a price",
            json!({"sku": "B", "qty": 4, "unit_price": 999}),
            "B",
            4,
            3996,
        ),
    ];
    for (i, (what, line, sku, qty, total)) in cases.iter().enumerate() {
        let body = sale(&format!("C-{i}"), "ST-A", json!([line]));
        let receipt = app
            .post("/api/v1/pos/sales", &body.to_string())
            .await
            .expect(201);
        let l = &receipt["lines"][0];
        assert_eq!(
            (
                l["sku"].as_str(),
                l["qty"].as_i64(),
                l["line_total"].as_i64()
            ),
            (Some(*sku), Some(*qty), Some(*total)),
            "{what}"
        );
    }
    let unknown = sale(
        "C-x",
        "ST-A",
        json!([{"sku": "A"}, {"code": "6901234999990"}]),
    );
    let refused = app
        .post("/api/v1/pos/sales", &unknown.to_string())
        .await
        .expect(422);
    assert_eq!(refused["errors"][0]["field"], "lines[1].code");
    assert_eq!(refused["errors"][0]["code"], "unknown_code");
    verified(app).await;
}

async fn a_sale_beyond_stock_is_recorded_and_leaves_stock_negative(app: &TestApp) {
    shop(app).await;
    stock(app, "ST-A", "A", 1).await;
    let body = sale("S-neg", "ST-A", json!([{"sku": "A", "qty": 3}]));
    let receipt = app
        .post("/api/v1/pos/sales", &body.to_string())
        .await
        .expect(201);
    assert_eq!(receipt["negative_stock"], json!(["A"]));
    assert_eq!(on_hand(app, "ST-A", "A").await, -2);
    let ledger = app.get("/api/v1/stock/ST-A/A/movements").await.expect(200);
    assert_eq!(ledger["items"][0]["kind"], "sale");
    assert_eq!(ledger["items"][0]["id"], "pos:S-neg:1");
    verified(app).await;
}

async fn returns_with_and_without_the_sale_and_no_more_than_was_sold(app: &TestApp) {
    shop(app).await;
    stock(app, "ST-A", "A", 10).await;
    let mut body = sale(
        "S-r",
        "ST-A",
        json!([{"sku": "A", "qty": 2, "unit_price": 1000}, {"sku": "A", "qty": 1}, {"sku": "B"}]),
    );
    body["payments"] = json!([{"method": "cash", "amount": 5000}]);
    let receipt = app
        .post("/api/v1/pos/sales", &body.to_string())
        .await
        .expect(201);
    assert_eq!(
        (
            receipt["total"].as_i64(),
            receipt["paid"].as_i64(),
            receipt["change"].as_i64()
        ),
        (Some(4500), Some(5000), Some(500))
    );
    let ret = |id: &str, original: Option<&str>, lines: Value| {
        let mut r = json!({
            "return_id": id, "terminal": "T1", "location": "ST-B",
            "occurred_at": chrono::Utc::now().to_rfc3339(), "lines": lines,
        });
        if let Some(o) = original {
            r["original_sale_id"] = json!(o);
        }
        r.to_string()
    };
    // Two of the three A come back at another store, refunded at what was paid for them.
    let back = app
        .post(
            "/api/v1/pos/returns",
            &ret("R-1", Some("S-r"), json!([{"sku": "A", "qty": 2}])),
        )
        .await
        .expect(201);
    assert_eq!(
        (back["kind"].as_str(), back["total"].as_i64()),
        (Some("return"), Some(2000))
    );
    assert_eq!(on_hand(app, "ST-B", "A").await, 2);
    // Two more would be one more than is left.
    let before = app.snapshot().await;
    let refused = app
        .post(
            "/api/v1/pos/returns",
            &ret(
                "R-2",
                Some("S-r"),
                json!([{"sku": "B"}, {"sku": "A", "qty": 2}]),
            ),
        )
        .await
        .expect(409);
    assert_eq!(refused["code"], "return_exceeds_sale");
    assert!(
        refused["detail"].as_str().unwrap().starts_with("lines[1]"),
        "{refused}"
    );
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused return changes nothing"
    );
    let last = app
        .post(
            "/api/v1/pos/returns",
            &ret("R-3", Some("S-r"), json!([{"sku": "A"}])),
        )
        .await
        .expect(201);
    assert_eq!(last["total"].as_i64(), Some(1250));
    let shown = app.get("/api/v1/pos/sales/S-r").await.expect(200);
    let returned: Vec<i64> = shown["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["returned_qty"].as_i64().unwrap())
        .collect();
    assert_eq!(returned, [2, 1, 0]);
    // Without the sale: at the list price, or the price given.
    let loose = app
        .post(
            "/api/v1/pos/returns",
            &ret(
                "R-4",
                None,
                json!([{"code": "96385074", "qty": 2, "unit_price": 1100}]),
            ),
        )
        .await
        .expect(201);
    assert_eq!(loose["total"].as_i64(), Some(2200));
    assert_eq!(on_hand(app, "ST-B", "B").await, 2);
    let unknown = app
        .post(
            "/api/v1/pos/returns",
            &ret("R-5", Some("NOPE"), json!([{"sku": "A"}])),
        )
        .await
        .expect(422);
    assert_eq!(unknown["errors"][0]["field"], "original_sale_id");
    verified(app).await;
}

async fn a_device_sells_only_at_its_own_store_until_disabled(app: &TestApp) {
    shop(app).await;
    let token = device(app, "POS-A1", "ST-A").await;
    let mut body = sale("D-1", "ST-A", json!([{"sku": "A"}]));
    body.as_object_mut().unwrap().remove("location");
    let receipt = post_as(app, &token, "/api/v1/pos/sales", &body)
        .await
        .expect(201);
    assert_eq!(receipt["location"], "ST-A", "a device sells where it is");
    let before = app.snapshot().await;
    let elsewhere = sale("D-2", "ST-B", json!([{"sku": "A"}]));
    let refused = post_as(app, &token, "/api/v1/pos/sales", &elsewhere)
        .await
        .expect(403);
    assert_eq!(refused["code"], "forbidden");
    assert_eq!(app.snapshot().await, before);
    let listing = app
        .send("GET", "/api/v1/devices", None, Some(&token), "")
        .await;
    assert_eq!(
        listing.status.as_u16(),
        403,
        "a device does not manage devices"
    );
    let listed = app.get("/api/v1/devices?location=ST-A").await.expect(200);
    assert_eq!(listed["items"][0]["id"], "POS-A1");
    assert!(
        listed["items"][0].get("token").is_none(),
        "the token is shown once"
    );
    let disabled = app
        .post("/api/v1/devices/POS-A1/disable", "")
        .await
        .expect(200);
    assert!(disabled["disabled_at"].is_string());
    body["sale_id"] = json!("D-3");
    post_as(app, &token, "/api/v1/pos/sales", &body)
        .await
        .expect(401);
    verified(app).await;
}

async fn eight_terminals_selling_one_sku_at_once_count_every_sale_once(app: &TestApp) {
    const TERMINALS: usize = 8;
    const SALES: usize = 50;
    shop(app).await;
    stock(app, "ST-A", "A", 1000).await;
    let mut tokens = Vec::new();
    for t in 0..TERMINALS {
        tokens.push(device(app, &format!("POS-{t}"), "ST-A").await);
    }
    let body = |t: usize, s: usize| {
        let mut b = sale(
            &format!("T{t}-S{s}"),
            "ST-A",
            json!([{"sku": "A", "qty": (s % 3) + 1}]),
        );
        b.as_object_mut().unwrap().remove("location");
        b
    };
    let bodies: Vec<Vec<Value>> = (0..TERMINALS)
        .map(|t| (0..SALES).map(|s| body(t, s)).collect())
        .collect();
    let total: i64 = bodies
        .iter()
        .flatten()
        .map(|b| b["lines"][0]["qty"].as_i64().unwrap())
        .sum();
    let terminal = |t: usize, expect: u16| {
        let (token, bodies) = (&tokens[t], &bodies[t]);
        async move {
            for b in bodies {
                post_as(app, token, "/api/v1/pos/sales", b)
                    .await
                    .expect(expect);
            }
        }
    };
    let started = Instant::now();
    futures_util::future::join_all((0..TERMINALS).map(|t| terminal(t, 201))).await;
    let elapsed = started.elapsed();
    println!(
        "{} sales from {TERMINALS} terminals at once on one SKU ({}): {:.0} sales/s",
        TERMINALS * SALES,
        app.db.store.backend(),
        (TERMINALS * SALES) as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(on_hand(app, "ST-A", "A").await, 1000 - total);
    // Every terminal re-sends everything (lost answers): nothing is counted twice.
    futures_util::future::join_all((0..TERMINALS).map(|t| terminal(t, 200))).await;
    assert_eq!(on_hand(app, "ST-A", "A").await, 1000 - total);
    let report = app.db.store.verify().await.unwrap();
    assert!(report.ok(), "{:#?}", report.violations);
    assert_eq!(
        report.movements,
        1 + (TERMINALS * SALES) as i64,
        "one receipt and one row per sale"
    );
}
