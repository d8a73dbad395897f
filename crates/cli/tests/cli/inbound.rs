//! Inbound movements from RabbitMQ: a valid batch is applied and acknowledged (with the
//! results sent to `reply_to`), a re-sent one changes nothing, and messages that can never
//! apply land in the dead-letter queue with their error.

use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde_json::{Value, json};
use store_sql::testing::TestDatabase;

use crate::brokers::{BROKERS, amqp_cleanup, catalog, unique, url};
use crate::helpers::{Client, Server, issue_token};

async fn declare(channel: &Channel, queue: &str) -> u32 {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap()
        .message_count()
}

async fn send(channel: &Channel, queue: &str, body: &str, reply_to: &str, correlation: &str) {
    channel
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions::default(),
            body.as_bytes(),
            BasicProperties::default()
                .with_delivery_mode(2)
                .with_reply_to(reply_to.into())
                .with_correlation_id(correlation.into()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
}

/// The next message of `queue`, waiting up to 20 s: (body, properties).
async fn next(channel: &Channel, queue: &str) -> (Value, BasicProperties) {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(m) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            let body = serde_json::from_slice(&m.delivery.data).unwrap_or(Value::Null);
            return (body, m.delivery.properties.clone());
        }
        assert!(Instant::now() < until, "nothing arrived in {queue}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn error_header(props: &BasicProperties) -> Value {
    match props
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-stockbook-error").cloned())
    {
        Some(AMQPValue::LongString(s)) => serde_json::from_str(&s.to_string()).unwrap(),
        other => panic!("x-stockbook-error header: {other:?}"),
    }
}

fn statuses(reply: &Value) -> Vec<&str> {
    reply["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_batches_apply_once_and_bad_ones_go_to_the_dead_letter_queue() {
    let Some(amqp) = url("STOCKBOOK_TEST_AMQP", "inbound queue") else {
        return;
    };
    let _brokers = BROKERS.lock().await;
    let db = TestDatabase::sqlite("inbound").await.unwrap();
    let (exchange, queue, replies) = (unique("sb_xi"), unique("sb_in"), unique("sb_re"));
    let dlq = format!("{queue}.dlq");
    let connection = Connection::connect(&amqp, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await
        .unwrap();
    for q in [&queue, &dlq, &replies] {
        declare(&channel, q).await;
    }
    let token = issue_token(&db.url);
    let client = Client::new(token);
    let server = Server::start_with(
        &db.url,
        &[
            "--amqp",
            &amqp,
            "--amqp-exchange",
            &exchange,
            "--amqp-inbound-queue",
            &queue,
        ],
    );
    catalog(&client, &server).await;

    // A valid batch: applied, and its results come back to reply_to.
    let valid = json!({"movements": [
        {"id": "wms-1", "sku": "S0", "location": "WH", "kind": "receipt", "qty": 5},
        {"id": "wms-2", "sku": "S1", "location": "WH", "kind": "receipt", "qty": 3},
    ]})
    .to_string();
    send(&channel, &queue, &valid, &replies, "c1").await;
    let (reply, props) = next(&channel, &replies).await;
    assert_eq!(statuses(&reply), ["applied", "applied"]);
    assert_eq!(
        props.correlation_id().as_ref().map(|c| c.as_str()),
        Some("c1")
    );
    let (_, level) = client.get(server.url("/api/v1/stock/WH/S0")).await;
    assert_eq!(level["on_hand"], 5);

    // The same message again: duplicates, nothing changes.
    send(&channel, &queue, &valid, &replies, "c2").await;
    let (reply, _) = next(&channel, &replies).await;
    assert_eq!(statuses(&reply), ["duplicate", "duplicate"]);
    let (_, level) = client.get(server.url("/api/v1/stock/WH/S0")).await;
    assert_eq!(level["on_hand"], 5);

    // Messages that can never apply: to the dead-letter queue, with the error.
    send(&channel, &queue, "{not json", &replies, "c3").await;
    let unknown = json!({"movements": [{"id": "wms-3", "sku": "NOPE", "location": "WH", "kind": "receipt", "qty": 1}]});
    send(&channel, &queue, &unknown.to_string(), &replies, "c4").await;
    let invalid = json!({"movements": [{"id": "wms-4", "sku": "S0", "location": "WH", "kind": "receipt", "qty": 0}]});
    send(&channel, &queue, &invalid.to_string(), &replies, "c5").await;
    let (body, props) = next(&channel, &dlq).await;
    assert_eq!(body, Value::Null, "the original body, not JSON");
    assert_eq!(error_header(&props)["code"], "malformed_json");
    assert_eq!(
        props.correlation_id().as_ref().map(|c| c.as_str()),
        Some("c3")
    );
    let (body, props) = next(&channel, &dlq).await;
    assert_eq!(body, unknown);
    let error = error_header(&props);
    assert_eq!(
        (error["code"].as_str(), error["errors"][0]["field"].as_str()),
        (Some("validation_failed"), Some("movements[0].sku"))
    );
    let (_, props) = next(&channel, &dlq).await;
    assert_eq!(
        error_header(&props)["errors"][0]["field"],
        "movements[0].qty"
    );

    // Everything was acknowledged; nothing else changed.
    assert_eq!(declare(&channel, &queue).await, 0);
    assert_eq!(declare(&channel, &dlq).await, 0);
    let (_, level) = client.get(server.url("/api/v1/stock/WH/S0")).await;
    assert_eq!(level["on_hand"], 5);
    let metrics = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        format!("stockbook_inbound_messages_total{{queue=\"{queue}\",outcome=\"applied\"}} 2"),
        format!(
            "stockbook_inbound_messages_total{{queue=\"{queue}\",outcome=\"dead_lettered\"}} 3"
        ),
    ] {
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }

    drop(server);
    amqp_cleanup(&amqp, Some(&exchange), &[&queue, &dlq, &replies]).await;
    db.cleanup().await;
}
