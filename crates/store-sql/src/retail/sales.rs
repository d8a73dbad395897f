//! POS sales and returns: one transaction that resolves, prices, posts the movements and
//! records the receipt, idempotent by the terminal's sale id.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use domain::FieldError;
use domain::ids::{MovementId, SaleId, Sku};
use domain::pos::{
    self, ItemRef, NewSale, Receipt, ReceiptLine, SaleKind, SoldLine, price_line, settle,
};
use domain::stock::{MovementKind, NewMovement, Outcome};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::{Recorded, RequestMeta, StoreError};

use super::{floor_event, json};
use crate::core::{Core, Dialect, TxError, now, retry};
use crate::rows::{from_json, to_json};

fn invalid(e: FieldError) -> TxError {
    StoreError::Invalid(vec![e]).into()
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
    pub(crate) async fn record_sale(
        &self,
        sale: NewSale,
        meta: RequestMeta,
    ) -> Result<Recorded<Receipt>, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            // A retry racing its first attempt waits here, then replays it.
            DB::lock_key(&mut tx, &format!("sale:{}", sale.id)).await?;
            if let Some(first) = Self::replay_sale(&mut tx, &sale.id, &meta.request_hash).await? {
                tx.commit().await?;
                return Ok(Recorded {
                    value: first,
                    created: false,
                });
            }
            let recorded_at = now();
            Self::require_location(&mut tx, "location", &sale.location).await?;
            let items: Vec<&ItemRef> = sale.lines.iter().map(|l| &l.item).collect();
            let products = Self::resolve_items(&mut tx, &items).await?;
            let mut sold = match &sale.original_sale_id {
                Some(original) => Some(Self::sold_lines(&mut tx, original).await?),
                None => None,
            };
            let mut lines = Vec::with_capacity(sale.lines.len());
            for (i, (line, product)) in sale.lines.iter().zip(&products).enumerate() {
                let mut priced =
                    price_line(&format!("lines[{i}]"), i as i64 + 1, line, product).map_err(invalid)?;
                if let Some(sold) = sold.as_mut() {
                    let taken = pos::take_back(sold, &priced.sku, priced.qty).map_err(|left| {
                        StoreError::conflict(
                            "return_exceeds_sale",
                            format!(
                                "lines[{i}]: {} of {} cannot come back; the sale has {left} left to return",
                                priced.qty, priced.sku
                            ),
                        )
                    })?;
                    priced.unit_price = taken.unit_price;
                    priced.line_total = taken.refund;
                }
                lines.push((priced, product.currency.clone()));
            }
            let money = settle(sale.kind, &lines, &sale.payments).map_err(invalid)?;
            let mut events = Vec::new();
            let negative_stock = Self::post_lines(&mut tx, &sale, &lines, recorded_at, &mut events).await?;
            let receipt = Receipt {
                sale_id: sale.id.clone(),
                kind: sale.kind,
                location: sale.location.clone(),
                terminal: sale.terminal.clone(),
                occurred_at: crate::core::micros(sale.occurred_at),
                recorded_at,
                original_sale_id: sale.original_sale_id.clone(),
                lines: lines.into_iter().map(|(l, _)| l).collect(),
                currency: money.currency,
                total: money.total,
                payments: sale.payments.clone(),
                paid: money.paid,
                change: money.change,
                negative_stock,
                reason: sale.reason.clone(),
            };
            Self::insert_sale(&mut tx, &meta.request_hash, &receipt, &[]).await?;
            if let (Some(original), Some(sold)) = (&sale.original_sale_id, &sold) {
                Self::note_returned(&mut tx, original, sold).await?;
            }
            events.push(sale_event(&receipt, &meta.actor)?);
            Self::append_events(&mut tx, events, recorded_at).await?;
            tx.commit().await?;
            Ok(Recorded {
                value: receipt,
                created: true,
            })
        })
        .await
    }

    /// Posts a `sale` or `return` movement per line, in SKU order (the lock order), and
    /// returns the SKUs a sale left below zero.
    async fn post_lines(
        tx: &mut Transaction<'static, DB>,
        sale: &NewSale,
        lines: &[(ReceiptLine, domain::money::Currency)],
        recorded_at: DateTime<Utc>,
        events: &mut Vec<store::NewEvent>,
    ) -> Result<Vec<Sku>, TxError> {
        let kind = match sale.kind {
            SaleKind::Sale => MovementKind::Sale,
            SaleKind::Return => MovementKind::Return,
        };
        let mut order: Vec<&ReceiptLine> = lines.iter().map(|(l, _)| l).collect();
        order.sort_by(|a, b| (&a.sku, a.line_no).cmp(&(&b.sku, b.line_no)));
        let mut seen = HashMap::new();
        let mut negative = BTreeSet::new();
        for line in order {
            let movement = NewMovement {
                id: MovementId::from_trusted(format!("pos:{}:{}", sale.id, line.line_no)),
                sku: line.sku.clone(),
                location: sale.location.clone(),
                kind,
                qty: line.qty,
                reason: Some(format!("{} {}", sale.kind.as_str(), sale.id)),
                occurred_at: sale.occurred_at,
            };
            match Self::apply_one(tx, &movement, recorded_at, events, &mut seen).await? {
                Outcome::Applied(a) if a.negative_stock => {
                    negative.insert(line.sku.clone());
                }
                Outcome::Applied(_) => {}
                other => {
                    return Err(StoreError::Other(format!(
                        "movement {} of a new sale was not applied: {other:?}",
                        movement.id
                    ))
                    .into());
                }
            }
        }
        Ok(negative.into_iter().collect())
    }

    /// The first receipt of a sale id sent again with the same request; `Conflict` when the
    /// id was used for another request; `None` when it is new.
    async fn replay_sale(
        tx: &mut Transaction<'static, DB>,
        id: &SaleId,
        request_hash: &str,
    ) -> Result<Option<Receipt>, TxError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT request_hash, receipt FROM pos_sales WHERE sale_id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut **tx)
                .await?;
        match row {
            None => Ok(None),
            Some((hash, receipt)) if hash == request_hash => {
                Ok(Some(from_json("receipt", &receipt)?))
            }
            Some(_) => Err(StoreError::conflict(
                "sale_id_reused",
                format!("{id} was recorded before with other content; a new sale needs a new id"),
            )
            .into()),
        }
    }

    /// The lines of the sale a return names, locking it until commit so two returns of it
    /// cannot both take the last unit back.
    async fn sold_lines(
        tx: &mut Transaction<'static, DB>,
        original: &SaleId,
    ) -> Result<Vec<SoldLine>, TxError> {
        let kind: Option<(String,)> = sqlx::query_as(&format!(
            "SELECT kind FROM pos_sales WHERE sale_id = $1{}",
            DB::LOCK_ROWS
        ))
        .bind(original.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        if kind.as_ref().map(|(k,)| k.as_str()) != Some(SaleKind::Sale.as_str()) {
            return Err(invalid(FieldError::new(
                "original_sale_id",
                "unknown_sale",
                format!("no sale {original}"),
            )));
        }
        let rows: Vec<(i64, String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT line_no, sku, qty, unit_price, line_total, returned_qty FROM pos_sale_lines \
             WHERE sale_id = $1 ORDER BY line_no",
        )
        .bind(original.as_str())
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(line_no, sku, qty, unit_price, line_total, returned_qty)| SoldLine {
                    line_no,
                    sku: Sku::from_trusted(sku),
                    qty,
                    unit_price,
                    line_total,
                    returned_qty,
                },
            )
            .collect())
    }

    /// Stores what a return took back from its original sale.
    async fn note_returned(
        tx: &mut Transaction<'static, DB>,
        original: &SaleId,
        sold: &[SoldLine],
    ) -> Result<(), TxError> {
        for line in sold {
            sqlx::query(
                "UPDATE pos_sale_lines SET returned_qty = $3 WHERE sale_id = $1 AND line_no = $2 AND returned_qty <> $3",
            )
            .bind(original.as_str())
            .bind(line.line_no)
            .bind(line.returned_qty)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    /// Inserts a sale with its lines; `returned` gives each line's returned units (a
    /// restore), empty for a new sale.
    pub(crate) async fn insert_sale(
        tx: &mut Transaction<'static, DB>,
        request_hash: &str,
        r: &Receipt,
        returned: &[i64],
    ) -> Result<(), TxError> {
        sqlx::query(
            "INSERT INTO pos_sales (sale_id, kind, location, original_sale_id, request_hash, occurred_at, recorded_at, receipt) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(r.sale_id.as_str())
        .bind(r.kind.as_str())
        .bind(r.location.as_str())
        .bind(r.original_sale_id.as_ref().map(SaleId::as_str))
        .bind(request_hash)
        .bind(r.occurred_at)
        .bind(r.recorded_at)
        .bind(to_json(r))
        .execute(&mut **tx)
        .await?;
        for (i, l) in r.lines.iter().enumerate() {
            sqlx::query(
                "INSERT INTO pos_sale_lines (sale_id, line_no, sku, qty, unit_price, line_total, returned_qty) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(r.sale_id.as_str())
            .bind(l.line_no)
            .bind(l.sku.as_str())
            .bind(l.qty)
            .bind(l.unit_price)
            .bind(l.line_total)
            .bind(returned.get(i).copied().unwrap_or(0))
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn get_sale(&self, id: &SaleId) -> Result<Receipt, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_snapshot(&self.reader).await?;
            let receipt = Self::read_sale(&mut tx, id).await?;
            tx.commit().await?;
            Ok(receipt)
        })
        .await
    }

    /// A sale's receipt with the units returned of each line since.
    pub(crate) async fn read_sale(
        tx: &mut Transaction<'static, DB>,
        id: &SaleId,
    ) -> Result<Receipt, TxError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT receipt FROM pos_sales WHERE sale_id = $1")
                .bind(id.as_str())
                .fetch_optional(&mut **tx)
                .await?;
        let (text,) = row.ok_or_else(|| StoreError::not_found(format!("sale {id}")))?;
        let mut receipt: Receipt = from_json("receipt", &text)?;
        let returned: Vec<(i64, i64)> =
            sqlx::query_as("SELECT line_no, returned_qty FROM pos_sale_lines WHERE sale_id = $1")
                .bind(id.as_str())
                .fetch_all(&mut **tx)
                .await?;
        for line in &mut receipt.lines {
            if let Some((_, r)) = returned.iter().find(|(n, _)| *n == line.line_no) {
                line.returned_qty = *r;
            }
        }
        Ok(receipt)
    }
}

/// `pos.sale_recorded` / `pos.return_recorded`: the receipt, for ERPs and dashboards.
fn sale_event(r: &Receipt, actor: &str) -> Result<store::NewEvent, TxError> {
    let kind = match r.kind {
        SaleKind::Sale => "pos.sale_recorded",
        SaleKind::Return => "pos.return_recorded",
    };
    let mut data = json(r)?;
    data["actor"] = serde_json::Value::from(actor);
    Ok(floor_event(
        format!("pos:{}", r.sale_id),
        kind,
        format!("sale:{}", r.sale_id),
        &r.location,
        data,
    ))
}
