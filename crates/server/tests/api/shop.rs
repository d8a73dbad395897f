//! A shop floor on top of `TestApp`: two stores, products for every kind of code, stock,
//! devices, and the checks every shop-floor test ends with.

use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp};

/// GTIN of a case of 12 of product `A`.
pub const A_CASE: &str = "16901234567899";
/// The scale's price label for PORK: item 12345, 12.34 CNY.
pub const PORK_LABEL: &str = "2112345012346";
/// GTINs of the RFID-tagged products R1..R4 (company prefix 6901234, items 10001..10004).
pub const TAGGED: [(&str, &str); 4] = [
    ("R1", "6901234100013"),
    ("R2", "6901234100020"),
    ("R3", "6901234100037"),
    ("R4", "6901234100044"),
];

/// Stores ST-A and ST-B, a case GTIN for A, PORK sold by price label (6.17 per 100 g),
/// RICE sold by the gram, and the tagged products.
pub async fn shop(app: &TestApp) {
    for code in ["ST-A", "ST-B"] {
        let body = json!({"code": code, "name": code, "kind": "store"});
        app.post("/api/v1/locations", &body.to_string())
            .await
            .expect(201);
    }
    let case = json!({"packs": [{"unit": "箱", "factor": 12, "gtin": A_CASE}]});
    app.patch("/api/v1/products/A", &case.to_string())
        .await
        .expect(200);
    let mut products = vec![
        json!({"sku": "PORK", "name": "Pork", "unit": "100g", "price": 617, "gtins": ["2112345000008"]}),
        json!({"sku": "RICE", "name": "Rice", "unit": "g", "price": 2, "gtins": ["6901234200010"]}),
    ];
    for (sku, gtin) in TAGGED {
        products
            .push(json!({"sku": sku, "name": sku, "unit": "件", "price": 990, "gtins": [gtin]}));
    }
    for p in products {
        app.post("/api/v1/products", &p.to_string())
            .await
            .expect(201);
    }
}

/// Receives `qty` of `sku` at `location`.
pub async fn stock(app: &TestApp, location: &str, sku: &str, qty: i64) {
    let id = format!("grn-{location}-{sku}-{qty}");
    let batch = json!({"movements": [{"id": id, "sku": sku, "location": location, "kind": "receipt", "qty": qty}]});
    app.post("/api/v1/stock/movements", &batch.to_string())
        .await
        .expect(200);
}

/// A level's figures.
pub async fn level(app: &TestApp, location: &str, sku: &str) -> Value {
    app.get(&format!("/api/v1/stock/{location}/{sku}"))
        .await
        .expect(200)
}

/// A level's on_hand.
pub async fn on_hand(app: &TestApp, location: &str, sku: &str) -> i64 {
    level(app, location, sku).await["on_hand"].as_i64().unwrap()
}

/// Registers a POS device at `location` and returns its token.
pub async fn device(app: &TestApp, id: &str, location: &str) -> String {
    let body = json!({"id": id, "kind": "pos", "location": location});
    let reply = app
        .post("/api/v1/devices", &body.to_string())
        .await
        .expect(201);
    reply["token"].as_str().unwrap().to_owned()
}

/// POSTs JSON with another token.
pub async fn post_as(app: &TestApp, token: &str, path: &str, body: &Value) -> Reply {
    app.send(
        "POST",
        path,
        Some(&body.to_string()),
        Some(token),
        "application/json",
    )
    .await
}

/// A sale of `lines` at `location` (admin token).
pub fn sale(id: &str, location: &str, lines: Value) -> Value {
    json!({
        "sale_id": id,
        "terminal": "T1",
        "occurred_at": chrono::Utc::now().to_rfc3339(),
        "location": location,
        "lines": lines,
    })
}

/// Asserts that every invariant of the stock model holds.
pub async fn verified(app: &TestApp) {
    let report = app.db.store.verify().await.unwrap();
    assert!(report.ok(), "{:#?}", report.violations);
}

/// The SGTIN-96 hex of serial `serial` of a product GTIN-13 with company prefix 6901234.
pub fn sgtin(gtin13: &str, serial: u64) -> String {
    let item = format!("0{}", &gtin13[7..12]);
    gs1::encode_epc(&format!("urn:epc:tag:sgtin-96:1.6901234.{item}.{serial}")).unwrap()
}
