//! The conformance suite: stories every [`Store`] backend must pass, run by each backend's
//! tests through [`conformance_tests!`](crate::conformance_tests) on a fresh database per story.
//!
//! The stories speak only through the [`Store`] interface, so passing them on SQLite and
//! on PostgreSQL is what "both backends agree" means.

#![expect(
    clippy::unwrap_used,
    reason = "a test suite: a failed step is a failed test"
)]

mod alerts;
mod auth;
mod edge;
mod events;
mod orders;
mod retail;
mod sinks;
mod webhooks;

pub use alerts::*;
pub use auth::*;
pub use edge::*;
pub use events::*;
pub use orders::*;
pub use retail::*;
pub use sinks::*;
pub use webhooks::*;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use domain::auth::{Grant, Role};
use domain::catalog::{LocationInput, NewLocation, NewProduct, ProductInput, ProductPatchInput};
use domain::ids::{LocationCode, MovementId, Sku};
use domain::stock::{MovementKind, NewMovement, Outcome};

use crate::{BackupRecord, LevelFilter, NewToken, Store, StoreError};

/// A fresh, empty, migrated database for one story.
#[async_trait]
pub trait TestDb: Send + Sync {
    /// The store under test.
    fn store(&self) -> Arc<dyn Store>;
    /// Drops what the database left behind (a PostgreSQL schema, a SQLite file).
    async fn cleanup(self: Box<Self>);
}

/// Expands to one `#[tokio::test]` per story, each on a database made by `$make(name)`,
/// an `async fn(&str) -> Option<Box<dyn TestDb>>` that returns `None` (after printing
/// why) when the backend is not available.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@each $make;
            catalog_story,
            movements_story,
            duplicates_return_the_first_outcome_and_change_nothing,
            a_batch_with_an_unknown_sku_changes_nothing,
            concurrent_movements_apply_each_id_once,
            a_reused_id_racing_at_two_levels_is_refused_not_failed,
            tokens_story,
            users_log_in_and_disabling_kills_their_tokens,
            the_audit_trail_is_a_gap_free_hash_chain,
            concurrent_audit_appends_keep_the_chain,
            refused_orders_give_back_their_other_lines,
            a_short_line_of_a_credit_customer_reserves_nothing,
            export_writes_every_record_and_restore_refuses_a_full_database,
            prices_resolve_by_source_and_break,
            pack_units_convert_and_order_rules_hold,
            a_placed_order_reads_back_as_it_was_returned,
            a_short_line_reserves_nothing,
            an_order_lives_through_review_shipments_delivery_and_return,
            edits_move_the_reservation_by_the_difference,
            orders_over_credit_wait_for_review,
            concurrent_orders_never_oversell,
            random_orders_from_many_tasks_keep_every_invariant,
            one_idempotency_key_makes_one_order,
            cancel_and_ship_racing_one_wins,
            orders_list_newest_first_with_filters,
            closing_a_partly_shipped_order_releases_the_rest,
            edits_reprice_only_changed_lines_and_keep_the_currency,
            an_order_over_credit_can_be_reduced_not_raised,
            concurrent_orders_share_one_credit_limit,
            every_change_appends_its_events,
            a_tailing_reader_sees_every_event_exactly_once,
            sink_leases_give_one_holder_and_cursors_only_move_forward,
            racing_nodes_get_one_lease,
            low_stock_is_raised_once_by_the_movement_that_crosses,
            a_sale_beyond_on_hand_raises_negative_stock,
            alerts_raise_by_kind_and_key_and_thresholds_list,
            webhook_positions_move_only_for_the_lease_holder_on_success,
            sustained_failure_disables_a_webhook_with_an_alert,
            // The shop floor (docs/stores.md).
            a_sale_racing_its_retries_is_recorded_once,
            concurrent_returns_never_take_back_more_than_was_sold,
            concurrent_reads_of_the_same_tags_count_each_tag_once,
            an_edge_node_mirrors_hq_and_counts_each_movement_once,
            a_stock_snapshot_names_the_last_event_it_reflects,
        );
    };
    (@each $make:path; $($story:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $story() {
                let Some(db) = $make(stringify!($story)).await else { return };
                $crate::conformance::$story(db.store()).await;
                db.cleanup().await;
            }
        )*
    };
}

