//! The event log: appending a transaction's events at its end, and reading them back.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::{Event, EventFilter, NewEvent, StoreError};

use crate::alerts::Thresholds;
use crate::core::{Core, Dialect, TxError, retry};

/// How long a read of the log waits for the transactions appending at that moment; they
/// are in their last statements, so this is about one commit. A reader that gets nothing
/// reads again on its next round.
const READ_WAIT: Duration = Duration::from_millis(200);
/// How long [`Core::event_head`] waits before it reports the database as unavailable.
const HEAD_WAIT: Duration = Duration::from_secs(5);

pub(crate) const EVENT_COLUMNS: &str =
    "seq, event_id, type, aggregate, location, sku, customer, occurred_at, data";

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    pub seq: i64,
    pub event_id: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub aggregate: String,
    pub location: Option<String>,
    pub sku: Option<String>,
    pub customer: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub data: String,
}

impl TryFrom<EventRow> for Event {
    type Error = StoreError;

    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        Ok(Event {
            data: crate::rows::from_json("event data", &r.data)?,
            seq: r.seq,
            id: r.event_id,
            kind: r.kind,
            aggregate: r.aggregate,
            location: r.location,
            sku: r.sku,
            customer: r.customer,
            occurred_at: r.occurred_at,
        })
    }
}

