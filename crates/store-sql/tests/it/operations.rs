//! Whole-database operations on both backends: `verify` against hand edits, the append-only
//! ledger, and backups taken during writes restored into either backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use domain::ids::{LocationCode, Sku};
use domain::order::{LineInput, OrderInput, QtyInput, ShipInput};
use domain::pricing::{PriceEntryInput, PriceListInput, validate_entries};
use domain::stock::MovementKind::{Receipt, Sale};
use store::OrderCommand;
use store::conformance::{customer, location, movement, place, product};
use store::{BackupRecord, Store};
use store_sql::testing::TestDatabase;

async fn stocked(store: &Arc<dyn Store>, skus: usize) {
    store.create_location(location("WH")).await.unwrap();
    for i in 0..skus {
        store
            .create_product(product(&format!("S{i:02}"), 100, &[]))
            .await
            .unwrap();
    }
}

/// A price list, a customer with its own prices, and orders in several states.
async fn with_orders(store: &Arc<dyn Store>) {
    let entries: Vec<PriceEntryInput> =
        serde_json::from_str(r#"[{"sku":"S00","min_qty":5,"unit_price":80}]"#).unwrap();
    let list = PriceListInput {
        name: "Gold".into(),
        currency: None,
        entries,
    };
    store
        .put_price_list(list.validate("GOLD").unwrap())
        .await
        .unwrap();
    store
        .create_customer(customer("C", Some("GOLD"), None, true))
        .await
        .unwrap();
    let own = validate_entries(
        &serde_json::from_str::<Vec<PriceEntryInput>>(r#"[{"sku":"S01","unit_price":70}]"#)
            .unwrap(),
    )
    .unwrap();
    store.put_customer_prices("C", own).await.unwrap();
    store
        .apply_movements(
            (0..3)
                .map(|i| movement(&format!("open{i}"), "WH", &format!("S0{i}"), Receipt, 50))
                .collect(),
        )
        .await
        .unwrap();
    let order = |lines: &[(&str, i64)]| OrderInput {
        customer: "C".into(),
        location: Some("WH".into()),
        lines: lines
            .iter()
            .map(|(s, q)| LineInput {
                sku: (*s).into(),
                qty: *q,
                unit: None,
                expected_unit_price: None,
            })
            .collect(),
        ship_to: None,
        note: Some("backup test".into()),
        requested_date: None,
    };
    let open = place(store, &order(&[("S00", 6), ("S01", 2)]), "o1")
        .await
        .unwrap()
        .order;
    let shipped = place(store, &order(&[("S02", 4)]), "o2")
        .await
        .unwrap()
        .order;
    let lines = ShipInput {
        lines: vec![QtyInput {
            sku: "S02".into(),
            qty: 1,
        }],
        carrier: None,
        tracking_number: None,
    };
    store
        .act_on_order(
            &shipped.id,
            OrderCommand::Ship(lines.validate().unwrap()),
            None,
            "t",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        open.lines[0].price_source,
        domain::pricing::PriceSource::Tier
    );
}

/// A threshold that raised an alert (acknowledged), an open alert and a webhook
/// subscription with its secret: all must survive backup and restore.
async fn with_alerts_and_webhooks(store: &Arc<dyn Store>) {
    let (wh, s03) = (
        LocationCode::parse("l", "WH").unwrap(),
        Sku::parse("s", "S03").unwrap(),
    );
    store
        .set_threshold(&wh, &s03, 2, chrono::Utc::now())
        .await
        .unwrap();
    let low = store
        .list_alerts(&store::alerts::AlertFilter::default(), None, 1)
        .await
        .unwrap();
    store
        .acknowledge_alert(low[0].id, "backup test", chrono::Utc::now())
        .await
        .unwrap();
    store
        .raise_alert(
            store::alerts::NewAlert {
                kind: "sink_lag".into(),
                key: "nats".into(),
                location: None,
                sku: None,
                message: "behind".into(),
                detail: serde_json::json!({"lag_events": 1200}),
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    store
        .create_webhook(
            store::webhooks::NewWebhook {
                url: "https://erp.example.com/stockbook".into(),
                event_types: vec!["order.*".into()],
                description: None,
                secret: store::webhooks::WebhookSecret(
                    "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
                ),
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
}

/// Makes the database an edge node of WH with one figure mirrored from HQ, so a backup
/// carries the edge records too.
async fn as_edge(store: &Arc<dyn Store>) {
    let wh = LocationCode::parse("location", "WH").unwrap();
    store
        .edge_bind("http://hq.example", &wh, chrono::Utc::now())
        .await
        .unwrap();
    let figure = store::edge::HqFigure {
        sku: Sku::parse("sku", "S09").unwrap(),
        on_hand: 12,
        movement: None,
    };
    store
        .edge_mirror(store::edge::HqStock {
            figures: vec![figure],
            stock_seq: 7,
            bootstrap: Some(7),
            now: chrono::Utc::now(),
        })
        .await
        .unwrap();
}

async fn both(name: &str) -> Vec<TestDatabase> {
    let mut dbs = vec![TestDatabase::sqlite(name).await.unwrap()];
    dbs.extend(TestDatabase::postgres(name).await.unwrap());
    dbs
}

async fn export(store: &Arc<dyn Store>) -> Vec<BackupRecord> {
    store::export_all(store.as_ref()).await.unwrap()
}

#[tokio::test]
async fn verify_fails_naming_a_level_that_was_changed_by_hand() {
    for db in both("verify_hand_edit").await {
        let store = db.store.clone();
        stocked(&store, 2).await;
        store
            .apply_movements(vec![
                movement("r1", "WH", "S00", Receipt, 10),
                movement("r2", "WH", "S01", Receipt, 4),
            ])
            .await
            .unwrap();
        assert!(store.verify().await.unwrap().ok(), "{}", store.backend());

        db.raw(
            "UPDATE stock_levels SET on_hand = on_hand + 5 WHERE location = 'WH' AND sku = 'S01'",
        )
        .await
        .unwrap();

        let report = store.verify().await.unwrap();
        assert_eq!(
            report.violations.len(),
            1,
            "{}: {report:?}",
            store.backend()
        );
        let v = &report.violations[0];
        assert_eq!(
            (v.check, v.location.as_deref(), v.sku.as_deref()),
            ("on_hand_matches_ledger", Some("WH"), Some("S01"))
        );
        assert!(
            v.detail.contains("on_hand is 9, the ledger sums to 4"),
            "{}",
            v.detail
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn verify_names_a_reservation_that_no_open_order_holds() {
    for db in both("verify_reservation").await {
        stocked(&db.store, 3).await;
        with_orders(&db.store).await;
        assert!(
            db.store.verify().await.unwrap().ok(),
            "{}",
            db.store.backend()
        );
        db.raw("UPDATE order_lines SET reserved_qty = 0 WHERE sku = 'S00'")
            .await
            .unwrap();
        let report = db.store.verify().await.unwrap();
        let checks: Vec<(&str, Option<&str>)> = report
            .violations
            .iter()
            .map(|v| (v.check, v.sku.as_deref()))
            .collect();
        assert_eq!(
            checks,
            [("reserved_matches_open_orders", Some("S00"))],
            "{}",
            db.store.backend()
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_ledger_refuses_edits_and_deletions() {
    for db in both("ledger_immutable").await {
        stocked(&db.store, 1).await;
        db.store
            .apply_movements(vec![movement("r1", "WH", "S00", Receipt, 10)])
            .await
            .unwrap();
        let edit = db.raw("UPDATE stock_movements SET qty = 99").await;
        let delete = db.raw("DELETE FROM stock_movements").await;
        assert!(
            edit.is_err() && delete.is_err(),
            "{}: {edit:?} {delete:?}",
            db.store.backend()
        );
        assert!(edit.unwrap_err().to_string().contains("append-only"));
        let (wh, sku) = (
            LocationCode::parse("location", "WH").unwrap(),
            Sku::parse("sku", "S00").unwrap(),
        );
        assert_eq!(
            db.store.list_movements(&wh, &sku, None, 10).await.unwrap()[0].qty,
            10,
            "the ledger is unchanged"
        );
        db.cleanup().await;
    }
}

/// Takes a backup of `source` while four writers apply batches, then restores it into
/// `target`: the restored database verifies and holds exactly the snapshot.
async fn backup_during_writes_restores(source: &TestDatabase, target: &TestDatabase) {
    stocked(&source.store, 10).await;
    with_orders(&source.store).await;
    with_alerts_and_webhooks(&source.store).await;
    as_edge(&source.store).await;
    let writing = Arc::new(AtomicBool::new(true));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (store, writing) = (source.store.clone(), writing.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while writing.load(Ordering::Relaxed) && n < 400 {
                    let batch = (0..10)
                        .map(|k| {
                            let sku = format!("S{:02}", (w + k + n) % 10);
                            let kind = if k % 4 == 3 { Sale } else { Receipt };
                            movement(&format!("w{w}-{n}-{k}"), "WH", &sku, kind, 1 + k as i64)
                        })
                        .collect();
                    store.apply_movements(batch).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    // Let the writers get going, then snapshot while they keep writing.
    while source.store.verify().await.unwrap().movements < 200 {
        tokio::task::yield_now().await;
    }
    let snapshot = export(&source.store).await;
    writing.store(false, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let after = source.store.verify().await.unwrap();
    let in_snapshot = snapshot
        .iter()
        .filter(|r| matches!(r, BackupRecord::Movement(_)))
        .count() as i64;
    assert!(
        in_snapshot >= 200 && in_snapshot < after.movements,
        "the snapshot was taken mid-stream: {in_snapshot} of {}",
        after.movements
    );

    let restored = target
        .store
        .restore(&mut snapshot.clone().into_iter().map(Ok))
        .await
        .unwrap();
    assert_eq!(restored, snapshot.len() as u64);
    let report = target.store.verify().await.unwrap();
    assert!(
        report.ok(),
        "{} → {}: {report:?}",
        source.store.backend(),
        target.store.backend()
    );
    assert_eq!(report.movements, in_snapshot);
    assert_eq!(
        export(&target.store).await,
        snapshot,
        "{} → {}",
        source.store.backend(),
        target.store.backend()
    );

    // The restored database keeps working: new movements get new ledger positions.
    let outcome = target
        .store
        .apply_movements(vec![movement("after-restore", "WH", "S00", Receipt, 1)])
        .await
        .unwrap();
    assert!(
        matches!(outcome[0], domain::stock::Outcome::Applied(_)),
        "{outcome:?}"
    );
    for kind in ["threshold", "alert", "webhook"] {
        assert!(
            snapshot
                .iter()
                .any(|r| serde_json::to_value(r).unwrap()["type"] == kind),
            "the backup holds a {kind}"
        );
    }
    // New alerts and subscriptions get numbers after the restored ones.
    let webhooks = target.store.list_webhooks(None, 10).await.unwrap();
    let next = target
        .store
        .create_webhook(
            store::webhooks::NewWebhook {
                url: "http://127.0.0.1:9/".into(),
                event_types: vec![],
                description: None,
                secret: webhooks[0].secret.clone(),
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert!(next.id > webhooks[0].id);
    let raised = target
        .store
        .raise_alert(
            store::alerts::NewAlert {
                kind: "sink_lag".into(),
                key: "amqp".into(),
                location: None,
                sku: None,
                message: "behind".into(),
                detail: serde_json::Value::Null,
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert!(raised.created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_during_writes_restores_into_sqlite() {
    let (source, target) = (
        TestDatabase::sqlite("backup_src").await.unwrap(),
        TestDatabase::sqlite("backup_dst").await.unwrap(),
    );
    backup_during_writes_restores(&source, &target).await;
    source.cleanup().await;
    target.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sqlite_backup_taken_during_writes_restores_into_postgres() {
    let Some(target) = TestDatabase::postgres("backup_to_pg").await.unwrap() else {
        return;
    };
    let source = TestDatabase::sqlite("backup_src").await.unwrap();
    backup_during_writes_restores(&source, &target).await;
    source.cleanup().await;
    target.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_backup_taken_during_writes_restores_into_sqlite() {
    let Some(source) = TestDatabase::postgres("backup_from_pg").await.unwrap() else {
        return;
    };
    let target = TestDatabase::sqlite("backup_dst").await.unwrap();
    backup_during_writes_restores(&source, &target).await;
    source.cleanup().await;
    target.cleanup().await;
}

fn audit_entry(n: usize) -> store::NewAudit {
    store::NewAudit {
        at: chrono::Utc::now(),
        actor: format!("user-{n}"),
        role: "admin".into(),
        action: "POST /api/v1/users".into(),
        target: "/api/v1/users".into(),
        request_id: format!("req-{n}"),
        source: "127.0.0.1".into(),
        status: 201,
        summary: "{}".into(),
    }
}

/// The audit trail refuses edits through SQL; one who drops the trigger and edits or
/// deletes a row anyway is named by `verify`.
#[tokio::test]
async fn verify_names_an_edited_or_deleted_audit_entry() {
    for db in both("verify_audit").await {
        for n in 0..4 {
            db.store.append_audit(audit_entry(n)).await.unwrap();
        }
        assert!(db.store.verify().await.unwrap().ok());
        let edit = db
            .raw("UPDATE audit_log SET actor = 'mallory' WHERE audit_id = 2")
            .await;
        assert!(
            edit.is_err_and(|e| e.to_string().contains("append-only")),
            "{}",
            db.store.backend()
        );

        let unprotect = match db.store.backend() {
            "sqlite" => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
            _ => "DROP TRIGGER audit_log_append_only ON audit_log;",
        };
        db.raw(unprotect).await.unwrap();
        db.raw("UPDATE audit_log SET actor = 'mallory' WHERE audit_id = 2")
            .await
            .unwrap();
        let report = db.store.verify().await.unwrap();
        let found: Vec<(&str, &str)> = report
            .violations
            .iter()
            .map(|v| (v.check, v.detail.as_str()))
            .collect();
        assert_eq!(
            found,
            [(
                "audit_chain_intact",
                "audit entry 2: its content does not match its hash (it was edited)"
            )],
            "{}",
            db.store.backend()
        );

        db.raw("DELETE FROM audit_log WHERE audit_id = 3")
            .await
            .unwrap();
        let report = db.store.verify().await.unwrap();
        let details: Vec<&str> = report
            .violations
            .iter()
            .map(|v| v.detail.as_str())
            .collect();
        assert!(
            details.contains(&"audit entry 4: entries 3..3 are missing")
                && details.contains(
                    &"audit entry 4: does not link to the entry before it (an entry was deleted or edited)"
                ),
            "{}: {details:?}",
            db.store.backend()
        );
        db.cleanup().await;
    }
}

/// The delivery log keeps the newest million attempts: the thousandth insert past that
/// prunes the oldest, by id.
#[tokio::test]
async fn the_webhook_delivery_log_prunes_its_oldest_entries() {
    for db in both("delivery_prune").await {
        let store = &db.store;
        let w = store
            .create_webhook(
                store::webhooks::NewWebhook {
                    url: "http://127.0.0.1:9/".into(),
                    event_types: vec![],
                    description: None,
                    secret: store::webhooks::WebhookSecret("whsec_AAAA".into()),
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        let insert = |id: i64| {
            format!(
                "INSERT INTO webhook_deliveries (delivery_id, webhook_id, event_seq, event_id, event_type, attempt, manual, \
                 attempted_at, status_code, error, duration_ms, ok) \
                 VALUES ({id}, {}, 1, 'e', 't', 1, TRUE, '2026-11-22T00:00:00Z', 200, NULL, 1, TRUE)",
                w.id
            )
        };
        db.raw(&insert(1)).await.unwrap();
        db.raw(&insert(1_000_998)).await.unwrap();
        if store.backend() == "postgres" {
            // An identity does not follow explicit ids by itself.
            db.raw("SELECT setval(pg_get_serial_sequence('webhook_deliveries', 'delivery_id'), 1000998)")
                .await
                .unwrap();
        }
        let manual = |seq| store::webhooks::NewDelivery {
            webhook_id: w.id,
            event_seq: seq,
            event_id: "e".into(),
            event_type: "t".into(),
            attempt: 1,
            manual: true,
            attempted_at: chrono::Utc::now(),
            status_code: Some(200),
            error: None,
            duration_ms: 1,
        };
        let claim = store::webhooks::LeaseClaim {
            holder: "t".into(),
            until: chrono::Utc::now(),
        };
        let policy = store::webhooks::DisablePolicy {
            after_failures: 1,
            after: chrono::Duration::zero(),
        };
        for seq in 0..2 {
            store
                .record_delivery(manual(seq), 0, &claim, &policy)
                .await
                .unwrap();
        }
        let ids: Vec<i64> = store
            .list_deliveries(w.id, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(
            ids,
            [1_001_000, 1_000_999, 1_000_998],
            "{}: id 1 is more than a million behind 1,001,000",
            store.backend()
        );
        db.cleanup().await;
    }
}