/// A validated location, for tests.
pub fn location(code: &str) -> NewLocation {
    LocationInput {
        code: code.into(),
        name: format!("Location {code}"),
        kind: "warehouse".into(),
        time_zone: None,
    }
    .validate()
    .expect("valid location")
}

/// A validated product, for tests.
pub fn product(sku: &str, price: i64, gtins: &[&str]) -> NewProduct {
    ProductInput {
        sku: sku.into(),
        name: format!("Product {sku}"),
        unit: "件".into(),
        price,
        currency: None,
        gtins: Some(gtins.iter().map(|g| (*g).to_owned()).collect()),
        active: None,
        packs: None,
        min_order_qty: None,
        order_multiple: None,
    }
    .validate()
    .expect("valid product")
}

/// A validated movement, for tests.
pub fn movement(id: &str, location: &str, sku: &str, kind: MovementKind, qty: i64) -> NewMovement {
    NewMovement {
        id: MovementId::parse("id", id).expect("valid id"),
        sku: Sku::parse("sku", sku).expect("valid sku"),
        location: LocationCode::parse("location", location).expect("valid location"),
        kind,
        qty,
        reason: (kind == MovementKind::Adjustment).then(|| "test".to_owned()),
        occurred_at: Utc::now(),
    }
}

pub(crate) fn sku(s: &str) -> Sku {
    Sku::parse("sku", s).expect("valid sku")
}

pub(crate) fn loc(s: &str) -> LocationCode {
    LocationCode::parse("location", s).expect("valid location")
}

/// Creates locations and products, refuses duplicates, patches and pages through them.
pub async fn catalog_story(store: Arc<dyn Store>) {
    store.create_location(location("WH-1")).await.unwrap();
    store.create_location(location("ST-1")).await.unwrap();
    let again = store.create_location(location("WH-1")).await;
    assert!(
        matches!(
            again,
            Err(StoreError::Conflict {
                code: "already_exists",
                ..
            })
        ),
        "{again:?}"
    );
    let codes: Vec<_> = store
        .list_locations(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.code.to_string())
        .collect();
    assert_eq!(codes, ["ST-1", "WH-1"]);

    let tea = store
        .create_product(product("TEA", 1250, &["6901234567892"]))
        .await
        .unwrap();
    assert_eq!(tea.gtins, ["06901234567892"]);
    assert_eq!(tea.currency.as_str(), "CNY");
    let stolen = store
        .create_product(product("TEA2", 1, &["06901234567892"]))
        .await;
    assert!(
        matches!(
            stolen,
            Err(StoreError::Conflict {
                code: "gtin_taken",
                ..
            })
        ),
        "{stolen:?}"
    );
    assert!(
        matches!(
            store.get_product(&sku("TEA2")).await,
            Err(StoreError::NotFound { .. })
        ),
        "nothing half-created"
    );
    let twice = store.create_product(product("TEA", 1, &[])).await;
    assert!(
        matches!(
            twice,
            Err(StoreError::Conflict {
                code: "already_exists",
                ..
            })
        ),
        "{twice:?}"
    );

    let patch = ProductPatchInput {
        price: Some(1300),
        gtins: Some(vec!["96385074".into()]),
        active: Some(false),
        ..Default::default()
    };
    let patched = store
        .update_product(&sku("TEA"), patch.validate().unwrap())
        .await
        .unwrap();
    assert_eq!(
        (patched.price, patched.active, patched.gtins.clone()),
        (1300, false, vec!["00000096385074".to_owned()])
    );
    assert_eq!(store.get_product(&sku("TEA")).await.unwrap(), patched);
    assert!(patched.updated_at >= tea.updated_at);
    store
        .create_product(product("TEA3", 1, &["6901234567892"]))
        .await
        .expect("released GTIN is free again");
    let missing = store
        .update_product(
            &sku("NOPE"),
            ProductPatchInput::default().validate().unwrap(),
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));

    for i in 0..7 {
        store
            .create_product(product(&format!("P{i:02}"), 100, &[]))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<Sku> = None;
    loop {
        let page = store.list_products(after.as_ref(), 3).await.unwrap();
        seen.extend(page.iter().map(|p| p.sku.to_string()));
        if page.len() < 3 {
            break;
        }
        after = page.last().map(|p| p.sku.clone());
    }
    assert_eq!(
        seen,
        [
            "P00", "P01", "P02", "P03", "P04", "P05", "P06", "TEA", "TEA3"
        ]
    );
}

