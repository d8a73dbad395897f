//! Demo data for `stockbook serve --demo`: a warehouse, two stores, a small tea-and-snacks
//! catalog with valid GTINs and pack units, opening stock, a price list, two customers
//! and an order waiting for review — enough to try every endpoint at once.

use chrono::Utc;
use domain::catalog::{LocationInput, ProductInput};
use domain::stock::{MovementInput, validate_batch};
use store::{Store, StoreError};

/// The demo's warehouse, which fulfils orders that name no location.
pub const WAREHOUSE: &str = "WH-SH";

const LOCATIONS: [(&str, &str, &str); 3] = [
    ("WH-SH", "上海中心仓 Shanghai DC", "warehouse"),
    ("ST-BJ01", "北京朝阳店 Beijing Chaoyang", "store"),
    ("ST-HZ01", "杭州西湖店 Hangzhou West Lake", "store"),
];

const PRODUCTS: [(&str, &str, &str, i64); 8] = [
    ("TEA-LJ-250", "西湖龙井 Longjing tea 250g", "盒", 16800),
    ("TEA-PE-357", "普洱茶饼 Pu'er cake 357g", "饼", 22800),
    ("TEA-TGY-500", "铁观音 Tieguanyin 500g", "袋", 9800),
    ("SNK-MOON-6", "月饼礼盒 Mooncakes (6)", "盒", 12800),
    ("SNK-SUN-200", "瓜子 Sunflower seeds 200g", "袋", 1290),
    ("DRK-SOY-1L", "豆浆 Soy milk 1L", "瓶", 890),
    ("DRK-WAT-550", "矿泉水 Mineral water 550ml", "瓶", 200),
    ("CUP-GLS-01", "玻璃茶杯 Glass tea cup", "个", 3500),
];

/// Fills an empty database with the demo data; returns false (and changes nothing) when the
/// database already holds locations.
pub async fn seed(store: &dyn Store) -> Result<bool, StoreError> {
    if !store.list_locations(None, 1).await?.is_empty() {
        return Ok(false);
    }
    let invalid = |errors: Vec<domain::FieldError>| {
        StoreError::Other(format!("demo data is invalid: {errors:?}"))
    };
    for (code, name, kind) in LOCATIONS {
        let input = LocationInput {
            code: code.into(),
            name: name.into(),
            kind: kind.into(),
            time_zone: None,
        };
        store
            .create_location(input.validate().map_err(invalid)?)
            .await?;
    }
    let mut movements = Vec::new();
    for (i, (sku, name, unit, price)) in PRODUCTS.into_iter().enumerate() {
        let body = format!("690123456{:03}", 100 + i);
        let input = ProductInput {
            sku: sku.into(),
            name: name.into(),
            unit: unit.into(),
            price,
            currency: None,
            gtins: Some(vec![
                gs1::complete_gtin(&body).map_err(|e| StoreError::Other(e.to_string()))?,
            ]),
            active: None,
            packs: (sku == "TEA-LJ-250").then(|| {
                vec![domain::units::Pack {
                    unit: "箱".into(),
                    factor: 12,
                    gtin: None,
                }]
            }),
            min_order_qty: None,
            order_multiple: None,
        };
        store
            .create_product(input.validate().map_err(invalid)?)
            .await?;
        for (j, (location, _, _)) in LOCATIONS.into_iter().enumerate() {
            let qty = if j == 0 {
                500 + 100 * i as i64
            } else {
                20 + 5 * i as i64
            };
            movements.push(MovementInput {
                id: format!("demo-opening-{location}-{sku}"),
                sku: sku.into(),
                location: location.into(),
                kind: "receipt".into(),
                qty,
                reason: Some("demo opening stock".into()),
                occurred_at: None,
            });
        }
    }
    store
        .apply_movements(validate_batch(&movements, Utc::now()).map_err(invalid)?)
        .await?;
    ordering(store)
        .await
        .map_err(|e| StoreError::Other(format!("demo orders: {e}")))?;
    Ok(true)
}

/// A price list, two customers (one with its own prices) and an order waiting for review.
async fn ordering(store: &dyn Store) -> Result<(), String> {
    use domain::customer::CustomerInput;
    use domain::order::OrderInput;
    use domain::pricing::PriceListInput;
    let gold: PriceListInput = serde_json::from_value(serde_json::json!({
        "name": "金牌经销商 Gold dealers",
        "entries": [
            {"sku": "TEA-LJ-250", "unit_price": 15800},
            {"sku": "TEA-LJ-250", "min_qty": 24, "unit_price": 14800},
            {"sku": "TEA-PE-357", "unit_price": 21000},
        ]
    }))
    .map_err(|e| e.to_string())?;
    store
        .put_price_list(gold.validate("GOLD").map_err(|e| format!("{e:?}"))?)
        .await
        .map_err(|e| e.to_string())?;
    let customers = serde_json::json!([
        {"code": "BJ-TEA", "name": "北京茗香茶行 Beijing Mingxiang Tea", "price_tier": "GOLD", "credit_limit": 5_000_000,
         "contacts": [{"name": "王芳 Wang Fang", "phone": "+86 10 6500 0000", "email": "purchasing@mingxiang.example"}],
         "ship_to": [{"name": "王芳", "line1": "朝阳区建国路 88 号", "city": "北京", "postal_code": "100022", "country": "CN"}]},
        {"code": "HZ-SHOP", "name": "杭州小铺 Hangzhou Corner Shop", "auto_confirm": true,
         "ship_to": [{"name": "陈明", "line1": "西湖区文三路 12 号", "city": "杭州", "country": "CN"}]},
    ]);
    let customers: Vec<CustomerInput> =
        serde_json::from_value(customers).map_err(|e| e.to_string())?;
    for c in customers {
        store
            .create_customer(c.validate(Utc::now()).map_err(|e| format!("{e:?}"))?)
            .await
            .map_err(|e| e.to_string())?;
    }
    let own = serde_json::json!([{"sku": "SNK-MOON-6", "unit_price": 11800}]);
    let own: Vec<domain::pricing::PriceEntryInput> =
        serde_json::from_value(own).map_err(|e| e.to_string())?;
    let own = domain::pricing::validate_entries(&own).map_err(|e| format!("{e:?}"))?;
    store
        .put_customer_prices("BJ-TEA", own)
        .await
        .map_err(|e| e.to_string())?;
    let order: OrderInput = serde_json::from_value(serde_json::json!({
        "customer": "BJ-TEA",
        "lines": [{"sku": "TEA-LJ-250", "qty": 2, "unit": "箱"}, {"sku": "SNK-MOON-6", "qty": 10}],
        "note": "春节备货 Spring Festival stock"
    }))
    .map_err(|e| e.to_string())?;
    let location =
        domain::ids::LocationCode::parse("location", WAREHOUSE).map_err(|e| e.message)?;
    let meta = store::PlaceMeta {
        order_id: crate::ids::new_order_id().map_err(|e| e.to_string())?,
        idempotency_key: "demo-first-order".into(),
        request_hash: "demo".into(),
        actor: "demo".into(),
        now: Utc::now(),
    };
    store
        .place_order(
            order
                .validate(Some(&location))
                .map_err(|e| format!("{e:?}"))?,
            meta,
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}
