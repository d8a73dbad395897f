//! The event log's settled horizon on PostgreSQL (decision 0011): a transaction that took a
//! number and has not committed holds readers back at the number below it, whatever commits
//! after it, and a rolled-back one stops holding them back.
//!
//! The appender here is a raw connection doing what the store's append does (mark itself,
//! then insert), so the test controls exactly when it ends.

use std::sync::Arc;

use domain::stock::MovementKind::Receipt;
use sqlx::{Connection, PgConnection};
use store::conformance::{location, movement, product};
use store::{EventFilter, Store};
use store_sql::testing::TestDatabase;

/// Opens a transaction that marks itself as appending and appends one event, and returns
/// it open with the event's number.
async fn held_append(db: &TestDatabase, id: &str) -> (PgConnection, i64) {
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut conn).await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock_shared(7415, 'events'::regclass::oid::int)")
        .execute(&mut conn)
        .await
        .unwrap();
    let (seq,): (i64,) = sqlx::query_as(
        "INSERT INTO events (event_id, type, aggregate, occurred_at, data) \
         VALUES ($1, 'test.held', 'test:held', now(), '{}') RETURNING seq",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    (conn, seq)
}

/// A database (None without PostgreSQL) with: the head before, an appender held open
/// with event `held-{n}`, and a committed movement `m{n}` numbered after it.
async fn held_below_a_commit(
    name: &str,
    n: &str,
) -> Option<(TestDatabase, i64, PgConnection, i64)> {
    let db = TestDatabase::postgres(name).await.unwrap()?;
    db.store.create_location(location("WH")).await.unwrap();
    db.store
        .create_product(product("S1", 100, &[]))
        .await
        .unwrap();
    let cursor = db.store.event_head().await.unwrap();
    let (held, low) = held_append(&db, &format!("held-{n}")).await;
    db.store
        .apply_movements(vec![movement(&format!("m{n}"), "WH", "S1", Receipt, 5)])
        .await
        .unwrap();
    Some((db, cursor, held, low))
}

async fn seqs_after(store: &Arc<dyn Store>, cursor: i64) -> Vec<(i64, String)> {
    store
        .events_after(cursor, &EventFilter::default(), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.seq, e.id))
        .collect()
}

#[tokio::test]
async fn a_reader_waits_for_a_lower_number_that_commits_late() {
    let Some((db, cursor, mut held, low)) = held_below_a_commit("horizon_commit", "1").await else {
        return;
    };
    // The movement's event (a higher number) is committed and visible, but the held one
    // below it is not: a reader must not get past it.
    let early = seqs_after(&db.store, cursor).await;
    assert!(
        early.iter().all(|(seq, _)| *seq < low),
        "read past an uncommitted lower number {low}: {early:?}"
    );
    let head = db.store.event_head();
    sqlx::raw_sql("COMMIT").execute(&mut held).await.unwrap();
    // A head asked for while it was held settles once it commits, and lies at or past it.
    assert!(head.await.unwrap() >= low);

    let late = seqs_after(&db.store, cursor).await;
    let ids: Vec<&str> = late.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["held-1", "stock:m1"],
        "both, in number order: {late:?}"
    );
    assert_eq!(late[0].0, low);
    db.cleanup().await;
}

#[tokio::test]
async fn a_rolled_back_number_stops_holding_readers_back() {
    let Some((db, cursor, mut held, low)) = held_below_a_commit("horizon_rollback", "2").await
    else {
        return;
    };
    assert!(seqs_after(&db.store, cursor).await.is_empty());
    sqlx::raw_sql("ROLLBACK").execute(&mut held).await.unwrap();

    let after = seqs_after(&db.store, cursor).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].1, "stock:m2");
    assert!(after[0].0 > low, "the gap stays a gap");
    db.cleanup().await;
}
