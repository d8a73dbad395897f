//! Broker sinks: each relay's cursor in the event log and its lease, one short write
//! transaction per call. Lease expiry is compared with the database's own clock
//! ([`Dialect::NOW_MILLIS`]), so nodes with skewed clocks still agree on who holds a sink.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use store::{SinkState, StoreError};

use crate::core::{Core, Dialect, TxError, now, retry};

#[derive(sqlx::FromRow)]
struct SinkRow {
    sink: String,
    kind: String,
    last_seq: i64,
    holder: Option<String>,
    lease_until: Option<i64>,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
}

impl From<SinkRow> for SinkState {
    fn from(r: SinkRow) -> Self {
        SinkState {
            sink: r.sink,
            kind: r.kind,
            cursor: r.last_seq,
            holder: r.holder,
            lease_until: r.lease_until.and_then(DateTime::from_timestamp_millis),
            last_error: r.last_error,
            last_error_at: r.last_error_at,
        }
    }
}

/// The columns of a [`SinkRow`]; holder and expiry only while the lease is live.
fn select_sinks<DB: Dialect>() -> String {
    let now = DB::NOW_MILLIS;
    format!(
        "SELECT sink, kind, last_seq, \
           CASE WHEN lease_until > {now} THEN holder END AS holder, \
           CASE WHEN lease_until > {now} AND holder IS NOT NULL THEN lease_until END AS lease_until, \
           last_error, last_error_at FROM relay_sinks"
    )
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
    pub(crate) async fn acquire_sink(
        &self,
        sink: &str,
        kind: &str,
        holder: &str,
        ttl_ms: i64,
    ) -> Result<Option<SinkState>, StoreError> {
        let now_ms = DB::NOW_MILLIS;
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            sqlx::query(
                "INSERT INTO relay_sinks (sink, kind, last_seq, lease_until, updated_at) \
                 VALUES ($1, $2, 0, 0, $3) ON CONFLICT (sink) DO NOTHING",
            )
            .bind(sink)
            .bind(kind)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            // On PostgreSQL a racing acquirer waits for this row lock, then re-checks the
            // condition against the new holder and changes nothing.
            let taken = sqlx::query(&format!(
                "UPDATE relay_sinks SET holder = $2, lease_until = {now_ms} + $3, kind = $4, updated_at = $5 \
                 WHERE sink = $1 AND (holder = $2 OR holder IS NULL OR lease_until <= {now_ms})"
            ))
            .bind(sink)
            .bind(holder)
            .bind(ttl_ms)
            .bind(kind)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            let state = if DB::rows_affected(&taken) == 1 {
                let row: SinkRow =
                    sqlx::query_as(&format!("{} WHERE sink = $1", select_sinks::<DB>()))
                        .bind(sink)
                        .fetch_one(&mut *tx)
                        .await?;
                Some(SinkState::from(row))
            } else {
                None
            };
            tx.commit().await?;
            Ok::<_, TxError>(state)
        })
        .await
    }

    pub(crate) async fn advance_sink(
        &self,
        sink: &str,
        holder: &str,
        cursor: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let now_ms = DB::NOW_MILLIS;
        self.update_held(
            &format!(
                "UPDATE relay_sinks SET last_seq = CASE WHEN last_seq < $3 THEN $3 ELSE last_seq END, \
                 lease_until = {now_ms} + $4, updated_at = $5 WHERE sink = $1 AND holder = $2"
            ),
            sink,
            holder,
            |q| q.bind(cursor).bind(ttl_ms).bind(now()),
        )
        .await
    }

    pub(crate) async fn record_sink_error(
        &self,
        sink: &str,
        holder: &str,
        error: &str,
    ) -> Result<bool, StoreError> {
        // Errors can be long (a broker's message); keep what an operator needs.
        let error: String = error.chars().take(500).collect();
        self.update_held(
            "UPDATE relay_sinks SET last_error = $3, last_error_at = $4, updated_at = $4 \
             WHERE sink = $1 AND holder = $2",
            sink,
            holder,
            |q| q.bind(error.clone()).bind(now()),
        )
        .await
    }

    pub(crate) async fn release_sink(&self, sink: &str, holder: &str) -> Result<(), StoreError> {
        self.update_held(
            "UPDATE relay_sinks SET holder = NULL, lease_until = 0, updated_at = $3 \
             WHERE sink = $1 AND holder = $2",
            sink,
            holder,
            |q| q.bind(now()),
        )
        .await
        .map(drop)
    }

    /// Runs one `UPDATE … WHERE sink = $1 AND holder = $2` (more arguments bound by
    /// `bind_rest`) in its own transaction; true when it changed the row.
    async fn update_held<'q, F>(
        &self,
        sql: &'q str,
        sink: &'q str,
        holder: &'q str,
        bind_rest: F,
    ) -> Result<bool, StoreError>
    where
        F: Fn(
            sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
        ) -> sqlx::query::Query<'q, DB, DB::Arguments<'q>>,
    {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let done = bind_rest(sqlx::query(sql).bind(sink).bind(holder))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, TxError>(DB::rows_affected(&done) == 1)
        })
        .await
    }

    pub(crate) async fn list_sinks(&self) -> Result<Vec<SinkState>, StoreError> {
        let rows: Vec<SinkRow> = retry::<DB, _, _, _>(|| async {
            Ok::<_, TxError>(
                sqlx::query_as(&format!("{} ORDER BY sink", select_sinks::<DB>()))
                    .fetch_all(&self.reader)
                    .await?,
            )
        })
        .await?;
        Ok(rows.into_iter().map(SinkState::from).collect())
    }
}
