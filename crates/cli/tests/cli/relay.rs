//! Broker relays end to end, with real brokers and real `stockbook serve` processes:
//! RabbitMQ stopped and restarted while 10,000 events flow, the NATS relay process killed
//! and restarted, and two nodes on one PostgreSQL sharing a sink. Each consumer must get
//! every event at least once, per aggregate in log order.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use store_sql::testing::TestDatabase;

use crate::brokers::{
    BROKERS, Received, amqp_cleanup, amqp_consume, amqp_declare, catalog, check_delivery, distinct,
    log, nats_delete_stream, nats_read, nats_stream_messages, send_batches, unique, url,
    wait_caught_up,
};
use crate::helpers::{Client, Server, issue_token};
use server::sync::jetstream;

/// 100 batches of 100 movements: 10,000 `stock.changed` events.
const BATCHES: usize = 100;

fn rabbitmqctl(command: &str) {
    let out = std::process::Command::new("rabbitmqctl")
        .arg(command)
        .output()
        .expect("rabbitmqctl runs (the test restarts the local RabbitMQ)");
    assert!(
        out.status.success(),
        "rabbitmqctl {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts RabbitMQ again if the test fails while it is stopped.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .arg("start_app")
            .output();
    }
}

async fn wait_received(received: &Received, want: usize, deadline: Duration) {
    let until = Instant::now() + deadline;
    while distinct(received) < want {
        assert!(
            Instant::now() < until,
            "only {} of {want} events arrived",
            distinct(received)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn rabbitmq_restart_loses_nothing(db: TestDatabase, amqp: String) {
    let _brokers = BROKERS.lock().await;
    let (exchange, queue) = (unique("sb_x"), unique("sb_q"));
    let sink = format!("amqp:{exchange}");
    amqp_declare(&amqp, &exchange, &queue).await;
    let token = issue_token(&db.url);
    let client = Client::new(token.clone());
    let server = Server::start_with(&db.url, &["--amqp", &amqp, "--amqp-exchange", &exchange]);
    catalog(&client, &server).await;
    let received: Received = Arc::default();
    let consumer = amqp_consume(amqp.clone(), queue.clone(), received.clone());

    // Act: 10,000 movements from 4 senders: 30 batches before RabbitMQ stops, 40 while it
    // is down, 30 while it comes back.
    let sent = Arc::new(AtomicUsize::new(0));
    let bases = vec![server.url("")];
    let started = Instant::now();
    send_batches(token.clone(), bases.clone(), "r", 0..30, sent.clone()).await;
    let restart = Restart;
    tokio::task::spawn_blocking(|| rabbitmqctl("stop_app"))
        .await
        .unwrap();
    let stopped = Instant::now();
    send_batches(token.clone(), bases.clone(), "r", 30..70, sent.clone()).await;
    let load = tokio::spawn(send_batches(
        token.clone(),
        bases,
        "r",
        70..BATCHES,
        sent.clone(),
    ));
    let head_when_back = db.store.event_head().await.unwrap();
    let restarting = Instant::now();
    let down_for = restarting - stopped;
    tokio::task::spawn_blocking(|| rabbitmqctl("start_app"))
        .await
        .unwrap();
    drop(restart);
    let start_app_took = restarting.elapsed();
    wait_caught_up(
        &client,
        &server,
        &sink,
        head_when_back,
        Duration::from_secs(60),
    )
    .await;
    let recovered = restarting.elapsed();
    load.await.unwrap();
    let head = db.store.event_head().await.unwrap();
    wait_caught_up(&client, &server, &sink, head, Duration::from_secs(60)).await;
    let all_confirmed = started.elapsed();
    let log = log(db.store.as_ref()).await;
    wait_received(&received, log.len(), Duration::from_secs(60)).await;

    // Assert: every event at least once, in order per aggregate; the relay saw the outage.
    let (messages, duplicates) = check_delivery(&received, &log);
    let stock = log.iter().filter(|e| e.kind == "stock.changed").count();
    assert_eq!(stock, BATCHES * 100);
    let (_, sinks) = client.get(server.url("/api/v1/sinks")).await;
    let item = &sinks["items"][0];
    assert_eq!(
        (item["name"].as_str(), item["lag"].as_i64()),
        (Some(sink.as_str()), Some(0))
    );
    assert!(
        item["last_error"].is_string(),
        "the relay met the outage: {item}"
    );
    println!(
        "rabbitmq ({}): {} events ({stock} stock.changed), {messages} messages, {duplicates} redelivered; \
         broker stopped for {:.1} s; `start_app` took {:.1} s and the relay had caught up {:.2} s after it was issued; \
         all confirmed {:.1} s after the load began",
        db.store.backend(),
        log.len(),
        down_for.as_secs_f64(),
        start_app_took.as_secs_f64(),
        recovered.as_secs_f64(),
        all_confirmed.as_secs_f64(),
    );
    consumer.abort();
    drop(server);
    amqp_cleanup(&amqp, Some(&exchange), &[&queue]).await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_restarted_while_10000_events_flow_loses_none_on_sqlite() {
    let Some(amqp) = url("STOCKBOOK_TEST_AMQP", "rabbitmq restart on sqlite") else {
        return;
    };
    rabbitmq_restart_loses_nothing(TestDatabase::sqlite("amqp_restart").await.unwrap(), amqp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_restarted_while_10000_events_flow_loses_none_on_postgres() {
    let Some(amqp) = url("STOCKBOOK_TEST_AMQP", "rabbitmq restart on postgres") else {
        return;
    };
    let Some(db) = TestDatabase::postgres("amqp_restart").await.unwrap() else {
        return;
    };
    rabbitmq_restart_loses_nothing(db, amqp).await;
}

async fn nats_relay_killed_loses_nothing(db: TestDatabase, nats: String) {
    let _brokers = BROKERS.lock().await;
    let (stream, prefix) = (unique("SB_S"), unique("sbt"));
    let sink = format!("nats:{stream}");
    let relay_args = [
        "--nats",
        nats.as_str(),
        "--nats-stream",
        stream.as_str(),
        "--nats-subject-prefix",
        prefix.as_str(),
        "--relay-lease-secs",
        "3",
    ];
    let token = issue_token(&db.url);
    let client = Client::new(token.clone());
    // One node takes the writes; another runs the relay, and is killed.
    let writer = Server::start(&db.url);
    catalog(&client, &writer).await;
    let relay = Server::start_with(&db.url, &relay_args);

    let sent = Arc::new(AtomicUsize::new(0));
    let load = tokio::spawn(send_batches(
        token.clone(),
        vec![writer.url("")],
        "n",
        0..BATCHES,
        sent.clone(),
    ));
    // Kill the relay mid-flow, once it has published something.
    loop {
        let (_, sinks) = client.get(writer.url("/api/v1/sinks")).await;
        if sent.load(Ordering::Relaxed) >= 30 && sinks["items"][0]["cursor"].as_i64() > Some(50) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    relay.kill();
    load.await.unwrap();
    let (_, sinks) = client.get(writer.url("/api/v1/sinks")).await;
    let cursor = sinks["items"][0]["cursor"].as_i64().unwrap();
    let head = db.store.event_head().await.unwrap();
    assert!(cursor < head, "the relay was killed before the end");

    // Restart it: once the dead process's lease (3 s) expired, it resumes from the cursor.
    let restarted = Instant::now();
    let relay = Server::start_with(&db.url, &relay_args);
    while sink_view(&client, &relay).await["this_node"]["holding"] != true {
        assert!(
            restarted.elapsed() < Duration::from_secs(30),
            "the lease never passed on"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took_over = restarted.elapsed();
    let took = wait_caught_up(&client, &writer, &sink, head, Duration::from_secs(60)).await;
    let log = log(db.store.as_ref()).await;
    let received = nats_read(&nats, &stream, log.len(), Duration::from_secs(30)).await;

    // JetStream dropped the re-published events by their Nats-Msg-Id: each stored once.
    let (messages, duplicates) = check_delivery(&received, &log);
    assert_eq!(duplicates, 0);
    assert_eq!(nats_stream_messages(&nats, &stream).await, log.len() as u64);
    assert_eq!(
        log.iter().filter(|e| e.kind == "stock.changed").count(),
        BATCHES * 100
    );
    let backlog = head - cursor;
    println!(
        "nats ({}): {} events, {messages} stored once each; relay killed at cursor {cursor}, restarted and \
         took the expired lease {:.2} s after the restart, relayed the backlog of {backlog} in {:.2} s ({:.0} events/s)",
        db.store.backend(),
        log.len(),
        took_over.as_secs_f64(),
        took.as_secs_f64(),
        backlog as f64 / took.as_secs_f64(),
    );
    nats_delete_stream(&nats, &stream).await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_relay_killed_and_restarted_loses_none_on_sqlite() {
    let Some(nats) = url("STOCKBOOK_TEST_NATS", "nats relay kill on sqlite") else {
        return;
    };
    nats_relay_killed_loses_nothing(TestDatabase::sqlite("nats_kill").await.unwrap(), nats).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_relay_killed_and_restarted_loses_none_on_postgres() {
    let Some(nats) = url("STOCKBOOK_TEST_NATS", "nats relay kill on postgres") else {
        return;
    };
    let Some(db) = TestDatabase::postgres("nats_kill").await.unwrap() else {
        return;
    };
    nats_relay_killed_loses_nothing(db, nats).await;
}

/// This node's view of the sink in `GET /api/v1/sinks`.
async fn sink_view(client: &Client, server: &Server) -> serde_json::Value {
    let (status, body) = client.get(server.url("/api/v1/sinks")).await;
    assert_eq!(status, 200);
    body["items"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgres_publish_each_event_once_and_fail_over() {
    let Some(amqp) = url("STOCKBOOK_TEST_AMQP", "two relay nodes") else {
        return;
    };
    let Some(db) = TestDatabase::postgres("two_relays").await.unwrap() else {
        return;
    };
    let _brokers = BROKERS.lock().await;
    let (exchange, queue) = (unique("sb_x2"), unique("sb_q2"));
    let sink = format!("amqp:{exchange}");
    amqp_declare(&amqp, &exchange, &queue).await;
    let token = issue_token(&db.url);
    let client = Client::new(token.clone());
    let args = [
        "--amqp",
        amqp.as_str(),
        "--amqp-exchange",
        exchange.as_str(),
        "--relay-lease-secs",
        "2",
    ];
    let mut nodes = vec![
        Server::start_with(&db.url, &args),
        Server::start_with(&db.url, &args),
    ];
    catalog(&client, &nodes[0]).await;
    let received: Received = Arc::default();
    let consumer = amqp_consume(amqp.clone(), queue.clone(), received.clone());

    // Both nodes take writes; one publishes.
    let bases: Vec<String> = nodes.iter().map(|n| n.url("")).collect();
    let sent = Arc::new(AtomicUsize::new(0));
    send_batches(token.clone(), bases, "a", 0..20, sent.clone()).await;
    let head = db.store.event_head().await.unwrap();
    wait_caught_up(&client, &nodes[0], &sink, head, Duration::from_secs(30)).await;
    let first = log(db.store.as_ref()).await;
    wait_received(&received, first.len(), Duration::from_secs(30)).await;
    let (_, duplicates) = check_delivery(&received, &first);
    assert_eq!(duplicates, 0, "one publisher, no failure: each event once");
    let views = [
        sink_view(&client, &nodes[0]).await,
        sink_view(&client, &nodes[1]).await,
    ];
    let holding: Vec<bool> = views
        .iter()
        .map(|v| v["this_node"]["holding"] == true)
        .collect();
    assert_eq!(
        holding.iter().filter(|h| **h).count(),
        1,
        "exactly one holder: {views:?}"
    );
    let leader = holding.iter().position(|h| *h).unwrap();
    let follower = 1 - leader;
    assert_eq!(
        views[follower]["this_node"]["published"], 0,
        "the other node published nothing"
    );
    assert_eq!(
        views[leader]["this_node"]["published"].as_i64(),
        Some(first.len() as i64)
    );
    assert_eq!(
        views[0]["holder"], views[1]["holder"],
        "both nodes read the same lease"
    );
    assert_eq!(
        views[leader]["holder"],
        views[leader]["this_node"]["holder"]
    );

    // The leader dies; the other takes the lease over once it expires, and goes on from the
    // stored cursor.
    let survivor = nodes.swap_remove(follower);
    let killed = Instant::now();
    nodes.pop().unwrap().kill();
    send_batches(
        token.clone(),
        vec![survivor.url("")],
        "b",
        20..40,
        sent.clone(),
    )
    .await;
    let head = db.store.event_head().await.unwrap();
    wait_caught_up(&client, &survivor, &sink, head, Duration::from_secs(30)).await;
    let took_over = killed.elapsed();
    let all = log(db.store.as_ref()).await;
    wait_received(&received, all.len(), Duration::from_secs(30)).await;
    let (messages, duplicates) = check_delivery(&received, &all);
    let view = sink_view(&client, &survivor).await;
    assert_eq!(view["this_node"]["holding"], true);
    assert_eq!(
        view["holder"], view["this_node"]["holder"],
        "the survivor holds the lease"
    );
    assert!(
        duplicates <= 1000,
        "at most one page is published twice on failover: {duplicates}"
    );
    println!(
        "two nodes (postgres): {} events, {messages} messages, {duplicates} redelivered after failover; \
         the survivor had published everything {:.2} s after the leader was killed (lease 2 s)",
        all.len(),
        took_over.as_secs_f64()
    );
    consumer.abort();
    drop(survivor);
    amqp_cleanup(&amqp, Some(&exchange), &[&queue]).await;
    db.cleanup().await;
}

#[tokio::test]
async fn jetstream_stores_a_republished_event_id_once() {
    let Some(nats) = url("STOCKBOOK_TEST_NATS", "jetstream de-duplication") else {
        return;
    };
    let (stream, prefix) = (unique("SB_D"), unique("sbd"));
    let client = server::sync::nats::Client::connect(&nats).await.unwrap();
    let info = jetstream::ensure_stream(&client, &stream, &format!("{prefix}.>"))
        .await
        .unwrap();
    assert_eq!(info["config"]["duplicate_window"], 120_000_000_000u64);
    // Ensuring again finds the stream as it is.
    jetstream::ensure_stream(&client, &stream, &format!("{prefix}.>"))
        .await
        .unwrap();
    let subject = format!("{prefix}.stock.changed.WH.A");
    let mut stored = Vec::new();
    for _ in 0..2 {
        let reply = client
            .request(&subject, &[("Nats-Msg-Id", "stock:m1")], b"{}")
            .unwrap()
            .await
            .unwrap();
        stored.push(jetstream::pub_ack(&reply).unwrap());
    }
    assert_eq!(stored, [true, false], "the second is a duplicate");
    assert_eq!(nats_stream_messages(&nats, &stream).await, 1);
    // A subject no stream captures is refused, not lost silently.
    let reply = client
        .request(&format!("{}.x", unique("nostream")), &[], b"{}")
        .unwrap()
        .await
        .unwrap();
    assert!(jetstream::pub_ack(&reply).is_err());
    nats_delete_stream(&nats, &stream).await;
}
