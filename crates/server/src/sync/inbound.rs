//! Inbound movements from RabbitMQ: a WMS or ERP sends batches to a queue, in the same JSON
//! as `POST /api/v1/stock/movements`, and each is applied in one transaction.
//!
//! A message is acknowledged only after the store committed its batch, so a crash before
//! that redelivers it, and movement ids make a redelivery harmless. A message that can never
//! apply (not JSON, an invalid movement, an unknown SKU or location) is moved to the
//! dead-letter queue `<queue>.dlq` with the problem in its `x-stockbook-error` header (the
//! same JSON an HTTP client would get), then acknowledged. When the database is unavailable
//! the message is returned to the queue after a pause. A message with `reply_to` gets the
//! per-movement results there, as the HTTP API answers them.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::stock::{self, MovementInput, Outcome};
use futures_util::StreamExt;
use lapin::Confirmation;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel};
use serde::Deserialize;
use serde_json::{Value, json};
use store::{Store, StoreError};
use tokio::sync::watch;

use super::relay::{Backoff, pause};
use super::{BrokerError, Sinks, amqp};
use crate::error::AppError;

/// Messages handed to this node before it acknowledged the first.
const PREFETCH: u16 = 16;
/// Pause before a message that met an unavailable database goes back to the queue.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// The message body: the movements API's request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    movements: Vec<MovementInput>,
}

/// What the consumer needs of the node.
#[derive(Clone)]
pub(crate) struct InboundContext {
    pub store: Arc<dyn Store>,
    pub hub: Arc<crate::hub::EventHub>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub sinks: Arc<Sinks>,
    pub url: String,
    pub queue: String,
}

/// What became of one message.
enum Handled {
    /// Committed; the results as the HTTP API gives them.
    Applied(Value),
    /// Can never apply; the problem.
    Dead(Value),
    /// Try again later.
    Retry(String),
}

/// Consumes the queue until `stop`, reconnecting with backoff.
pub(crate) async fn run(ctx: InboundContext, mut stop: watch::Receiver<bool>) {
    let mut backoff = Backoff::new();
    loop {
        match consume(&ctx, &mut stop, &mut backoff).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(queue = %ctx.queue, error = %e, "inbound consumer failed; reconnecting");
                ctx.sinks.inbound(&ctx.queue, "errors");
                if pause(&mut stop, backoff.next()).await {
                    return;
                }
            }
        }
    }
}

