//! `/scan`: barcodes and RFID tags resolved to products.

use crate::helpers::TestApp;

crate::on_both_backends!(scanned_codes_resolve_to_products);

async fn scanned_codes_resolve_to_products(app: &TestApp) {
    // Product A carries GTIN 6901234567892 (see TestApp).
    let ean = app.get("/api/v1/scan?code=6901234567892").await.expect(200);
    assert_eq!(
        (
            ean["valid"].as_bool(),
            ean["gtin"].as_str(),
            ean["product"]["sku"].as_str()
        ),
        (Some(true), Some("06901234567892"), Some("A"))
    );
    let gs1_128 = app
        .get("/api/v1/scan?code=%5DC101069012345678921726123110LOT1" /* ]C1 (01)06901234567892 (17)261231 (10)LOT1 */)
        .await
        .expect(200);
    assert_eq!(
        (gs1_128["kind"].as_str(), gs1_128["product"]["sku"].as_str()),
        (Some("element_string"), Some("A")),
        "{gs1_128}"
    );
    let tag = gs1::encode_epc("urn:epc:tag:sgtin-96:1.6901234.056789.42").unwrap();
    let rfid = app
        .get(&format!("/api/v1/scan?code={tag}"))
        .await
        .expect(200);
    assert_eq!(
        (
            rfid["valid"].as_bool(),
            rfid["serial"].as_str(),
            rfid["product"]["sku"].as_str()
        ),
        (Some(true), Some("42"), Some("A"))
    );
    let bad = app.get("/api/v1/scan?code=6901234567893").await.expect(200);
    assert_eq!(
        (bad["valid"].as_bool(), bad["error"]["code"].as_str()),
        (Some(false), Some("bad_check_digit"))
    );
    assert!(bad.get("product").is_none());
    let unknown = app.get("/api/v1/scan?code=96385075").await.expect(200);
    assert!(unknown.get("product").is_none() || unknown["valid"] == false);
    let empty = app.get("/api/v1/scan?code=").await;
    assert_eq!(
        (
            empty.status.as_u16(),
            empty.body["errors"][0]["field"].as_str()
        ),
        (422, Some("code"))
    );
}
