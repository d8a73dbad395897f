//! The event log: appending a transaction's events at its end, and reading them back.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::{Event, EventFilter, NewEvent, StoreError};

use crate::core::{Core, Dialect, TxError, retry};

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
    /// Appends `events` as the last writes of the transaction. On PostgreSQL this takes the
    /// event-log lock first (held until commit), so numbers are handed out in commit order.
    pub(crate) async fn append_events(
        tx: &mut Transaction<'static, DB>,
        events: Vec<NewEvent>,
        at: DateTime<Utc>,
    ) -> Result<(), TxError> {
        if events.is_empty() {
            return Ok(());
        }
        // Stock alerts belong to the transaction whose movements cross a threshold; they
        // are decided before the log lock is taken, to keep the locked tail short.
        let mut events = events;
        let alerts = Self::stock_alerts(tx, &events, at).await?;
        events.extend(alerts);
        DB::lock_event_log(tx).await?;
        // Multi-row inserts: one statement per 100 events keeps the locked tail short.
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
            let sql = format!(
                "INSERT INTO events (event_id, type, aggregate, location, sku, customer, occurred_at, data) VALUES {}",
                rows.join(", ")
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

    pub(crate) async fn events_after(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
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
               {within} ORDER BY seq LIMIT $6"
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
            Ok(query.fetch_all(&self.reader).await?)
        })
        .await?;
        rows.into_iter().map(Event::try_from).collect()
    }

    pub(crate) async fn event_head(&self) -> Result<i64, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let (head,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) FROM events")
                .fetch_one(&self.reader)
                .await?;
            Ok(head)
        })
        .await
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
