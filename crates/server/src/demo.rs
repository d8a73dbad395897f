//! Demo data for `stockbook serve --demo`: a warehouse, two stores, a small tea-and-snacks
//! catalog with valid GTINs, and opening stock — enough to try every endpoint at once.

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
            packs: None,
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
    Ok(true)
}
