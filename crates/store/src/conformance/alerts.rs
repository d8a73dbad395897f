//! Alert stories: low and negative stock raised in the transaction that crosses, once per
//! open condition; acknowledging; raising by kind and key; thresholds.

use std::sync::Arc;

use chrono::Utc;
use domain::alert::AlertState;
use domain::stock::MovementKind::{Adjustment, Receipt, Sale};

use super::orders::{customer, place};
use super::{loc, location, movement, product, sku};
use crate::alerts::{AlertFilter, NewAlert};
use crate::{Event, EventFilter, Store, StoreError};

async fn events_of(store: &Arc<dyn Store>, kind: &str) -> Vec<Event> {
    store
        .events_after(
            0,
            &EventFilter {
                types: vec![kind.to_owned()],
                ..Default::default()
            },
            10_000,
        )
        .await
        .unwrap()
}

async fn open_alerts(store: &Arc<dyn Store>, kind: &str) -> Vec<crate::alerts::Alert> {
    let filter = AlertFilter {
        state: Some(AlertState::Open),
        kind: Some(kind.to_owned()),
        ..Default::default()
    };
    store.list_alerts(&filter, None, 100).await.unwrap()
}

/// A movement that takes available stock to or below the threshold raises one open
/// `low_stock` alert, with its `alert.raised` event right after the movement's own event;
/// lower still raises nothing more; after acknowledging, the next crossing raises anew.
pub async fn low_stock_is_raised_once_by_the_movement_that_crosses(store: Arc<dyn Store>) {
    store.create_location(location("WH")).await.unwrap();
    store.create_product(product("A", 100, &[])).await.unwrap();
    store
        .apply_movements(vec![movement("r1", "WH", "A", Receipt, 10)])
        .await
        .unwrap();
    let t = store
        .set_threshold(&loc("WH"), &sku("A"), 5, Utc::now())
        .await
        .unwrap();
    assert_eq!((t.location.as_str(), t.low_stock), ("WH", 5));
    assert!(open_alerts(&store, "low_stock").await.is_empty(), "10 > 5");

    store
        .apply_movements(vec![movement("s1", "WH", "A", Sale, 4)])
        .await
        .unwrap();
    assert!(open_alerts(&store, "low_stock").await.is_empty(), "6 > 5");
    store
        .apply_movements(vec![movement("s2", "WH", "A", Sale, 1)])
        .await
        .unwrap();
    let open = open_alerts(&store, "low_stock").await;
    assert_eq!(open.len(), 1, "5 is at the threshold");
    let alert = &open[0];
    assert_eq!(
        (
            alert.key.as_str(),
            alert.location.as_deref(),
            alert.detail["available"].as_i64(),
            alert.detail["threshold"].as_i64(),
            alert.detail["movement"].as_str()
        ),
        ("WH/A", Some("WH"), Some(5), Some(5), Some("s2"))
    );
    let log = store
        .events_after(0, &EventFilter::default(), 1000)
        .await
        .unwrap();
    let at = log
        .iter()
        .position(|e| e.kind == "alert.raised")
        .expect("an alert.raised event");
    assert_eq!(
        (log[at - 1].kind.as_str(), log[at - 1].id.as_str()),
        ("stock.changed", "stock:s2"),
        "appended with the movement that crossed, in its transaction"
    );
    assert_eq!(log[at].data["id"].as_i64(), Some(alert.id));

    for (i, kind, qty) in [(3, Sale, 1), (4, Sale, 1), (5, Adjustment, -1)] {
        store
            .apply_movements(vec![movement(&format!("s{i}"), "WH", "A", kind, qty)])
            .await
            .unwrap();
    }
    assert_eq!(open_alerts(&store, "low_stock").await.len(), 1);
    assert_eq!(events_of(&store, "alert.raised").await.len(), 1);

    let acked = store
        .acknowledge_alert(alert.id, "manager-1", Utc::now())
        .await
        .unwrap();
    assert_eq!(
        (acked.state, acked.acknowledged_by.as_deref()),
        (AlertState::Acknowledged, Some("manager-1"))
    );
    let again = store
        .acknowledge_alert(alert.id, "someone-else", Utc::now())
        .await
        .unwrap();
    assert_eq!(again, acked, "acknowledging twice changes nothing");
    assert_eq!(events_of(&store, "alert.acknowledged").await.len(), 1);
    assert!(matches!(
        store.acknowledge_alert(999_999, "x", Utc::now()).await,
        Err(StoreError::NotFound { .. })
    ));

    // Back above, then an order's reservation crosses again: a new alert.
    store
        .apply_movements(vec![movement("r2", "WH", "A", Receipt, 20)])
        .await
        .unwrap();
    store
        .create_customer(customer("C", None, None, true))
        .await
        .unwrap();
    let input = domain::order::OrderInput {
        customer: "C".into(),
        location: Some("WH".into()),
        lines: vec![domain::order::LineInput {
            sku: "A".into(),
            qty: 18,
            unit: None,
            expected_unit_price: None,
        }],
        ship_to: None,
        note: None,
        requested_date: None,
    };
    place(&store, &input, "k1").await.unwrap();
    let open = open_alerts(&store, "low_stock").await;
    assert_eq!(open.len(), 1);
    assert_ne!(open[0].id, alert.id);
    assert_eq!(open[0].detail["available"].as_i64(), Some(4));
    let all = store
        .list_alerts(&AlertFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|a| a.id).collect::<Vec<_>>(),
        [open[0].id, alert.id],
        "newest first"
    );
}

