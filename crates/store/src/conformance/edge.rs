//! Edge node stories: the node's own movements are queued in ledger order, HQ's figures
//! are mirrored without counting anything twice, and HQ's refusals are taken back.

use std::sync::Arc;

use chrono::Utc;
use domain::ids::{LocationCode, MovementId, Sku};
use domain::stock::MovementKind::{Adjustment, Count, Receipt, Sale};

use super::{location, movement, product};
use crate::edge::{EdgeNote, HqFigure, HqMovement, HqStock, PushAck, Refusal};
use crate::{BackupRecord, LevelFilter, Store, StoreError};

fn loc(code: &str) -> LocationCode {
    LocationCode::parse("location", code).unwrap()
}

fn sku(s: &str) -> Sku {
    Sku::parse("sku", s).unwrap()
}

async fn on_hand(store: &Arc<dyn Store>, s: &str) -> i64 {
    store.get_level(&loc("ST"), &sku(s)).await.unwrap().on_hand
}

/// HQ's `stock.changed` for a movement: its figure after and what it applied.
fn hq(seq: i64, s: &str, after: i64, id: &str, kind: &str, qty: i64, delta: i64) -> HqFigure {
    HqFigure {
        sku: sku(s),
        on_hand: after,
        movement: Some(HqMovement {
            event_seq: seq,
            id: MovementId::from_trusted(id.into()),
            kind: kind.into(),
            qty,
            on_hand_delta: delta,
            reason: None,
        }),
    }
}

fn pulled(figures: Vec<HqFigure>, stock_seq: i64) -> HqStock {
    HqStock {
        figures,
        stock_seq,
        bootstrap: None,
        now: Utc::now(),
    }
}

