//! Transfers: created idempotently, shipped (out at the source, `incoming` at the
//! destination), received (in at the destination, discrepancies on the lines).
//!
//! Every level a step touches is locked in (location, SKU) order, the global lock order,
//! whichever of the two locations sorts first.

use chrono::{DateTime, NaiveDate, Utc};
use domain::ids::{LocationCode, Sku, TransferId};
use domain::transfer::{NewTransfer, Transfer, TransferLine, TransferStatus};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::retail::TransferRecord;
use store::{Recorded, RequestMeta, StoreError, TransferFilter};

use super::{floor_event, json};
use crate::core::{Core, Dialect, TxError, now, placeholders, retry};
use crate::rows::{from_json, to_json};

pub(crate) const TRANSFER_COLUMNS: &str = "transfer_id, from_location, to_location, status, lines, note, \
     request_hash, created_by, created_at, shipped_by, shipped_at, received_by, received_at";

#[derive(sqlx::FromRow)]
pub(crate) struct TransferRow {
    transfer_id: String,
    from_location: String,
    to_location: String,
    status: String,
    lines: String,
    note: Option<String>,
    pub request_hash: String,
    created_by: String,
    created_at: DateTime<Utc>,
    shipped_by: Option<String>,
    shipped_at: Option<DateTime<Utc>>,
    received_by: Option<String>,
    received_at: Option<DateTime<Utc>>,
}

impl TryFrom<TransferRow> for Transfer {
    type Error = StoreError;

    fn try_from(r: TransferRow) -> Result<Self, StoreError> {
        Ok(Transfer {
            id: TransferId::from_trusted(r.transfer_id),
            from: LocationCode::from_trusted(r.from_location),
            to: LocationCode::from_trusted(r.to_location),
            status: TransferStatus::parse("status", &r.status)
                .map_err(|e| StoreError::Other(format!("stored transfer: {}", e.message)))?,
            lines: from_json("transfer lines", &r.lines)?,
            note: r.note,
            created_by: r.created_by,
            created_at: r.created_at,
            shipped_by: r.shipped_by,
            shipped_at: r.shipped_at,
            received_by: r.received_by,
            received_at: r.received_at,
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
    pub(crate) async fn create_transfer(
        &self,
        t: NewTransfer,
        meta: RequestMeta,
    ) -> Result<Recorded<Transfer>, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            DB::lock_key(&mut tx, &format!("transfer:{}", t.id)).await?;
            if let Some(row) = Self::transfer_row(&mut tx, &t.id, false).await? {
                if row.request_hash != meta.request_hash {
                    return Err(StoreError::conflict(
                        "transfer_id_reused",
                        format!("transfer {} exists with other content", t.id),
                    )
                    .into());
                }
                tx.commit().await?;
                return Ok(Recorded {
                    value: Transfer::try_from(row)?,
                    created: false,
                });
            }
            Self::require_location(&mut tx, "from", &t.from).await?;
            Self::require_location(&mut tx, "to", &t.to).await?;
            let skus: Vec<&Sku> = t.lines.iter().map(|(s, _)| s).collect();
            Self::require_skus(&mut tx, &skus, |i| format!("lines[{i}].sku")).await?;
            let at = now();
            let mut lines: Vec<TransferLine> = t
                .lines
                .iter()
                .map(|(sku, qty)| TransferLine {
                    sku: sku.clone(),
                    qty: *qty,
                    received: None,
                    discrepancy: None,
                })
                .collect();
            lines.sort_by(|a, b| a.sku.cmp(&b.sku));
            let transfer = Transfer {
                id: t.id.clone(),
                from: t.from.clone(),
                to: t.to.clone(),
                status: TransferStatus::Open,
                lines,
                note: t.note.clone(),
                created_by: meta.actor.clone(),
                created_at: at,
                shipped_by: None,
                shipped_at: None,
                received_by: None,
                received_at: None,
            };
            Self::insert_transfer(&mut tx, &transfer, &meta.request_hash).await?;
            let event = transfer_event(&transfer, "created", &transfer.from)?;
            Self::append_events(&mut tx, vec![event], at).await?;
            tx.commit().await?;
            Ok(Recorded {
                value: transfer,
                created: true,
            })
        })
        .await
    }