async fn consume(
    ctx: &InboundContext,
    stop: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> Result<(), BrokerError> {
    let connection = amqp::connect(&ctx.url).await?;
    let channel = connection.create_channel().await?;
    let dlq = format!("{}.dlq", ctx.queue);
    for name in [&ctx.queue, &dlq] {
        channel
            .queue_declare(
                amqp::short(name)?,
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
    }
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    // Dead letters and replies go out on a channel of their own, with confirms.
    let out = connection.create_channel().await?;
    out.confirm_select(ConfirmSelectOptions::default()).await?;
    let mut consumer = channel
        .basic_consume(
            amqp::short(&ctx.queue)?,
            "stockbook-inbound".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = %ctx.queue, "inbound consumer started");
    backoff.reset();
    loop {
        let delivery = tokio::select! {
            next = consumer.next() => next,
            _ = stop.changed() => {
                let _ = connection.close(200, "bye".into()).await;
                return Ok(());
            }
        };
        let delivery = match delivery {
            Some(Ok(delivery)) => delivery,
            Some(Err(e)) => return Err(e.into()),
            None => return Err(BrokerError("RabbitMQ cancelled the consumer".into())),
        };
        handle(ctx, &out, &dlq, delivery).await?;
    }
}

async fn handle(
    ctx: &InboundContext,
    out: &Channel,
    dlq: &str,
    delivery: Delivery,
) -> Result<(), BrokerError> {
    match apply(ctx, &delivery.data).await {
        Handled::Applied(results) => {
            if let Some(reply_to) = delivery.properties.reply_to() {
                let mut props =
                    BasicProperties::default().with_content_type("application/json".into());
                if let Some(id) = delivery.properties.correlation_id() {
                    props = props.with_correlation_id(id.clone());
                }
                // A lost reply is not worth redelivering the batch for: log it only.
                if let Err(e) = publish(
                    out,
                    reply_to.as_str(),
                    results.to_string().as_bytes(),
                    props,
                )
                .await
                {
                    tracing::warn!(error = %e, "inbound reply was not delivered");
                }
            }
            delivery.acker.ack(BasicAckOptions::default()).await?;
            ctx.sinks.inbound(&ctx.queue, "applied");
        }
        Handled::Dead(problem) => {
            tracing::warn!(queue = %ctx.queue, %problem, "inbound message can never apply; dead-lettered");
            let mut headers = delivery.properties.headers().clone().unwrap_or_default();
            headers.insert(
                "x-stockbook-error".into(),
                AMQPValue::LongString(LongString::from(problem.to_string())),
            );
            headers.insert(
                "x-stockbook-queue".into(),
                AMQPValue::LongString(LongString::from(ctx.queue.as_str())),
            );
            let props = delivery
                .properties
                .clone()
                .with_headers(headers)
                .with_delivery_mode(2);
            publish(out, dlq, &delivery.data, props).await?;
            delivery.acker.ack(BasicAckOptions::default()).await?;
            ctx.sinks.inbound(&ctx.queue, "dead_lettered");
        }
        Handled::Retry(cause) => {
            tracing::warn!(queue = %ctx.queue, %cause, "inbound batch not applied now; requeued");
            tokio::time::sleep(RETRY_PAUSE).await;
            delivery
                .acker
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await?;
            ctx.sinks.inbound(&ctx.queue, "requeued");
        }
    }
    Ok(())
}

/// Publishes to a queue through the default exchange and waits for the broker's confirm.
async fn publish(
    channel: &Channel,
    queue: &str,
    body: &[u8],
    props: BasicProperties,
) -> Result<(), BrokerError> {
    let confirm = channel
        .basic_publish(
            "".into(),
            amqp::short(queue)?,
            BasicPublishOptions::default(),
            body,
            props,
        )
        .await?
        .await?;
    match confirm {
        Confirmation::Ack(_) => Ok(()),
        _ => Err(BrokerError(format!(
            "RabbitMQ did not take the message for {queue}"
        ))),
    }
}

/// Parses, validates and applies one message's batch.
async fn apply(ctx: &InboundContext, body: &[u8]) -> Handled {
    let batch: Batch = match crate::extract::parse_json(body) {
        Ok(batch) => batch,
        Err(e) => return Handled::Dead(problem(e)),
    };
    let movements = match stock::validate_batch(&batch.movements, Utc::now()) {
        Ok(movements) => movements,
        Err(errors) => return Handled::Dead(problem(AppError::Validation(errors))),
    };
    let ids: Vec<String> = movements.iter().map(|m| m.id.to_string()).collect();
    match ctx.store.apply_movements(movements).await {
        Ok(outcomes) => {
            ctx.hub.poke();
            let results: Vec<Value> = ids
                .into_iter()
                .zip(outcomes)
                .map(|(id, outcome)| {
                    let status = match &outcome {
                        Outcome::Applied(_) => "applied",
                        Outcome::Duplicate(_) => "duplicate",
                        Outcome::Rejected { .. } => "rejected",
                    };
                    ctx.metrics.movement(status, 1);
                    let mut result = serde_json::to_value(&outcome).unwrap_or(Value::Null);
                    if let Value::Object(map) = &mut result {
                        map.insert("id".into(), Value::String(id));
                    }
                    result
                })
                .collect();
            Handled::Applied(json!({ "results": results }))
        }
        Err(e @ (StoreError::Unavailable(_) | StoreError::Other(_))) => {
            Handled::Retry(e.to_string())
        }
        Err(e) => Handled::Dead(problem(AppError::from(e))),
    }
}

/// The problem JSON of a refusal: `code`, `detail`, and `errors` naming each bad field.
fn problem(error: AppError) -> Value {
    match &error {
        AppError::Malformed { code, detail } => json!({"code": code, "detail": detail}),
        AppError::Validation(errors) => json!({
            "code": error.code(),
            "detail": errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "),
            "errors": errors,
        }),
        other => json!({"code": other.code(), "detail": format!("{other:?}")}),
    }
}