async fn stocked(store: &Arc<dyn Store>, skus: &[&str]) {
    store.create_location(location("WH")).await.unwrap();
    for s in skus {
        store.create_product(product(s, 100, &[])).await.unwrap();
    }
}

/// Receipts, sales (even into negative), adjustments (never into negative) and counts move
/// the level and the ledger together.
pub async fn movements_story(store: Arc<dyn Store>) {
    use MovementKind::*;
    stocked(&store, &["A", "B"]).await;
    let level = store.get_level(&loc("WH"), &sku("A")).await.unwrap();
    assert_eq!(
        (
            level.on_hand,
            level.reserved,
            level.available,
            level.updated_at
        ),
        (0, 0, 0, None)
    );

    let batch = vec![
        movement("r1", "WH", "A", Receipt, 10),
        movement("s1", "WH", "A", Sale, 4),
        movement("a1", "WH", "A", Adjustment, -7),
        movement("a2", "WH", "A", Adjustment, -6),
        movement("s2", "WH", "B", Sale, 2),
        movement("c1", "WH", "A", Count, 3),
        movement("t1", "WH", "A", Return, 1),
    ];
    let outcomes = store.apply_movements(batch).await.unwrap();
    let summary: Vec<_> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Applied(a) => format!(
                "applied {}{}",
                a.on_hand,
                if a.negative_stock { " negative" } else { "" }
            ),
            Outcome::Duplicate(_) => "duplicate".to_owned(),
            Outcome::Rejected { error } => format!("rejected {}", error.code),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "applied 10",
            "applied 6",
            "rejected insufficient_stock",
            "applied 0",
            "applied -2 negative",
            "applied 3",
            "applied 4"
        ]
    );
    let a = store.get_level(&loc("WH"), &sku("A")).await.unwrap();
    assert_eq!((a.on_hand, a.available, a.incoming), (4, 4, 0));
    assert!(a.updated_at.is_some());
    assert_eq!(
        store
            .get_level(&loc("WH"), &sku("B"))
            .await
            .unwrap()
            .on_hand,
        -2
    );

    let ledger = store
        .list_movements(&loc("WH"), &sku("A"), None, 100)
        .await
        .unwrap();
    let ids: Vec<_> = ledger.iter().map(|m| m.id.to_string()).collect();
    assert_eq!(
        ids,
        ["t1", "c1", "a2", "s1", "r1"],
        "newest first, rejected one absent"
    );
    assert_eq!(ledger[1].on_hand_delta, 3, "a count records its difference");
    assert!(ledger.windows(2).all(|w| w[0].seq > w[1].seq));
    let older = store
        .list_movements(&loc("WH"), &sku("A"), Some(ledger[1].seq), 2)
        .await
        .unwrap();
    assert_eq!(
        older.iter().map(|m| m.id.to_string()).collect::<Vec<_>>(),
        ["a2", "s1"]
    );

    let levels = store
        .list_levels(
            &LevelFilter {
                sku: Some(sku("B")),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(levels.len(), 1);
    assert!(matches!(
        store.get_level(&loc("WH"), &sku("NOPE")).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.get_level(&loc("NOPE"), &sku("A")).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.verify().await.unwrap().ok());
}

/// A re-sent movement returns its first outcome and changes nothing; a reused id with other
/// facts is refused.
pub async fn duplicates_return_the_first_outcome_and_change_nothing(store: Arc<dyn Store>) {
    use MovementKind::*;
    stocked(&store, &["A"]).await;
    let first = store
        .apply_movements(vec![movement("m1", "WH", "A", Receipt, 5)])
        .await
        .unwrap();
    let Outcome::Applied(applied) = &first[0] else {
        panic!("{first:?}")
    };
    store
        .apply_movements(vec![movement("m2", "WH", "A", Receipt, 1)])
        .await
        .unwrap();
    let again = store
        .apply_movements(vec![
            movement("m1", "WH", "A", Receipt, 5),
            movement("m3", "WH", "A", Sale, 1),
            movement("m3", "WH", "A", Sale, 1),
        ])
        .await
        .unwrap();
    assert_eq!(
        again[0],
        Outcome::Duplicate(applied.clone()),
        "first outcome, not today's figures"
    );
    assert!(matches!(again[1], Outcome::Applied(_)));
    assert!(
        matches!(again[2], Outcome::Duplicate(_)),
        "a repeat inside one batch is a duplicate too"
    );
    let reused = store
        .apply_movements(vec![movement("m1", "WH", "A", Sale, 5)])
        .await
        .unwrap();
    assert!(
        matches!(&reused[0], Outcome::Rejected { error } if error.code == "id_reused"),
        "{reused:?}"
    );
    assert_eq!(
        store
            .get_level(&loc("WH"), &sku("A"))
            .await
            .unwrap()
            .on_hand,
        5
    );
    assert_eq!(
        store
            .list_movements(&loc("WH"), &sku("A"), None, 10)
            .await
            .unwrap()
            .len(),
        3
    );
}

/// Unknown references refuse the whole batch, naming each bad field.
pub async fn a_batch_with_an_unknown_sku_changes_nothing(store: Arc<dyn Store>) {
    use MovementKind::*;
    stocked(&store, &["A"]).await;
    let result = store
        .apply_movements(vec![
            movement("ok", "WH", "A", Receipt, 5),
            movement("bad", "WH", "GHOST", Receipt, 1),
            movement("bad2", "NOWHERE", "A", Receipt, 1),
        ])
        .await;
    let Err(StoreError::Invalid(errors)) = result else {
        panic!("{result:?}")
    };
    let fields: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
    assert_eq!(
        fields,
        [
            ("movements[1].sku", "unknown_sku"),
            ("movements[2].location", "unknown_location")
        ]
    );
    assert_eq!(
        store
            .get_level(&loc("WH"), &sku("A"))
            .await
            .unwrap()
            .on_hand,
        0
    );
    assert!(
        store
            .list_movements(&loc("WH"), &sku("A"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// 16 tasks × 500 movements over 20 SKUs, a fifth of them re-sent by another task: every id
/// is applied exactly once and every level equals the sum of its ledger.
pub async fn concurrent_movements_apply_each_id_once(store: Arc<dyn Store>) {
    const TASKS: usize = 16;
    const PER_TASK: usize = 500;
    const SKUS: usize = 20;
    const BATCH: usize = 25;
    let skus: Vec<String> = (0..SKUS).map(|i| format!("S{i:02}")).collect();
    stocked(&store, &skus.iter().map(String::as_str).collect::<Vec<_>>()).await;

    // Deterministic workload: movement j of task t.
    fn make(t: usize, j: usize) -> NewMovement {
        let s = format!("S{:02}", (t * 7 + j * 13) % SKUS);
        let (kind, qty) = if j % 3 == 2 {
            (MovementKind::Sale, 1 + (j % 4) as i64)
        } else {
            (MovementKind::Receipt, 1 + (j % 5) as i64)
        };
        movement(&format!("t{t}-m{j}"), "WH", &s, kind, qty)
    }
    let mut expected: HashMap<String, i64> = HashMap::new();
    for t in 0..TASKS {
        for j in 0..PER_TASK {
            let m = make(t, j);
            let d = if m.kind == MovementKind::Sale {
                -m.qty
            } else {
                m.qty
            };
            *expected.entry(m.sku.to_string()).or_default() += d;
        }
    }

    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                // Own movements, plus every fifth movement of the neighbouring task re-sent.
                let own = (0..PER_TASK).map(|j| make(t, j));
                let resent = (0..PER_TASK).step_by(5).map(|j| make((t + 1) % TASKS, j));
                let all: Vec<_> = own.chain(resent).collect();
                let mut statuses = Vec::new();
                for chunk in all.chunks(BATCH) {
                    let outcomes = store
                        .apply_movements(chunk.to_vec())
                        .await
                        .expect("batch applies");
                    statuses.extend(
                        chunk
                            .iter()
                            .zip(outcomes)
                            .map(|(m, o)| (m.id.to_string(), o)),
                    );
                }
                statuses
            })
        })
        .collect();
    let mut applied: BTreeMap<String, usize> = BTreeMap::new();
    for task in futures_util::future::join_all(tasks).await {
        for (id, outcome) in task.expect("task ran") {
            match outcome {
                Outcome::Applied(_) => *applied.entry(id).or_default() += 1,
                Outcome::Duplicate(_) => {
                    applied.entry(id).or_default();
                }
                Outcome::Rejected { error } => panic!("{id} rejected: {error:?}"),
            }
        }
    }
    assert_eq!(applied.len(), TASKS * PER_TASK);
    let twice: Vec<_> = applied.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "ids not applied exactly once: {twice:?}");
    for s in &skus {
        let level = store.get_level(&loc("WH"), &sku(s)).await.unwrap();
        assert_eq!(level.on_hand, expected[s], "{s}");
    }
    let report = store.verify().await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.movements, (TASKS * PER_TASK) as i64);
}

