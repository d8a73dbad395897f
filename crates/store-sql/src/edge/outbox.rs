//! The push queue: the node's own movements at the store after the push cursor, and HQ's
//! acknowledgement that moves the cursor and takes back what HQ refused.

use chrono::{DateTime, NaiveDate, Utc};
use domain::ids::{LocationCode, MovementId, Sku};
use domain::stock::{Movement, MovementKind};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use store::StoreError;
use store::edge::{Outbox, PushAck};

use super::mirror::MirrorRow;
use super::{MAX_ERROR, clip};
use crate::core::{Core, Dialect, now, retry};

/// A ledger row of the outbox, with the local event that queued it.
#[derive(sqlx::FromRow)]
struct OutboxRow {
    event_seq: i64,
    mirrored: i64,
    #[sqlx(flatten)]
    movement: crate::rows::MovementRow,
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
    pub(crate) async fn edge_outbox(&self, limit: i64) -> Result<Outbox, StoreError> {
        let horizon = self.read_horizon().await?;
        retry::<DB, _, _, _>(|| async {
            let mut tx = self.reader.begin().await?;
            let sync = Self::sync_row(&mut tx)
                .await?
                .ok_or_else(|| StoreError::not_found("edge binding"))?;
            let rows: Vec<OutboxRow> = sqlx::query_as(
                "SELECT e.seq AS event_seq, \
                        (SELECT COUNT(*) FROM edge_mirrored x WHERE x.movement_seq = m.seq) AS mirrored, \
                        m.seq, m.movement_id, m.location, m.sku, m.kind, m.qty, m.on_hand_delta, \
                        m.reserved_delta, m.on_hand_after, m.reason, m.occurred_at, m.recorded_at \
                 FROM events e JOIN stock_movements m ON m.movement_id = substr(e.event_id, 7) \
                 WHERE e.seq > $1 AND e.seq <= $4 AND e.type = 'stock.changed' AND e.location = $2 \
                 ORDER BY e.seq LIMIT $3",
            )
            .bind(sync.push_cursor)
            .bind(sync.location.as_str())
            .bind(limit)
            .bind(horizon)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            let up_to = rows.last().map_or(sync.push_cursor, |r| r.event_seq);
            let mut outbox = Outbox {
                movements: Vec::with_capacity(rows.len()),
                up_to,
                skipped: 0,
            };
            for row in rows {
                let mirrored = row.mirrored > 0;
                let movement = Movement::try_from(row.movement)?;
                if mirrored || !MovementKind::EXTERNAL.contains(&movement.kind) {
                    outbox.skipped += 1;
                } else {
                    outbox.movements.push(movement);
                }
            }
            Ok(outbox)
        })
        .await
    }

    pub(crate) async fn edge_pushed(&self, ack: PushAck) -> Result<(), StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let sync = Self::locked_sync(&mut tx).await?;
            let recorded_at = now();
            let mut events = Vec::new();
            for refusal in &ack.refused {
                let found: Option<(i64, String, String, i64)> = sqlx::query_as(
                    "SELECT seq, location, sku, on_hand_delta FROM stock_movements WHERE movement_id = $1",
                )
                .bind(refusal.id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
                let Some((seq, location, sku, applied)) = found else {
                    continue;
                };
                let delta = domain::edge::refused_delta(applied);
                if delta == 0 {
                    continue;
                }
                let (location, sku) = (LocationCode::from_trusted(location), Sku::from_trusted(sku));
                let row = MirrorRow {
                    location: &location,
                    sku: &sku,
                    id: MovementId::from_trusted(format!("edge:refused:{seq}")),
                    kind: MovementKind::Adjustment,
                    qty: delta,
                    delta,
                    reason: Some(clip(
                        &format!("HQ refused {} ({}): {}", refusal.id, refusal.code, refusal.message),
                        domain::stock::MAX_REASON,
                    )),
                };
                Self::write_mirror(&mut tx, &row, recorded_at, &mut events).await?;
            }
            let error = ack.refused.last().map(|r| {
                clip(
                    &format!("HQ refused movement {} ({}): {}", r.id, r.code, r.message),
                    MAX_ERROR,
                )
            });
            sqlx::query(
                "UPDATE edge_sync SET push_cursor = CASE WHEN $1 > push_cursor THEN $1 ELSE push_cursor END, \
                 last_push_at = CASE WHEN $2 THEN $3 ELSE last_push_at END, \
                 refused = refused + $4, last_error = COALESCE($5, last_error) WHERE edge_id = 1",
            )
            .bind(ack.up_to)
            .bind(ack.pushed > 0)
            .bind(crate::core::micros(ack.now))
            .bind(ack.refused.len() as i64)
            .bind(error)
            .execute(&mut *tx)
            .await?;
            if ack.pushed > 0 {
                Self::note_in_sync(&mut tx, &sync, recorded_at).await?;
            }
            Self::append_events(&mut tx, events, recorded_at).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}
