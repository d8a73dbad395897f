//! The shop floor in backups: devices, sales, tags, counts and transfers, exported in
//! key order after everything they refer to, and restored as they were.

use chrono::{DateTime, NaiveDate, Utc};
use domain::device::Device;
use futures_util::TryStreamExt;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::retail::{CountRecord, SaleRecord};
use store::{BackupRecord, SeenTag, StoreError};

use super::counts::{COUNT_COLUMNS, CountRow};
use super::devices::{DEVICE_COLUMNS, DeviceRow};
use super::rfid::{TAG_COLUMNS, TagRow};
use super::transfers::{TRANSFER_COLUMNS, TransferRow};
use crate::core::{Core, Dialect, TxError};
use crate::rows::{from_json, to_json};

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
    /// Writes every record of the shop floor to `write`.
    pub(crate) async fn export_retail(
        tx: &mut Transaction<'static, DB>,
        write: &mut (dyn FnMut(BackupRecord) -> Result<(), StoreError> + Send),
    ) -> Result<(), TxError> {
        let devices: Vec<DeviceRow> = sqlx::query_as(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices ORDER BY device_id"
        ))
        .fetch_all(&mut **tx)
        .await?;
        for row in devices {
            write(BackupRecord::Device(Device::try_from(row)?))?;
        }
        let sales: Vec<(String, String)> =
            sqlx::query_as("SELECT request_hash, receipt FROM pos_sales ORDER BY sale_id")
                .fetch_all(&mut **tx)
                .await?;
        for (request_hash, receipt) in sales {
            let receipt: domain::pos::Receipt = from_json("receipt", &receipt)?;
            let returned: Vec<(i64,)> = sqlx::query_as(
                "SELECT returned_qty FROM pos_sale_lines WHERE sale_id = $1 ORDER BY line_no",
            )
            .bind(receipt.sale_id.as_str())
            .fetch_all(&mut **tx)
            .await?;
            write(BackupRecord::Sale(Box::new(SaleRecord {
                request_hash,
                receipt,
                returned: returned.into_iter().map(|(r,)| r).collect(),
            })))?;
        }
        {
            let sql = format!("SELECT {TAG_COLUMNS} FROM rfid_tags ORDER BY location, epc");
            let mut rows = sqlx::query_as::<DB, TagRow>(&sql).fetch(&mut **tx);
            while let Some(row) = rows.try_next().await? {
                write(BackupRecord::Tag(row.seen(None)))?;
            }
        }
        let counts: Vec<CountRow> = sqlx::query_as(&format!(
            "SELECT {COUNT_COLUMNS} FROM counts ORDER BY count_id"
        ))
        .fetch_all(&mut **tx)
        .await?;
        for row in counts {
            write(BackupRecord::Count(Box::new(
                Self::count_record(tx, row).await?,
            )))?;
        }
        let transfers: Vec<TransferRow> = sqlx::query_as(&format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers ORDER BY transfer_id"
        ))
        .fetch_all(&mut **tx)
        .await?;
        for row in transfers {
            write(BackupRecord::Transfer(Box::new(Self::transfer_record(
                row,
            )?)))?;
        }
        Ok(())
    }

    pub(crate) async fn restore_device(
        tx: &mut Transaction<'static, DB>,
        d: &Device,
    ) -> Result<(), TxError> {
        Self::insert_device(tx, d).await
    }

    pub(crate) async fn restore_sale(
        tx: &mut Transaction<'static, DB>,
        s: &SaleRecord,
    ) -> Result<(), TxError> {
        Self::insert_sale(tx, &s.request_hash, &s.receipt, &s.returned).await
    }

    pub(crate) async fn restore_tag(
        tx: &mut Transaction<'static, DB>,
        t: &SeenTag,
    ) -> Result<(), TxError> {
        sqlx::query(&format!(
            "INSERT INTO rfid_tags ({TAG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(t.location.as_str())
        .bind(t.epc.as_str())
        .bind(t.gtin.as_str())
        .bind(t.serial.as_str())
        .bind(t.reader.as_str())
        .bind(t.antenna)
        .bind(t.first_seen_at)
        .bind(t.last_seen_at)
        .bind(t.accepted_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub(crate) async fn restore_count(
        tx: &mut Transaction<'static, DB>,
        c: &CountRecord,
    ) -> Result<(), TxError> {
        sqlx::query(&format!(
            "INSERT INTO counts ({COUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(c.id.as_str())
        .bind(c.location.as_str())
        .bind(c.status.as_str())
        .bind(c.skus.as_ref().map(to_json))
        .bind(c.opened_by.as_str())
        .bind(c.opened_at)
        .bind(c.closed_by.as_deref())
        .bind(c.closed_at)
        .execute(&mut **tx)
        .await?;
        for l in &c.lines {
            sqlx::query(
                "INSERT INTO count_lines (count_id, sku, in_scope, expected_at_open, expected, scanned, rfid, book, \
                 counted_at, correction) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(c.id.as_str())
            .bind(l.sku.as_str())
            .bind(l.in_scope)
            .bind(l.expected_at_open)
            .bind(l.expected)
            .bind(l.scanned)
            .bind(l.rfid)
            .bind(l.book)
            .bind(l.counted_at)
            .bind(l.correction)
            .execute(&mut **tx)
            .await?;
        }
        for (epc, gtin, sku) in &c.tags {
            sqlx::query(
                "INSERT INTO count_tags (count_id, epc, gtin, sku) VALUES ($1, $2, $3, $4)",
            )
            .bind(c.id.as_str())
            .bind(epc.as_str())
            .bind(gtin.as_str())
            .bind(sku.as_ref().map(|s| s.as_str()))
            .execute(&mut **tx)
            .await?;
        }
        for batch in &c.batches {
            sqlx::query("INSERT INTO count_batches (count_id, batch_id) VALUES ($1, $2)")
                .bind(c.id.as_str())
                .bind(batch.as_str())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub(crate) async fn restore_transfer(
        tx: &mut Transaction<'static, DB>,
        t: &store::retail::TransferRecord,
    ) -> Result<(), TxError> {
        Self::insert_transfer(tx, &t.transfer, &t.request_hash).await
    }
}