/// Eight tasks send the same movement id for eight different SKUs at once, round after
/// round: each round exactly one is applied and the others are refused as `id_reused`;
/// no batch fails.
pub async fn a_reused_id_racing_at_two_levels_is_refused_not_failed(store: Arc<dyn Store>) {
    const TASKS: usize = 8;
    let skus: Vec<String> = (0..TASKS).map(|i| format!("S{i}")).collect();
    stocked(&store, &skus.iter().map(String::as_str).collect::<Vec<_>>()).await;
    for round in 0..10 {
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    let m = movement(
                        &format!("X{round}"),
                        "WH",
                        &format!("S{t}"),
                        MovementKind::Receipt,
                        1,
                    );
                    store
                        .apply_movements(vec![m])
                        .await
                        .expect("the batch is answered, not failed")
                })
            })
            .collect();
        let mut applied = 0;
        for task in futures_util::future::join_all(tasks).await {
            match &task.expect("task ran")[0] {
                Outcome::Applied(_) => applied += 1,
                Outcome::Rejected { error } => assert_eq!(error.code, "id_reused"),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(applied, 1, "round {round}");
    }
    assert!(store.verify().await.unwrap().ok());
}

/// `export` writes every record in table order; `restore` refuses a database that already
/// holds data. (Round trips into fresh databases of either backend are tested by the
/// backends, which can make a second database.)
pub async fn export_writes_every_record_and_restore_refuses_a_full_database(store: Arc<dyn Store>) {
    stocked(&store, &["A", "B"]).await;
    store
        .insert_token(NewToken::new(
            "ops",
            Grant::role(Role::Admin),
            "hash-1",
            Utc::now(),
        ))
        .await
        .unwrap();
    store
        .apply_movements(vec![
            movement("r1", "WH", "A", MovementKind::Receipt, 9),
            movement("s1", "WH", "B", MovementKind::Sale, 2),
        ])
        .await
        .unwrap();
    let records = crate::export_all(store.as_ref()).await.unwrap();
    let kinds: Vec<_> = records
        .iter()
        .map(|r| {
            serde_json::to_value(r).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "location", "product", "product", "level", "level", "movement", "movement", "token",
            "event", "event", "event", "event", "event", "event", "alert"
        ],
        "the sale into negative stock raised an alert, with its event"
    );

    let refused = store
        .restore(&mut records.clone().into_iter().map(Ok))
        .await;
    assert!(
        matches!(
            refused,
            Err(StoreError::Conflict {
                code: "not_empty",
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(
        !records
            .iter()
            .any(|r| matches!(r, BackupRecord::End { .. })),
        "the trailer is the writer's job"
    );
}
