//! Event log stories: every change appends its events in its transaction, in commit order,
//! and a reader that follows `seq` never misses or repeats one.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use domain::order::OrderStatus;
use domain::stock::MovementKind;

use super::orders::{customer, place};
use super::{location, movement, product};
use crate::{Event, EventFilter, OrderCommand, Store};

async fn all_events(store: &Arc<dyn Store>) -> Vec<Event> {
    store
        .events_after(0, &EventFilter::default(), 100_000)
        .await
        .unwrap()
}

/// Catalog, movements and the order flow each leave the events a subscriber needs.
pub async fn every_change_appends_its_events(store: Arc<dyn Store>) {
    store.create_location(location("WH")).await.unwrap();
    store.create_product(product("A", 100, &[])).await.unwrap();
    store
        .apply_movements(vec![movement("r1", "WH", "A", MovementKind::Receipt, 10)])
        .await
        .unwrap();
    store
        .create_customer(customer("C", None, None, false))
        .await
        .unwrap();
    let input = domain::order::OrderInput {
        customer: "C".into(),
        location: Some("WH".into()),
        lines: vec![domain::order::LineInput {
            sku: "A".into(),
            qty: 3,
            unit: None,
            expected_unit_price: None,
        }],
        ship_to: None,
        note: None,
        requested_date: None,
    };
    let order = place(&store, &input, "k").await.unwrap().order;
    store
        .act_on_order(&order.id, OrderCommand::Approve, None, "t", Utc::now())
        .await
        .unwrap();
    let again = store
        .apply_movements(vec![movement("r1", "WH", "A", MovementKind::Receipt, 10)])
        .await
        .unwrap();
    assert!(
        matches!(again[0], domain::stock::Outcome::Duplicate(_)),
        "a duplicate changes nothing, so no event"
    );

    let events = all_events(&store).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "location.created",
            "product.created",
            "stock.changed",
            "customer.created",
            "stock.changed",
            "order.created",
            "order.status_changed"
        ]
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    let reserve = &events[4];
    assert_eq!(
        (reserve.location.as_deref(), reserve.sku.as_deref()),
        (Some("WH"), Some("A"))
    );
    assert_eq!(
        (
            reserve.data["on_hand"].as_i64(),
            reserve.data["reserved"].as_i64(),
            reserve.data["available"].as_i64()
        ),
        (Some(10), Some(3), Some(7))
    );
    assert_eq!(reserve.data["movement"]["kind"], "reserve");
    let approved = &events[6];
    assert_eq!(
        (
            approved.customer.as_deref(),
            approved.data["status"].as_str()
        ),
        (Some("C"), Some(OrderStatus::Confirmed.as_str()))
    );
    assert_eq!(approved.aggregate, format!("order:{}", order.id));
    let ids: HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");

    let only_orders = store
        .events_after(
            0,
            &EventFilter {
                types: vec!["order.created".into(), "order.status_changed".into()],
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(only_orders.len(), 2);
    let of_customer = store
        .events_after(
            0,
            &EventFilter {
                customer: Some("C".into()),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        of_customer.len(),
        3,
        "customer.created and the two order events"
    );
    let after = store
        .events_after(
            events[2].seq,
            &EventFilter {
                sku: Some("A".into()),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(after.len(), 1, "the reservation only");
    assert_eq!(
        store.event_head().await.unwrap(),
        events.last().unwrap().seq
    );
    assert!(store.verify().await.unwrap().ok());
}

/// 16 writers commit movement batches and orders while a reader tails the log by `seq`:
/// it sees every event exactly once, in increasing order.
pub async fn a_tailing_reader_sees_every_event_exactly_once(store: Arc<dyn Store>) {
    let skus: Vec<String> = (0..8).map(|i| format!("S{i}")).collect();
    store.create_location(location("WH")).await.unwrap();
    for s in &skus {
        store.create_product(product(s, 100, &[])).await.unwrap();
    }
    store
        .create_customer(customer("C", None, None, true))
        .await
        .unwrap();
    let writing = Arc::new(AtomicBool::new(true));
    let reader = {
        let (store, writing) = (store.clone(), writing.clone());
        tokio::spawn(async move {
            let mut seen: Vec<Event> = Vec::new();
            let mut cursor = 0;
            loop {
                let done = !writing.load(Ordering::SeqCst);
                let page = store
                    .events_after(cursor, &EventFilter::default(), 50)
                    .await
                    .expect("read");
                if let Some(last) = page.last() {
                    cursor = last.seq;
                }
                let empty = page.is_empty();
                seen.extend(page);
                if done && empty {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..25 {
                    let s = format!("S{}", (w + n) % 8);
                    if n % 5 == 4 {
                        let input = domain::order::OrderInput {
                            customer: "C".into(),
                            location: Some("WH".into()),
                            lines: vec![domain::order::LineInput {
                                sku: s,
                                qty: 1,
                                unit: None,
                                expected_unit_price: None,
                            }],
                            ship_to: None,
                            note: None,
                            requested_date: None,
                        };
                        let _ = place(&store, &input, &format!("w{w}-{n}")).await;
                    } else {
                        let batch = vec![
                            movement(&format!("w{w}-{n}-a"), "WH", &s, MovementKind::Receipt, 2),
                            movement(
                                &format!("w{w}-{n}-b"),
                                "WH",
                                &format!("S{}", (w + n + 3) % 8),
                                MovementKind::Receipt,
                                1,
                            ),
                        ];
                        store.apply_movements(batch).await.expect("batch");
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer ran");
    }
    writing.store(false, Ordering::SeqCst);
    let seen = reader.await.expect("reader ran");
    assert!(
        seen.windows(2).all(|w| w[0].seq < w[1].seq),
        "in order, no repeats"
    );
    let all = all_events(&store).await;
    let seen_ids: Vec<&str> = seen.iter().map(|e| e.id.as_str()).collect();
    let all_ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        seen_ids.len(),
        all_ids.len(),
        "the reader missed {} events",
        all_ids.len() - seen_ids.len().min(all_ids.len())
    );
    assert_eq!(seen_ids, all_ids);
    assert!(store.verify().await.unwrap().ok());
}