/// A sale beyond on_hand is applied (it already happened) and raises `negative_stock`.
pub async fn a_sale_beyond_on_hand_raises_negative_stock(store: Arc<dyn Store>) {
    store.create_location(location("ST")).await.unwrap();
    store.create_product(product("A", 100, &[])).await.unwrap();
    store.create_product(product("B", 100, &[])).await.unwrap();
    store
        .apply_movements(vec![
            movement("r1", "ST", "A", Receipt, 2),
            movement("r2", "ST", "B", Receipt, 2),
        ])
        .await
        .unwrap();
    store
        .apply_movements(vec![
            movement("pos-1", "ST", "A", Sale, 3),
            movement("pos-2", "ST", "B", Sale, 2),
        ])
        .await
        .unwrap();
    let open = open_alerts(&store, "negative_stock").await;
    assert_eq!(open.len(), 1, "B is at zero, not below: {open:?}");
    assert_eq!(
        (
            open[0].key.as_str(),
            open[0].sku.as_deref(),
            open[0].detail["on_hand"].as_i64()
        ),
        ("ST/A", Some("A"), Some(-1))
    );
    store
        .apply_movements(vec![movement("pos-3", "ST", "A", Sale, 1)])
        .await
        .unwrap();
    assert_eq!(
        events_of(&store, "alert.raised").await.len(),
        1,
        "still negative: no second alert"
    );
    assert!(store.verify().await.unwrap().ok());
}

/// `raise_alert` de-duplicates on kind and key while open; thresholds are set, listed and
/// removed, and unknown levels or kinds are refused.
pub async fn alerts_raise_by_kind_and_key_and_thresholds_list(store: Arc<dyn Store>) {
    store.create_location(location("WH")).await.unwrap();
    store.create_location(location("ST")).await.unwrap();
    store.create_product(product("A", 100, &[])).await.unwrap();
    store.create_product(product("B", 100, &[])).await.unwrap();
    let lag = |n: i64| NewAlert {
        kind: "sink_lag".into(),
        key: "amqp".into(),
        location: None,
        sku: None,
        message: format!("{n} events behind"),
        detail: serde_json::json!({"lag": n}),
    };
    let first = store.raise_alert(lag(500), Utc::now()).await.unwrap();
    let second = store.raise_alert(lag(900), Utc::now()).await.unwrap();
    assert!(first.created && !second.created);
    assert_eq!(second.alert, first.alert);
    assert_eq!(events_of(&store, "alert.raised").await.len(), 1);
    let bad = store
        .raise_alert(
            NewAlert {
                kind: "Sink Lag".into(),
                ..lag(1)
            },
            Utc::now(),
        )
        .await;
    assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");

    // A threshold set at or above current stock raises at once.
    store
        .set_threshold(&loc("ST"), &sku("B"), 0, Utc::now())
        .await
        .unwrap();
    assert_eq!(open_alerts(&store, "low_stock").await.len(), 1);
    store
        .set_threshold(&loc("WH"), &sku("A"), 3, Utc::now())
        .await
        .unwrap();
    let updated = store
        .set_threshold(&loc("WH"), &sku("A"), 4, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        store.get_threshold(&loc("WH"), &sku("A")).await.unwrap(),
        updated
    );
    let page = store.list_thresholds(None, None, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    let next = store
        .list_thresholds(None, Some(&(loc("ST"), sku("B"))), 10)
        .await
        .unwrap();
    assert_eq!(
        (page[0].location.as_str(), next[0].location.as_str()),
        ("ST", "WH")
    );
    assert_eq!(
        store
            .list_thresholds(Some(&loc("WH")), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store
        .remove_threshold(&loc("WH"), &sku("A"), Utc::now())
        .await
        .unwrap();
    assert!(matches!(
        store.get_threshold(&loc("WH"), &sku("A")).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .remove_threshold(&loc("WH"), &sku("A"), Utc::now())
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .set_threshold(&loc("WH"), &sku("GHOST"), 1, Utc::now())
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(events_of(&store, "stock.threshold_updated").await.len(), 4);
    let by_location = store
        .list_alerts(
            &AlertFilter {
                location: Some("ST".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(by_location.len(), 1);
}
