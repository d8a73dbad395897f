//! Stories of the shop floor that need many tasks at once: the same sale, the same return,
//! the same tags arriving concurrently must each count once.

use std::sync::Arc;

use chrono::{Duration, Utc};
use domain::count::CountInput;
use domain::ids::{LocationCode, SaleId};
use domain::pos::{LineInput, NewSale, ReturnInput, SaleInput};
use domain::rfid::{ReadInput, ReadsInput};

use super::{location, movement, product};
use crate::{RequestMeta, Store, StoreError};
use domain::stock::MovementKind;

const GTIN: &str = "6901234567892";

async fn floor(store: &Arc<dyn Store>) {
    store.create_location(location("ST")).await.unwrap();
    store
        .create_product(product("A", 500, &[GTIN]))
        .await
        .unwrap();
    store
        .apply_movements(vec![movement(
            "grn-1",
            "ST",
            "A",
            MovementKind::Receipt,
            100,
        )])
        .await
        .unwrap();
}

fn st() -> LocationCode {
    LocationCode::parse("location", "ST").unwrap()
}

fn line(qty: i64) -> LineInput {
    LineInput {
        code: Some(GTIN.into()),
        sku: None,
        qty: Some(qty),
        unit_price: None,
    }
}

fn sale(id: &str, qty: i64) -> NewSale {
    SaleInput {
        sale_id: id.into(),
        terminal: "T1".into(),
        occurred_at: Utc::now(),
        location: None,
        lines: vec![line(qty)],
        payments: None,
    }
    .validate(st(), Utc::now(), &[])
    .unwrap()
}

fn meta(hash: &str) -> RequestMeta {
    RequestMeta {
        request_hash: hash.into(),
        actor: "test".into(),
    }
}

async fn on_hand(store: &Arc<dyn Store>) -> i64 {
    store
        .get_level(&st(), &domain::ids::Sku::parse("sku", "A").unwrap())
        .await
        .unwrap()
        .on_hand
}

/// Eight deliveries of one sale at once (a terminal retrying while the first is in
/// flight): one records it, the others answer its receipt.
pub async fn a_sale_racing_its_retries_is_recorded_once(store: Arc<dyn Store>) {
    floor(&store).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.record_sale(sale("S-1", 3), meta("h")).await })
        })
        .collect();
    let mut created = 0;
    let mut receipts = Vec::new();
    for t in tasks {
        let recorded = t.await.unwrap().unwrap();
        created += usize::from(recorded.created);
        receipts.push(recorded.value);
    }
    assert_eq!(created, 1);
    assert!(
        receipts.windows(2).all(|w| w[0] == w[1]),
        "one receipt for all"
    );
    assert_eq!(on_hand(&store).await, 97);
    let other = store.record_sale(sale("S-1", 4), meta("other")).await;
    assert!(matches!(
        other,
        Err(StoreError::Conflict {
            code: "sale_id_reused",
            ..
        })
    ));
}

/// Ten returns of one unit each of a five-unit sale, at once: five come back, five are
/// refused, and the sale shows five returned.
pub async fn concurrent_returns_never_take_back_more_than_was_sold(store: Arc<dyn Store>) {
    floor(&store).await;
    store.record_sale(sale("S-2", 5), meta("h")).await.unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            let ret = ReturnInput {
                return_id: format!("R-{i}"),
                terminal: "T1".into(),
                occurred_at: Utc::now(),
                location: None,
                original_sale_id: Some("S-2".into()),
                lines: vec![line(1)],
                payments: None,
                reason: None,
            }
            .validate(st(), Utc::now(), &[])
            .unwrap();
            tokio::spawn(async move { store.record_sale(ret, meta(&format!("r{i}"))).await })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(StoreError::Conflict {
                code: "return_exceeds_sale",
                ..
            }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(accepted, 5);
    assert_eq!(on_hand(&store).await, 100);
    let original = store
        .get_sale(&SaleId::parse("id", "S-2").unwrap())
        .await
        .unwrap();
    assert_eq!(original.lines[0].returned_qty, 5);
    assert!(store.verify().await.unwrap().ok());
}

/// Sixteen readers report the same fifty tags at once: each tag is accepted once, and an
/// open count counts it once.
pub async fn concurrent_reads_of_the_same_tags_count_each_tag_once(store: Arc<dyn Store>) {
    floor(&store).await;
    let count = CountInput {
        id: Some("CC-1".into()),
        location: "ST".into(),
        skus: None,
    }
    .validate("unused")
    .unwrap();
    store.open_count(count, "test").await.unwrap();
    let at = Utc::now() - Duration::seconds(5);
    let tags: Vec<String> = (0..50)
        .map(|serial| format!("urn:epc:id:sgtin:6901234.056789.{serial}"))
        .collect();
    let tasks: Vec<_> = (0..16)
        .map(|r| {
            let store = store.clone();
            let input = ReadsInput {
                reader: format!("R{r}"),
                location: None,
                reads: tags
                    .iter()
                    .map(|epc| ReadInput {
                        epc: epc.clone(),
                        antenna: None,
                        rssi: None,
                        seen_at: at,
                    })
                    .collect(),
            };
            tokio::spawn(async move {
                let batch = input.validate(Utc::now()).unwrap();
                store
                    .record_reads(&st(), batch, Duration::seconds(60))
                    .await
            })
        })
        .collect();
    let (mut accepted, mut duplicates, mut counted) = (0, 0, 0);
    for t in tasks {
        let summary = t.await.unwrap().unwrap();
        accepted += summary.accepted;
        duplicates += summary.duplicates;
        counted += summary.counted.unwrap_or(0);
    }
    assert_eq!((accepted, duplicates, counted), (50, 15 * 50, 50));
    let count = store
        .get_count(&domain::ids::CountId::parse("id", "CC-1").unwrap())
        .await
        .unwrap();
    assert_eq!((count.lines[0].counted, count.lines[0].variance), (50, -50));
}
