//! Closing a count: approval posts a `count_correction` per SKU whose count differs from
//! its book figure (see `domain::count` for why `counted - book` is right while the store
//! keeps selling); cancelling posts nothing.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use domain::count::{Count, CountStatus};
use domain::ids::{CountId, LocationCode, MovementId, Sku};
use domain::stock::{MovementKind, NewMovement};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::StoreError;

use super::{floor_event, json};
use crate::core::{Core, Dialect, TxError, now, retry};

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
    pub(crate) async fn close_count(
        &self,
        id: &CountId,
        approve: bool,
        actor: &str,
    ) -> Result<Count, StoreError> {
        let target = if approve {
            CountStatus::Approved
        } else {
            CountStatus::Cancelled
        };
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let row = Self::lock_count(&mut tx, id).await?;
            match row.status()? {
                CountStatus::Open => {}
                // The same action again (a retry whose answer was lost): answer it.
                s if s == target => {
                    let count = Self::read_count(&mut tx, id).await?;
                    tx.commit().await?;
                    return Ok(count);
                }
                s => return Err(closed(id, s).into()),
            }
            let at = now();
            let location = LocationCode::from_trusted(row.location.clone());
            let mut events = Vec::new();
            if approve {
                Self::post_corrections(&mut tx, id, &location, at, &mut events).await?;
            }
            sqlx::query(
                "UPDATE counts SET status = $2, closed_by = $3, closed_at = $4 WHERE count_id = $1",
            )
            .bind(id.as_str())
            .bind(target.as_str())
            .bind(actor)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let count = Self::read_count(&mut tx, id).await?;
            let kind = if approve {
                "count.approved"
            } else {
                "count.cancelled"
            };
            events.push(floor_event(
                format!("count:{id}:{}", target.as_str()),
                kind,
                format!("count:{id}"),
                &location,
                json(&count)?,
            ));
            Self::append_events(&mut tx, events, at).await?;
            tx.commit().await?;
            Ok(count)
        })
        .await
    }

    /// Posts a `count_correction` per SKU in scope whose count differs from its book
    /// figure, in SKU order, and records book and correction on every line in scope.
    async fn post_corrections(
        tx: &mut Transaction<'static, DB>,
        id: &CountId,
        location: &LocationCode,
        at: DateTime<Utc>,
        events: &mut Vec<store::NewEvent>,
    ) -> Result<(), TxError> {
        let lines: Vec<(String, i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT sku, scanned, rfid, book FROM count_lines WHERE count_id = $1 AND in_scope ORDER BY sku",
        )
        .bind(id.as_str())
        .fetch_all(&mut **tx)
        .await?;
        let mut seen = HashMap::new();
        for (sku, scanned, rfid, book) in lines {
            let sku = Sku::from_trusted(sku);
            let (on_hand, _) = Self::lock_level(tx, location, &sku).await?;
            let counted = scanned + rfid;
            let book = book.unwrap_or(on_hand);
            let correction = counted - book;
            if correction != 0 {
                let movement = NewMovement {
                    id: MovementId::from_trusted(format!("count:{id}:{sku}")),
                    sku: sku.clone(),
                    location: location.clone(),
                    kind: MovementKind::CountCorrection,
                    qty: correction,
                    reason: Some(format!("count {id}: counted {counted}, book {book}")),
                    occurred_at: at,
                };
                Self::apply_one(tx, &movement, at, events, &mut seen).await?;
            }
            sqlx::query("UPDATE count_lines SET book = $3, correction = $4 WHERE count_id = $1 AND sku = $2")
                .bind(id.as_str())
                .bind(sku.as_str())
                .bind(book)
                .bind(correction)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

pub(super) fn closed(id: &CountId, status: CountStatus) -> StoreError {
    StoreError::conflict(
        "count_closed",
        format!(
            "count {id} is {}; it takes no more changes",
            status.as_str()
        ),
    )
}