impl<DB: Dialect> Core<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<DateTime<Utc>>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> NaiveDate: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<NaiveDate>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    /// Appends `events` as the last writes of the transaction, after every row lock it
    /// takes, so that two transactions changing one aggregate number their events in the
    /// order they change it. On PostgreSQL the transaction is first marked as appending
    /// (decision 0011), so that readers wait for it before they read past its numbers.
    pub(crate) async fn append_events(
        tx: &mut Transaction<'static, DB>,
        events: Vec<NewEvent>,
        at: DateTime<Utc>,
    ) -> Result<(), TxError> {
        Self::append_events_knowing(tx, events, at, None).await
    }

    /// [`Core::append_events`] with the low-stock thresholds of some levels already read
    /// (see [`Thresholds`]).
    pub(crate) async fn append_events_knowing(
        tx: &mut Transaction<'static, DB>,
        events: Vec<NewEvent>,
        at: DateTime<Utc>,
        known: Option<&Thresholds>,
    ) -> Result<(), TxError> {
        if events.is_empty() {
            return Ok(());
        }
        // Stock alerts belong to the transaction whose movements cross a threshold.
        let mut events = events;
        let alerts = Self::stock_alerts(tx, &events, at, known).await?;
        events.extend(alerts);
        // Multi-row inserts: one statement per 100 events.
        let mut events = events.into_iter().peekable();
        while events.peek().is_some() {
            let chunk: Vec<NewEvent> = events.by_ref().take(100).collect();
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = i * 7;
                    format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, $1, ${})",
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5,
                        p + 6,
                        p + 7,
                        p + 8
                    )
                })
                .collect();
            let rows = rows.join(", ");
            let source = if DB::APPEND_MARK.is_empty() {
                format!("VALUES {rows}")
            } else {
                format!(
                    "SELECT v.* FROM ({}) AS mark, (VALUES {rows}) AS v",
                    DB::APPEND_MARK
                )
            };
            let sql = format!(
                "INSERT INTO events (event_id, type, aggregate, location, sku, customer, occurred_at, data) {source}"
            );
            let mut query = sqlx::query(&sql).bind(at);
            for e in chunk {
                query = query
                    .bind(e.id)
                    .bind(e.kind)
                    .bind(e.aggregate)
                    .bind(e.location)
                    .bind(e.sku)
                    .bind(e.customer)
                    .bind(e.data.to_string());
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Restores one event with its original number.
    pub(crate) async fn restore_event(
        tx: &mut Transaction<'static, DB>,
        e: &Event,
    ) -> Result<(), TxError> {
        sqlx::query(&format!(
            "INSERT INTO events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(e.seq)
        .bind(e.id.as_str())
        .bind(e.kind.as_str())
        .bind(e.aggregate.as_str())
        .bind(e.location.as_deref())
        .bind(e.sku.as_deref())
        .bind(e.customer.as_deref())
        .bind(e.occurred_at)
        .bind(e.data.to_string())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Events after `after` in `seq` order, only up to the settled horizon: a reader that
    /// moves its cursor to the last one it got can never skip an event committed later.
    pub(crate) async fn events_after(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        let horizon = self.read_horizon().await?;
        if horizon <= after {
            return Ok(Vec::new());
        }
        let types = (!filter.types.is_empty()).then(|| filter.types.join(","));
        let within = if filter.within.is_empty() {
            String::new()
        } else {
            format!(
                "AND (location IN ({}) OR (location IS NULL AND customer IS NULL \
                  AND (type LIKE 'product.%' OR type LIKE 'location.%')))",
                crate::core::placeholders(7, filter.within.len())
            )
        };
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 \
               AND ($2 IS NULL OR (',' || $2 || ',') LIKE ('%,' || type || ',%')) \
               AND ($3 IS NULL OR location = $3) AND ($4 IS NULL OR sku = $4) AND ($5 IS NULL OR customer = $5) \
               {within} AND seq <= ${} ORDER BY seq LIMIT $6",
            7 + filter.within.len()
        );
        let rows: Vec<EventRow> = retry::<DB, _, _, _>(|| async {
            let mut query = sqlx::query_as(&sql)
                .bind(after)
                .bind(types.as_deref())
                .bind(filter.location.as_deref())
                .bind(filter.sku.as_deref())
                .bind(filter.customer.as_deref())
                .bind(limit);
            for location in &filter.within {
                query = query.bind(location.as_str());
            }
            Ok(query.bind(horizon).fetch_all(&self.reader).await?)
        })
        .await?;
        rows.into_iter().map(Event::try_from).collect()
    }

    /// The head of the log for a reader starting "from now": every event up to it is
    /// final, so a cursor set to it misses nothing committed later. On PostgreSQL it may lie
    /// a little behind the newest visible event (a reader starting there sees a few events
    /// that were already committed), never ahead.
    pub(crate) async fn event_head(&self) -> Result<i64, StoreError> {
        self.horizon(HEAD_WAIT).await?.ok_or_else(|| {
            StoreError::Unavailable(format!(
                "the event log did not settle within {} s: a transaction appending to it is stuck",
                HEAD_WAIT.as_secs()
            ))
        })
    }

    /// The highest `seq` a reader may read up to now: everything where writers are serial;
    /// else the settled horizon, or nothing (`i64::MIN`) if the transactions appending at
    /// this moment did not end within [`READ_WAIT`] (the reader reads again next round).
    pub(crate) async fn read_horizon(&self) -> Result<i64, StoreError> {
        if DB::SERIAL_WRITERS {
            return Ok(i64::MAX);
        }
        Ok(self.horizon(READ_WAIT).await?.unwrap_or(i64::MIN))
    }

    /// [`Dialect::event_horizon`] on the read pool, retried like a transaction.
    async fn horizon(&self, wait: Duration) -> Result<Option<i64>, StoreError> {
        retry::<DB, _, _, _>(|| async { Ok(DB::event_horizon(&self.reader, wait).await?) }).await
    }
}

/// The `stock.changed` event of a ledger row.
pub(crate) fn stock_changed(
    entry: &crate::stock::LedgerEntry,
    seq: i64,
    reserved_after: i64,
) -> NewEvent {
    NewEvent {
        id: format!("stock:{}", entry.id),
        kind: "stock.changed",
        aggregate: format!("stock:{}/{}", entry.location, entry.sku),
        location: Some(entry.location.to_string()),
        sku: Some(entry.sku.to_string()),
        customer: None,
        data: serde_json::json!({
            "sku": entry.sku,
            "location": entry.location,
            "on_hand": entry.on_hand_after,
            "reserved": reserved_after,
            "available": entry.on_hand_after - reserved_after,
            "movement": {
                "seq": seq,
                "id": entry.id,
                "kind": entry.kind,
                "qty": entry.qty,
                "on_hand_delta": entry.on_hand_delta,
                "reserved_delta": entry.reserved_delta,
                "reason": entry.reason,
            },
        }),
    }
}

/// An event about a catalog or customer record, with a fresh id.
pub(crate) fn catalog_event(
    kind: &'static str,
    aggregate: String,
    data: serde_json::Value,
) -> Result<NewEvent, TxError> {
    let id = store::events::new_id()
        .map_err(|e| StoreError::Other(format!("no randomness for an event id: {e}")))?;
    Ok(NewEvent {
        id,
        kind,
        aggregate,
        location: None,
        sku: None,
        customer: None,
        data,
    })
}
