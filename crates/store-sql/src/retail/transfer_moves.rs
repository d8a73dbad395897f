//! Moving a transfer's stock: shipping (out at the source, `incoming` at the
//! destination) and receiving (in at the destination, discrepancies on the lines).
//!
//! Every level a step touches is locked in (location, SKU) order, the global lock order,
//! whichever of the two locations sorts first.

use chrono::{DateTime, NaiveDate, Utc};
use domain::ids::{LocationCode, MovementId, Sku, TransferId};
use domain::order::{OrderError, Shortage};
use domain::stock::MovementKind;
use domain::transfer::{Transfer, TransferStatus};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::StoreError;

use super::transfers::transfer_event;
use crate::core::{Core, Dialect, TxError, now, retry};
use crate::rows::to_json;
use crate::stock::LedgerEntry;

/// One change to a level made by a transfer step.
struct Step<'a> {
    location: &'a LocationCode,
    sku: &'a Sku,
    /// Change of on_hand (a ledger row when non-zero).
    on_hand: i64,
    /// Change of incoming.
    incoming: i64,
    /// The ledger row's kind and qty.
    kind: MovementKind,
    qty: i64,
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
    pub(crate) async fn ship_transfer(
        &self,
        id: &TransferId,
        actor: &str,
    ) -> Result<Transfer, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let mut t = Self::locked_transfer(&mut tx, id).await?;
            match t.status {
                TransferStatus::Open => {}
                TransferStatus::Shipped => {
                    tx.commit().await?;
                    return Ok(t);
                }
                TransferStatus::Received => return Err(transition(&t, "ship").into()),
            }
            let at = now();
            let mut steps: Vec<Step<'_>> = Vec::new();
            for l in &t.lines {
                steps.push(Step {
                    location: &t.from,
                    sku: &l.sku,
                    on_hand: -l.qty,
                    incoming: 0,
                    kind: MovementKind::TransferOut,
                    qty: l.qty,
                });
                steps.push(Step {
                    location: &t.to,
                    sku: &l.sku,
                    on_hand: 0,
                    incoming: l.qty,
                    kind: MovementKind::TransferOut,
                    qty: l.qty,
                });
            }
            let mut events = Vec::new();
            Self::apply_steps(&mut tx, &t, "out", steps, at, &mut events).await?;
            t.status = TransferStatus::Shipped;
            t.shipped_by = Some(actor.to_owned());
            t.shipped_at = Some(at);
            Self::save_transfer(&mut tx, &t).await?;
            events.push(transfer_event(&t, "shipped", &t.to)?);
            Self::append_events(&mut tx, events, at).await?;
            tx.commit().await?;
            Ok(t)
        })
        .await
    }

    pub(crate) async fn receive_transfer(
        &self,
        id: &TransferId,
        arrived: Option<Vec<(Sku, i64)>>,
        actor: &str,
    ) -> Result<Transfer, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let mut t = Self::locked_transfer(&mut tx, id).await?;
            let arrived = arrived
                .clone()
                .unwrap_or_else(|| t.lines.iter().map(|l| (l.sku.clone(), l.qty)).collect());
            let lines = t.received_lines(&arrived);
            match t.status {
                TransferStatus::Shipped => {}
                TransferStatus::Received if lines == t.lines => {
                    tx.commit().await?;
                    return Ok(t);
                }
                TransferStatus::Received => {
                    return Err(StoreError::conflict(
                        "already_received",
                        format!("transfer {id} was received before with other quantities"),
                    )
                    .into());
                }
                TransferStatus::Open => return Err(transition(&t, "receive").into()),
            }
            let skus: Vec<&Sku> = arrived.iter().map(|(s, _)| s).collect();
            Self::require_skus(&mut tx, &skus, |i| format!("lines[{i}].sku")).await?;
            let at = now();
            let steps: Vec<Step<'_>> = lines
                .iter()
                .map(|l| {
                    let received = l.received.unwrap_or(0);
                    Step {
                        location: &t.to,
                        sku: &l.sku,
                        on_hand: received,
                        incoming: -l.qty,
                        kind: MovementKind::TransferIn,
                        qty: received,
                    }
                })
                .collect();
            let mut events = Vec::new();
            let snapshot = t.clone();
            Self::apply_steps(&mut tx, &snapshot, "in", steps, at, &mut events).await?;
            t.lines = lines;
            t.status = TransferStatus::Received;
            t.received_by = Some(actor.to_owned());
            t.received_at = Some(at);
            Self::save_transfer(&mut tx, &t).await?;
            events.push(transfer_event(&t, "received", &t.to)?);
            Self::append_events(&mut tx, events, at).await?;
            tx.commit().await?;
            Ok(t)
        })
        .await
    }

    /// Applies a step's level changes in (location, SKU) order. A decrease of on_hand must
    /// leave what open orders hold (`on_hand - reserved >= qty`): otherwise the whole step
    /// is refused with the shortages. Each on_hand change is a ledger row with its event.
    async fn apply_steps(
        tx: &mut Transaction<'static, DB>,
        t: &Transfer,
        leg: &str,
        mut steps: Vec<Step<'_>>,
        at: DateTime<Utc>,
        events: &mut Vec<store::NewEvent>,
    ) -> Result<(), TxError> {
        steps.sort_by(|a, b| (a.location, a.sku).cmp(&(b.location, b.sku)));
        let mut shortages = Vec::new();
        for s in &steps {
            Self::lock_level(tx, s.location, s.sku).await?;
            let changed: Option<(i64, i64)> = sqlx::query_as(
                "UPDATE stock_levels SET on_hand = on_hand + $3, incoming = incoming + $4, updated_at = $5 \
                 WHERE location = $1 AND sku = $2 AND ($3 >= 0 OR on_hand - reserved + $3 >= 0) \
                 RETURNING on_hand, reserved",
            )
            .bind(s.location.as_str())
            .bind(s.sku.as_str())
            .bind(s.on_hand)
            .bind(s.incoming)
            .bind(at)
            .fetch_optional(&mut **tx)
            .await?;
            let Some((on_hand, reserved)) = changed else {
                let (on_hand, reserved) = Self::lock_level(tx, s.location, s.sku).await?;
                shortages.push(Shortage {
                    sku: s.sku.to_string(),
                    requested: -s.on_hand,
                    available: on_hand - reserved,
                });
                continue;
            };
            if s.on_hand == 0 {
                continue;
            }
            let entry = LedgerEntry {
                id: MovementId::from_trusted(format!("transfer:{}:{leg}:{}", t.id, s.sku)),
                location: s.location.clone(),
                sku: s.sku.clone(),
                kind: s.kind,
                qty: s.qty,
                on_hand_delta: s.on_hand,
                reserved_delta: 0,
                on_hand_after: on_hand,
                reason: Some(format!("transfer {} {} → {}", t.id, t.from, t.to)),
                occurred_at: at,
                recorded_at: at,
            };
            let seq = Self::record_movement(tx, &entry).await?;
            events.push(crate::events::stock_changed(&entry, seq, reserved));
        }
        if shortages.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Order(OrderError::InsufficientStock { shortages }).into())
        }
    }

    async fn save_transfer(tx: &mut Transaction<'static, DB>, t: &Transfer) -> Result<(), TxError> {
        sqlx::query(
            "UPDATE transfers SET status = $2, lines = $3, shipped_by = $4, shipped_at = $5, received_by = $6, \
             received_at = $7 WHERE transfer_id = $1",
        )
        .bind(t.id.as_str())
        .bind(t.status.as_str())
        .bind(to_json(&t.lines))
        .bind(t.shipped_by.as_deref())
        .bind(t.shipped_at)
        .bind(t.received_by.as_deref())
        .bind(t.received_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

fn transition(t: &Transfer, action: &str) -> StoreError {
    StoreError::conflict(
        "invalid_transition",
        format!(
            "transfer {} is {}; it cannot {action}",
            t.id,
            t.status.as_str()
        ),
    )
}