    pub(crate) async fn insert_transfer(
        tx: &mut Transaction<'static, DB>,
        t: &Transfer,
        request_hash: &str,
    ) -> Result<(), TxError> {
        sqlx::query(&format!(
            "INSERT INTO transfers ({TRANSFER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(t.id.as_str())
        .bind(t.from.as_str())
        .bind(t.to.as_str())
        .bind(t.status.as_str())
        .bind(to_json(&t.lines))
        .bind(t.note.as_deref())
        .bind(request_hash)
        .bind(t.created_by.as_str())
        .bind(t.created_at)
        .bind(t.shipped_by.as_deref())
        .bind(t.shipped_at)
        .bind(t.received_by.as_deref())
        .bind(t.received_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub(super) async fn transfer_row(
        tx: &mut Transaction<'static, DB>,
        id: &TransferId,
        lock: bool,
    ) -> Result<Option<TransferRow>, TxError> {
        let lock = if lock { DB::LOCK_ROWS } else { "" };
        Ok(sqlx::query_as(&format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE transfer_id = $1{lock}"
        ))
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?)
    }

    pub(super) async fn locked_transfer(
        tx: &mut Transaction<'static, DB>,
        id: &TransferId,
    ) -> Result<Transfer, TxError> {
        let row = Self::transfer_row(tx, id, true).await?;
        Ok(Transfer::try_from(row.ok_or_else(|| {
            StoreError::not_found(format!("transfer {id}"))
        })?)?)
    }

    pub(crate) async fn get_transfer(&self, id: &TransferId) -> Result<Transfer, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let row: Option<TransferRow> = sqlx::query_as(&format!(
                "SELECT {TRANSFER_COLUMNS} FROM transfers WHERE transfer_id = $1"
            ))
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await?;
            Ok(Transfer::try_from(row.ok_or_else(|| {
                StoreError::not_found(format!("transfer {id}"))
            })?)?)
        })
        .await
    }

    pub(crate) async fn list_transfers(
        &self,
        f: &TransferFilter,
        after: Option<&TransferId>,
        limit: i64,
    ) -> Result<Vec<Transfer>, StoreError> {
        let within = if f.within.is_empty() {
            String::new()
        } else {
            let list = placeholders(5, f.within.len());
            format!("AND (from_location IN ({list}) OR to_location IN ({list}))")
        };
        let sql = format!(
            "SELECT {TRANSFER_COLUMNS} FROM transfers \
             WHERE ($1 IS NULL OR from_location = $1 OR to_location = $1) AND ($2 IS NULL OR status = $2) \
               AND ($3 IS NULL OR transfer_id > $3) {within} ORDER BY transfer_id LIMIT $4"
        );
        let rows: Vec<TransferRow> = retry::<DB, _, _, _>(|| async {
            let mut query = sqlx::query_as(&sql)
                .bind(f.location.as_ref().map(LocationCode::as_str))
                .bind(f.status.map(TransferStatus::as_str))
                .bind(after.map(TransferId::as_str))
                .bind(limit);
            for l in &f.within {
                query = query.bind(l.as_str());
            }
            Ok(query.fetch_all(&self.reader).await?)
        })
        .await?;
        rows.into_iter().map(Transfer::try_from).collect()
    }

    /// What shipped transfers carry to each (destination, SKU): the figure `incoming` must
    /// equal.
    pub(crate) async fn in_transit(
        tx: &mut Transaction<'static, DB>,
    ) -> Result<std::collections::HashMap<(String, String), i64>, TxError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT to_location, lines FROM transfers WHERE status = 'shipped'")
                .fetch_all(&mut **tx)
                .await?;
        let mut carried = std::collections::HashMap::new();
        for (to, lines) in rows {
            let lines: Vec<TransferLine> = from_json("transfer lines", &lines)?;
            for l in lines {
                *carried.entry((to.clone(), l.sku.to_string())).or_default() += l.qty;
            }
        }
        Ok(carried)
    }

    /// A transfer as a backup carries it.
    pub(crate) fn transfer_record(row: TransferRow) -> Result<TransferRecord, StoreError> {
        let request_hash = row.request_hash.clone();
        Ok(TransferRecord {
            request_hash,
            transfer: Transfer::try_from(row)?,
        })
    }
}

/// `transfer.created` / `.shipped` / `.received`, at the location it matters to most.
pub(super) fn transfer_event(
    t: &Transfer,
    what: &str,
    at: &LocationCode,
) -> Result<store::NewEvent, TxError> {
    let kind = match what {
        "created" => "transfer.created",
        "shipped" => "transfer.shipped",
        _ => "transfer.received",
    };
    Ok(floor_event(
        format!("transfer:{}:{what}", t.id),
        kind,
        format!("transfer:{}", t.id),
        at,
        json(t)?,
    ))
}