/// A store's node bootstraps from HQ's figures, sells while HQ is away, and converges on
/// HQ's figures as HQ's stream shows its movements back, whatever HQ booked meanwhile.
pub async fn an_edge_node_mirrors_hq_and_counts_each_movement_once(store: Arc<dyn Store>) {
    assert_eq!(
        store.edge_state().await.unwrap(),
        None,
        "not an edge node yet"
    );
    assert!(matches!(
        store.edge_outbox(10).await,
        Err(StoreError::NotFound { .. })
    ));
    store.create_location(location("ST")).await.unwrap();
    for s in ["A", "B"] {
        store.create_product(product(s, 100, &[])).await.unwrap();
    }
    let state = store
        .edge_bind("http://old-hq", &loc("ST"), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        (
            state.sync.online,
            state.sync.bootstrapped_at,
            state.pending_movements
        ),
        (false, None, 0)
    );
    let elsewhere = store.edge_bind("http://hq", &loc("ST-2"), Utc::now()).await;
    assert!(
        matches!(
            elsewhere,
            Err(StoreError::Conflict {
                code: "edge_bound_elsewhere",
                ..
            })
        ),
        "{elsewhere:?}"
    );
    let state = store
        .edge_bind("http://hq", &loc("ST"), Utc::now())
        .await
        .unwrap();
    assert_eq!(state.sync.hq, "http://hq", "HQ may move");

    // Bootstrap from HQ's snapshot: A 10, B 0.
    let boot = HqStock {
        figures: vec![
            HqFigure {
                sku: sku("A"),
                on_hand: 10,
                movement: None,
            },
            HqFigure {
                sku: sku("B"),
                on_hand: 0,
                movement: None,
            },
        ],
        stock_seq: 100,
        bootstrap: Some(100),
        now: Utc::now(),
    };
    let done = store.edge_mirror(boot).await.unwrap();
    assert_eq!((done.foreign, done.own, done.corrected), (1, 0, 0));
    let state = store.edge_state().await.unwrap().unwrap();
    assert!(state.sync.bootstrapped_at.is_some());
    assert_eq!((state.sync.stock_seq, state.sync.catalog_seq), (100, 100));
    assert_eq!(on_hand(&store, "A").await, 10);
    assert_eq!(
        state.pending_movements, 0,
        "HQ's figures are not pushed back"
    );

    // Offline: sales drive A negative, B is received and counted.
    store
        .apply_movements(vec![
            movement("s1", "ST", "A", Sale, 3),
            movement("s2", "ST", "A", Sale, 9),
            movement("r1", "ST", "B", Receipt, 5),
            movement("c1", "ST", "B", Count, 2),
        ])
        .await
        .unwrap();
    assert_eq!(
        (on_hand(&store, "A").await, on_hand(&store, "B").await),
        (-2, 2)
    );
    let state = store.edge_state().await.unwrap().unwrap();
    assert_eq!(state.pending_movements, 4);
    let first = store.edge_outbox(2).await.unwrap();
    assert_eq!(first.skipped, 1, "the bootstrap row is HQ's");
    let outbox = store.edge_outbox(100).await.unwrap();
    let ids: Vec<&str> = outbox.movements.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["s1", "s2", "r1", "c1"], "in ledger order");
    assert!(first.up_to < outbox.up_to);

    // HQ's stream: a receipt booked at HQ, the node's own movements, and a sale of B made
    // elsewhere before the count arrived (so HQ's count removes 2, the node's removed 3).
    let batch = vec![
        hq(101, "A", 15, "grn-1", "receipt", 5, 5),
        hq(102, "A", 12, "s1", "sale", 3, -3),
        hq(103, "A", 3, "s2", "sale", 9, -9),
        hq(104, "B", 5, "r1", "receipt", 5, 5),
        hq(105, "B", 4, "web-1", "sale", 1, -1),
        hq(106, "B", 2, "c1", "count", 2, -2),
    ];
    let done = store.edge_mirror(pulled(batch, 106)).await.unwrap();
    assert_eq!((done.foreign, done.own, done.corrected), (2, 4, 1));
    assert_eq!(
        (on_hand(&store, "A").await, on_hand(&store, "B").await),
        (3, 2),
        "HQ's figures, each sale counted once"
    );
    let state = store.edge_state().await.unwrap().unwrap();
    assert_eq!((state.sync.stock_seq, state.pending_movements), (106, 4));
    let grn = store
        .list_movements(&loc("ST"), &sku("A"), None, 10)
        .await
        .unwrap();
    assert!(
        grn.iter()
            .any(|m| m.id.as_str() == "grn-1" && m.kind == Receipt && m.on_hand_delta == 5),
        "HQ's movement is mirrored under its own id: {grn:?}"
    );

    // HQ acknowledges the push; later, HQ refuses a correction the node accepted.
    store
        .edge_pushed(PushAck {
            up_to: outbox.up_to,
            pushed: 4,
            refused: vec![],
            now: Utc::now(),
        })
        .await
        .unwrap();
    let state = store.edge_state().await.unwrap().unwrap();
    assert_eq!(state.pending_movements, 0);
    assert!(state.sync.last_push_at.is_some() && state.sync.last_sync_at.is_some());
    store
        .apply_movements(vec![movement("a1", "ST", "A", Adjustment, -2)])
        .await
        .unwrap();
    assert_eq!(on_hand(&store, "A").await, 1);
    let outbox = store.edge_outbox(100).await.unwrap();
    assert_eq!(outbox.movements.len(), 1);
    assert_eq!(outbox.skipped, 3, "the mirrored rows are passed over");
    store
        .edge_pushed(PushAck {
            up_to: outbox.up_to,
            pushed: 1,
            refused: vec![Refusal {
                id: outbox.movements[0].id.clone(),
                code: "insufficient_stock".into(),
                message: "on_hand is 0".into(),
            }],
            now: Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(
        on_hand(&store, "A").await,
        3,
        "taken back: HQ never applied it"
    );
    let state = store.edge_state().await.unwrap().unwrap();
    assert_eq!((state.sync.refused, state.pending_movements), (1, 0));
    assert!(
        state
            .sync
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("a1") && e.contains("insufficient_stock")),
        "{state:?}"
    );
    let outbox = store.edge_outbox(100).await.unwrap();
    assert!(outbox.movements.is_empty(), "the take-back is not pushed");

    // An HQ movement whose id this node used for something else keeps both.
    store
        .edge_mirror(pulled(vec![hq(110, "A", 10, "s1", "receipt", 7, 7)], 110))
        .await
        .unwrap();
    assert_eq!(on_hand(&store, "A").await, 10);

    // An unknown SKU refuses the batch and changes nothing.
    let unknown = store
        .edge_mirror(pulled(vec![hq(111, "NOPE", 1, "x", "receipt", 1, 1)], 111))
        .await;
    assert!(
        matches!(&unknown, Err(StoreError::Invalid(e)) if e[0].field == "figures[0].sku"),
        "{unknown:?}"
    );
    assert_eq!(
        store.edge_state().await.unwrap().unwrap().sync.stock_seq,
        110
    );

    // Link state and the catalog cursor.
    store
        .edge_note(EdgeNote::Link {
            online: true,
            error: None,
            now: Utc::now(),
        })
        .await
        .unwrap();
    store.edge_note(EdgeNote::CatalogSeq(120)).await.unwrap();
    store.edge_note(EdgeNote::CatalogSeq(90)).await.unwrap();
    let state = store.edge_state().await.unwrap().unwrap();
    assert_eq!((state.sync.online, state.sync.catalog_seq), (true, 120));
    assert_eq!(state.lag_seconds(Utc::now()), 0);
    store
        .edge_note(EdgeNote::Link {
            online: false,
            error: Some("HQ unreachable".into()),
            now: Utc::now(),
        })
        .await
        .unwrap();
    let state = store.edge_state().await.unwrap().unwrap();
    assert!(!state.sync.online);
    assert_eq!(state.sync.last_error.as_deref(), Some("HQ unreachable"));
    assert!(state.lag_seconds(Utc::now() + chrono::Duration::seconds(30)) >= 29);

    // The ledger and the levels still agree, and the backup carries the sync state.
    let report = store.verify().await.unwrap();
    assert!(report.ok(), "{report:?}");
    let records = crate::export_all(store.as_ref()).await.unwrap();
    let count = |f: fn(&BackupRecord) -> bool| records.iter().filter(|r| f(r)).count();
    assert_eq!(count(|r| matches!(r, BackupRecord::EdgeSync(_))), 1);
    assert_eq!(count(|r| matches!(r, BackupRecord::EdgeHqLevel(_))), 2);
    assert_eq!(count(|r| matches!(r, BackupRecord::EdgeMirrored { .. })), 6);
}

/// HQ's snapshot of a store: its levels and the event head they reflect, taken together.
pub async fn a_stock_snapshot_names_the_last_event_it_reflects(store: Arc<dyn Store>) {
    store.create_location(location("ST")).await.unwrap();
    store.create_location(location("WH")).await.unwrap();
    store.create_product(product("A", 100, &[])).await.unwrap();
    store
        .apply_movements(vec![
            movement("r1", "ST", "A", Receipt, 4),
            movement("r2", "WH", "A", Receipt, 9),
        ])
        .await
        .unwrap();
    let snapshot = store.edge_snapshot(&loc("ST")).await.unwrap();
    assert_eq!(snapshot.head, store.event_head().await.unwrap());
    let figures: Vec<(String, i64)> = snapshot
        .levels
        .iter()
        .map(|l| (l.sku.to_string(), l.on_hand))
        .collect();
    assert_eq!(figures, [("A".to_owned(), 4)]);
    let levels = store
        .list_levels(
            &LevelFilter {
                location: Some(loc("ST")),
                sku: None,
                within: Vec::new(),
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(snapshot.levels, levels);
    assert!(matches!(
        store.edge_snapshot(&loc("NOPE")).await,
        Err(StoreError::NotFound { .. })
    ));
}
