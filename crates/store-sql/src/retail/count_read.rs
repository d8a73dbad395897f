//! Reading a count: its stored lines with the book figure of now for SKUs not counted
//! yet, assembled into the comparison `domain::count::Count`; and a count as a backup
//! carries it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use domain::count::{Count, CountLineRecord, UnknownTags};
use domain::ids::{CountId, LocationCode, Sku};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::StoreError;
use store::retail::CountRecord;

use super::counts::{COUNT_COLUMNS, CountRow};
use crate::core::{Core, Dialect, TxError, retry};

/// A count line with the current on_hand of its SKU.
#[derive(sqlx::FromRow)]
struct LineRow {
    sku: String,
    in_scope: bool,
    expected_at_open: bool,
    expected: i64,
    scanned: i64,
    rfid: i64,
    book: Option<i64>,
    counted_at: Option<DateTime<Utc>>,
    correction: Option<i64>,
    on_hand: i64,
}

impl LineRow {
    fn record(&self) -> CountLineRecord {
        CountLineRecord {
            sku: Sku::from_trusted(self.sku.clone()),
            in_scope: self.in_scope,
            expected_at_open: self.expected_at_open,
            expected: self.expected,
            scanned: self.scanned,
            rfid: self.rfid,
            book: self.book,
            counted_at: self.counted_at,
            correction: self.correction,
        }
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
    pub(crate) async fn get_count(&self, id: &CountId) -> Result<Count, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_snapshot(&self.reader).await?;
            let count = Self::read_count(&mut tx, id).await?;
            tx.commit().await?;
            Ok(count)
        })
        .await
    }

    /// A count with its comparison, read in `tx`.
    pub(crate) async fn read_count(
        tx: &mut Transaction<'static, DB>,
        id: &CountId,
    ) -> Result<Count, TxError> {
        let (row, lines, unknown) = Self::count_parts(tx, id).await?;
        let on_hand: HashMap<String, i64> =
            lines.iter().map(|l| (l.sku.clone(), l.on_hand)).collect();
        let records: Vec<CountLineRecord> = lines.iter().map(LineRow::record).collect();
        Ok(Count::assemble(
            CountId::from_trusted(row.count_id.clone()),
            LocationCode::from_trusted(row.location.clone()),
            row.status()?,
            row.scope()?,
            (row.opened_by.clone(), row.opened_at),
            row.closed_by.clone().zip(row.closed_at),
            &records,
            |sku| on_hand.get(sku.as_str()).copied().unwrap_or(0),
            unknown,
        ))
    }

    async fn count_parts(
        tx: &mut Transaction<'static, DB>,
        id: &CountId,
    ) -> Result<(CountRow, Vec<LineRow>, Vec<UnknownTags>), TxError> {
        let row: Option<CountRow> = sqlx::query_as(&format!(
            "SELECT {COUNT_COLUMNS} FROM counts WHERE count_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        let row = row.ok_or_else(|| StoreError::not_found(format!("count {id}")))?;
        let lines: Vec<LineRow> = sqlx::query_as(
            "SELECT l.sku, l.in_scope, l.expected_at_open, l.expected, l.scanned, l.rfid, l.book, \
             l.counted_at, l.correction, COALESCE(s.on_hand, 0) AS on_hand \
             FROM count_lines l LEFT JOIN stock_levels s ON s.location = $2 AND s.sku = l.sku \
             WHERE l.count_id = $1 ORDER BY l.sku",
        )
        .bind(id.as_str())
        .bind(row.location.as_str())
        .fetch_all(&mut **tx)
        .await?;
        let unknown: Vec<(String, i64)> = sqlx::query_as(
            "SELECT gtin, COUNT(*) FROM count_tags WHERE count_id = $1 AND sku IS NULL GROUP BY gtin ORDER BY gtin",
        )
        .bind(id.as_str())
        .fetch_all(&mut **tx)
        .await?;
        let unknown = unknown
            .into_iter()
            .map(|(gtin, tags)| UnknownTags { gtin, tags })
            .collect();
        Ok((row, lines, unknown))
    }

    /// A count as a backup carries it: its stored lines, tags and batches.
    pub(crate) async fn count_record(
        tx: &mut Transaction<'static, DB>,
        row: CountRow,
    ) -> Result<CountRecord, TxError> {
        let id = CountId::from_trusted(row.count_id.clone());
        let (_, lines, _) = Self::count_parts(tx, &id).await?;
        let tags: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT epc, gtin, sku FROM count_tags WHERE count_id = $1 ORDER BY epc",
        )
        .bind(id.as_str())
        .fetch_all(&mut **tx)
        .await?;
        let batches: Vec<(String,)> = sqlx::query_as(
            "SELECT batch_id FROM count_batches WHERE count_id = $1 ORDER BY batch_id",
        )
        .bind(id.as_str())
        .fetch_all(&mut **tx)
        .await?;
        Ok(CountRecord {
            status: row.status()?,
            skus: row.scope()?,
            location: LocationCode::from_trusted(row.location),
            opened_by: row.opened_by,
            opened_at: row.opened_at,
            closed_by: row.closed_by,
            closed_at: row.closed_at,
            lines: lines.iter().map(LineRow::record).collect(),
            tags: tags
                .into_iter()
                .map(|(epc, gtin, sku)| (epc, gtin, sku.map(Sku::from_trusted)))
                .collect(),
            batches: batches.into_iter().map(|(b,)| b).collect(),
            id,
        })
    }
}
