//! Broker sink stories: one lease holder at a time, cursors that only move forward, a
//! lease that passes on when it expires, and cursors carried in backups.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{BackupRecord, Store};

/// One holder at a time; the cursor moves forward only and only for the holder; an
/// expired or released lease passes on, and the old holder is fenced off.
pub async fn sink_leases_give_one_holder_and_cursors_only_move_forward(store: Arc<dyn Store>) {
    let a = store
        .acquire_sink("amqp:x", "amqp", "node-a", 60_000)
        .await
        .unwrap()
        .expect("a free sink is taken");
    assert_eq!((a.cursor, a.holder.as_deref()), (0, Some("node-a")));
    assert!(a.lease_until.is_some());
    assert_eq!(
        store
            .acquire_sink("amqp:x", "amqp", "node-b", 60_000)
            .await
            .unwrap(),
        None,
        "a live lease is not taken"
    );
    // The holder renews by acquiring again, and moves the cursor forward only.
    assert!(
        store
            .acquire_sink("amqp:x", "amqp", "node-a", 60_000)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .advance_sink("amqp:x", "node-a", 10, 60_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .advance_sink("amqp:x", "node-a", 5, 60_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .advance_sink("amqp:x", "node-b", 99, 60_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_sink_error("amqp:x", "node-a", "connection refused")
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_sink_error("amqp:x", "node-b", "x")
            .await
            .unwrap()
    );
    let listed = store.list_sinks().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            listed[0].cursor,
            listed[0].kind.as_str(),
            listed[0].holder.as_deref(),
            listed[0].last_error.as_deref()
        ),
        (10, "amqp", Some("node-a"), Some("connection refused"))
    );
    assert!(listed[0].last_error_at.is_some());

    // A short lease runs out; another node takes the sink at its cursor, and the old holder
    // can no longer move it.
    store
        .acquire_sink("amqp:x", "amqp", "node-a", 50)
        .await
        .unwrap()
        .expect("renewed");
    let deadline = Instant::now() + Duration::from_secs(10);
    let b = loop {
        if let Some(b) = store
            .acquire_sink("amqp:x", "amqp", "node-b", 60_000)
            .await
            .unwrap()
        {
            break b;
        }
        assert!(
            Instant::now() < deadline,
            "the expired lease never passed on"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!((b.cursor, b.holder.as_deref()), (10, Some("node-b")));
    assert!(
        !store
            .advance_sink("amqp:x", "node-a", 20, 60_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .advance_sink("amqp:x", "node-b", 20, 60_000)
            .await
            .unwrap()
    );

    // Released: nobody holds it, and the next one takes it at once.
    store.release_sink("amqp:x", "node-b").await.unwrap();
    assert_eq!(store.list_sinks().await.unwrap()[0].holder, None);
    let a = store
        .acquire_sink("amqp:x", "amqp", "node-a", 60_000)
        .await
        .unwrap()
        .expect("a released sink is free");
    assert_eq!(a.cursor, 20);

    // The cursor is part of a backup; the lease is not.
    let records = crate::export_all(store.as_ref()).await.unwrap();
    assert!(records.contains(&BackupRecord::SinkCursor {
        sink: "amqp:x".into(),
        kind: "amqp".into(),
        cursor: 20
    }));
}

/// Sixteen nodes racing for a new sink: exactly one gets it.
pub async fn racing_nodes_get_one_lease(store: Arc<dyn Store>) {
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .acquire_sink("nats:race", "nats", &format!("node-{i}"), 60_000)
                    .await
                    .unwrap()
                    .is_some()
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        winners += usize::from(task.await.unwrap());
    }
    assert_eq!(winners, 1);
    let sinks = store.list_sinks().await.unwrap();
    assert_eq!((sinks.len(), sinks[0].cursor), (1, 0));
}
