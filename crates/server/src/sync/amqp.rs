//! RabbitMQ (AMQP 0-9-1) sink, through `lapin`: a durable topic exchange, persistent
//! messages, publisher confirms.
//!
//! Each event is one message: the event's JSON as the body (as `GET /api/v1/events`
//! serves it), `message_id` = the event id (consumers de-duplicate on it), `type` = the
//! event type, `delivery_mode` 2, and the headers `seq` and `aggregate`. The routing key is
//! [`keys::routing_key`]: `stock.<location>.<sku>`, `order.<status>`, or the event type.

use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use store::Event;

use super::relay::{Confirm, Connector, Publisher};
use super::{BrokerError, keys};

impl From<lapin::Error> for BrokerError {
    fn from(e: lapin::Error) -> Self {
        BrokerError(format!("RabbitMQ: {e}"))
    }
}

/// A string AMQP allows in a short-string field (at most 255 bytes).
pub(crate) fn short(value: &str) -> Result<ShortString, BrokerError> {
    ShortString::try_new(value)
        .map_err(|_| BrokerError(format!("'{value}' is longer than AMQP allows (255 bytes)")))
}

/// Opens a connection (the URL's password is never logged).
pub(crate) async fn connect(url: &str) -> Result<Connection, BrokerError> {
    Connection::connect(url, ConnectionProperties::default())
        .await
        .map_err(BrokerError::from)
}

/// The relay's RabbitMQ sink.
pub(crate) struct AmqpSink {
    pub url: String,
    pub exchange: String,
}

struct AmqpPublisher {
    connection: Connection,
    channel: Channel,
    exchange: ShortString,
}

#[async_trait::async_trait]
impl Connector for AmqpSink {
    fn kind(&self) -> &'static str {
        "amqp"
    }

    fn name(&self) -> String {
        format!("amqp:{}", self.exchange)
    }

    async fn connect(&self) -> Result<Box<dyn Publisher>, BrokerError> {
        let connection = connect(&self.url).await?;
        let channel = connection.create_channel().await?;
        let exchange = short(&self.exchange)?;
        channel
            .exchange_declare(
                exchange.clone(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Box::new(AmqpPublisher {
            connection,
            channel,
            exchange,
        }))
    }
}

/// The properties of an event's message.
fn properties(event: &Event) -> Result<BasicProperties, BrokerError> {
    let mut headers = FieldTable::default();
    headers.insert("seq".into(), AMQPValue::LongLongInt(event.seq));
    headers.insert(
        "aggregate".into(),
        AMQPValue::LongString(LongString::from(event.aggregate.as_str())),
    );
    let timestamp = u64::try_from(event.occurred_at.timestamp()).unwrap_or(0);
    Ok(BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(short(&event.id)?)
        .with_type(short(&event.kind)?)
        .with_app_id("stockbook".into())
        .with_timestamp(timestamp)
        .with_headers(headers))
}

#[async_trait::async_trait]
impl Publisher for AmqpPublisher {
    async fn publish(&mut self, event: &Event, body: Vec<u8>) -> Result<Confirm, BrokerError> {
        let confirm = self
            .channel
            .basic_publish(
                self.exchange.clone(),
                short(&keys::routing_key(event))?,
                BasicPublishOptions::default(),
                &body,
                properties(event)?,
            )
            .await?;
        Ok(Box::pin(async move {
            match confirm.await? {
                Confirmation::Ack(_) => Ok(()),
                Confirmation::Nack(_) => {
                    Err(BrokerError("RabbitMQ refused a message (nack)".into()))
                }
                Confirmation::NotRequested => Err(BrokerError(
                    "RabbitMQ did not confirm (confirms are off)".into(),
                )),
            }
        }))
    }

    async fn close(&mut self) {
        let _ = self.connection.close(200, "bye".into()).await;
    }
}
