//! Mirroring HQ's figures for the store: each level becomes HQ's figure plus the node's
//! own movements HQ has not shown back yet (`domain::edge::mirror_delta`), so nothing is
//! counted twice whichever side sees a movement first.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use domain::FieldError;
use domain::ids::{LocationCode, MovementId, Sku};
use domain::stock::MovementKind;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::edge::{HqStock, Mirrored};
use store::{NewEvent, StoreError};

use super::clip;
use crate::core::{Core, Dialect, TxError, now, retry};
use crate::stock::LedgerEntry;

/// A ledger row written from HQ's figures.
pub(super) struct MirrorRow<'a> {
    pub location: &'a LocationCode,
    pub sku: &'a Sku,
    pub id: MovementId,
    pub kind: MovementKind,
    pub qty: i64,
    pub delta: i64,
    pub reason: Option<String>,
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
    pub(crate) async fn edge_mirror(&self, stock: HqStock) -> Result<Mirrored, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let sync = Self::locked_sync(&mut tx).await?;
            let location = LocationCode::from_trusted(sync.location.clone());
            let skus: BTreeSet<&str> = stock.figures.iter().map(|f| f.sku.as_str()).collect();
            let known = Self::existing(&mut tx, "products", "sku", &skus).await?;
            let unknown: Vec<FieldError> = stock
                .figures
                .iter()
                .enumerate()
                .filter(|(_, f)| !known.contains(f.sku.as_str()))
                .map(|(i, f)| {
                    FieldError::new(
                        format!("figures[{i}].sku"),
                        "unknown_sku",
                        format!("no product {}", f.sku),
                    )
                })
                .collect();
            if !unknown.is_empty() {
                return Err(StoreError::Invalid(unknown).into());
            }
            let recorded_at = now();
            let mut summary = Mirrored::default();
            let mut events = Vec::new();
            for f in &stock.figures {
                let hq_before: Option<(i64,)> = sqlx::query_as(
                    "SELECT on_hand FROM edge_hq_levels WHERE location = $1 AND sku = $2",
                )
                .bind(location.as_str())
                .bind(f.sku.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let hq_before = hq_before.map_or(0, |(h,)| h);
                // Whose movement was it? The node's own when its ledger holds the same facts
                // under that id, written here rather than mirrored.
                let own = match &f.movement {
                    Some(m) => Self::own_delta(&mut tx, &location, &f.sku, m).await?,
                    None => None,
                };
                let delta = domain::edge::mirror_delta(hq_before, f.on_hand, own.map(|o| o.1));
                sqlx::query(
                    "INSERT INTO edge_hq_levels (location, sku, on_hand) VALUES ($1, $2, $3) \
                     ON CONFLICT (location, sku) DO UPDATE SET on_hand = excluded.on_hand",
                )
                .bind(location.as_str())
                .bind(f.sku.as_str())
                .bind(f.on_hand)
                .execute(&mut *tx)
                .await?;
                if own.is_some() {
                    summary.own += 1;
                }
                if delta == 0 {
                    continue;
                }
                let row = match (&f.movement, own) {
                    (None, _) => MirrorRow {
                        location: &location,
                        sku: &f.sku,
                        id: MovementId::from_trusted(format!(
                            "edge:open:{}:{}",
                            stock.stock_seq, f.sku
                        )),
                        kind: MovementKind::Adjustment,
                        qty: delta,
                        delta,
                        reason: Some("HQ's figure when this edge node started".into()),
                    },
                    (Some(m), Some((_, applied))) => MirrorRow {
                        location: &location,
                        sku: &f.sku,
                        id: MovementId::from_trusted(format!("edge:hq:{}", m.event_seq)),
                        kind: MovementKind::Adjustment,
                        qty: delta,
                        delta,
                        reason: Some(clip(
                            &format!(
                                "HQ applied {} as {}, this node as {applied}",
                                m.id, m.on_hand_delta
                            ),
                            domain::stock::MAX_REASON,
                        )),
                    },
                    (Some(m), None) => {
                        // HQ's id, unless this node's ledger already uses it for something else.
                        let taken = Self::movement_seq(&mut tx, m.id.as_str()).await?.is_some();
                        MirrorRow {
                            location: &location,
                            sku: &f.sku,
                            id: if taken {
                                MovementId::from_trusted(format!("edge:hq:{}", m.event_seq))
                            } else {
                                m.id.clone()
                            },
                            kind: MovementKind::from_stored(&m.kind)
                                .unwrap_or(MovementKind::Adjustment),
                            qty: m.qty,
                            delta,
                            reason: m.reason.clone(),
                        }
                    }
                };
                if own.is_some() {
                    summary.corrected += 1;
                } else {
                    summary.foreign += 1;
                }
                Self::write_mirror(&mut tx, &row, recorded_at, &mut events).await?;
            }
            sqlx::query(
                "UPDATE edge_sync SET stock_seq = CASE WHEN $1 > stock_seq THEN $1 ELSE stock_seq END, \
                 last_pull_at = $2, \
                 catalog_seq = CASE WHEN $3 > catalog_seq THEN $3 ELSE catalog_seq END, \
                 bootstrapped_at = CASE WHEN $4 THEN COALESCE(bootstrapped_at, $2) ELSE bootstrapped_at END \
                 WHERE edge_id = 1",
            )
            .bind(stock.stock_seq)
            .bind(recorded_at)
            .bind(stock.bootstrap.unwrap_or(0))
            .bind(stock.bootstrap.is_some())
            .execute(&mut *tx)
            .await?;
            Self::note_in_sync(&mut tx, &sync, recorded_at).await?;
            Self::append_events(&mut tx, events, recorded_at).await?;
            tx.commit().await?;
            Ok(summary)
        })
        .await
    }

    /// The local change a movement HQ reports made here, when it is this node's own: the
    /// ledger holds the same facts under that id in a row that was not mirrored.
    async fn own_delta(
        tx: &mut Transaction<'static, DB>,
        location: &LocationCode,
        sku: &Sku,
        m: &store::edge::HqMovement,
    ) -> Result<Option<(i64, i64)>, TxError> {
        let row: Option<(i64, String, String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT m.seq, m.location, m.sku, m.kind, m.qty, m.on_hand_delta, \
                    (SELECT COUNT(*) FROM edge_mirrored x WHERE x.movement_seq = m.seq) \
             FROM stock_movements m WHERE m.movement_id = $1",
        )
        .bind(m.id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
        Ok(row.and_then(|(seq, loc, s, kind, qty, delta, mirrored)| {
            (mirrored == 0
                && loc == location.as_str()
                && s == sku.as_str()
                && kind == m.kind
                && qty == m.qty)
                .then_some((seq, delta))
        }))
    }

    async fn movement_seq(
        tx: &mut Transaction<'static, DB>,
        id: &str,
    ) -> Result<Option<i64>, TxError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT seq FROM stock_movements WHERE movement_id = $1")
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        Ok(row.map(|(s,)| s))
    }

    /// Applies a change from HQ's figures to a level, unconditionally (HQ's figure is a
    /// fact, even below zero), as a ledger row listed in `edge_mirrored` with its
    /// `stock.changed` event marked `"origin": "hq"`.
    pub(super) async fn write_mirror(
        tx: &mut Transaction<'static, DB>,
        row: &MirrorRow<'_>,
        recorded_at: DateTime<Utc>,
        events: &mut Vec<NewEvent>,
    ) -> Result<(), TxError> {
        let (on_hand, reserved) = Self::lock_level(tx, row.location, row.sku).await?;
        let after = on_hand + row.delta;
        sqlx::query(
            "UPDATE stock_levels SET on_hand = $3, updated_at = $4 WHERE location = $1 AND sku = $2",
        )
        .bind(row.location.as_str())
        .bind(row.sku.as_str())
        .bind(after)
        .bind(recorded_at)
        .execute(&mut **tx)
        .await?;
        let entry = LedgerEntry {
            id: row.id.clone(),
            location: row.location.clone(),
            sku: row.sku.clone(),
            kind: row.kind,
            qty: row.qty,
            on_hand_delta: row.delta,
            reserved_delta: 0,
            on_hand_after: after,
            reason: row.reason.clone(),
            occurred_at: recorded_at,
            recorded_at,
        };
        let seq = Self::record_movement(tx, &entry).await?;
        sqlx::query("INSERT INTO edge_mirrored (movement_seq) VALUES ($1)")
            .bind(seq)
            .execute(&mut **tx)
            .await?;
        let mut event = crate::events::stock_changed(&entry, seq, reserved);
        if let Some(movement) = event.data.get_mut("movement") {
            movement["origin"] = serde_json::Value::from("hq");
        }
        events.push(event);
        Ok(())
    }
}
