//! Group commit of order placements.
//!
//! Each placement reads and prices on a reader connection ([`Core::place_order`]), then
//! hands its writes to one task per store (per node), which writes everything that queued
//! up while its previous transaction ran as one transaction: one block of order numbers,
//! on PostgreSQL the group's levels locked in the global order, each order's
//! reservations in arrival order (one round trip per order), then the orders,
//! their timelines, keys and lines in one statement, all ledger rows in one, all events
//! in one, and one commit. The outcome is that of placing them one by one in arrival
//! order: an order refused for stock gives back what it had reserved before the next
//! order reserves, so no buyer is refused while stock remains, and nothing of it is
//! written. Under load a commit carries many orders; alone, an order is written at once.
//! Orders of one hot SKU share its row lock, the event log's mark and one WAL flush; on
//! SQLite, the writer is taken once per group instead of once per order.
//!
//! If the group's transaction fails (a key placed twice at once, a broken database),
//! every order in it is answered [`TxError::Again`] and placed alone by its own retry.
//! An order whose customer has a credit limit is placed alone too: its check reads the
//! customer's open orders inside its write.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, NaiveDate, Utc};
use domain::order::OrderError;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Pool, Type};
use store::{NewEvent, Placed, StoreError};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::Moved;
use super::place::{Head, Prepared};
use crate::alerts::Thresholds;
use crate::core::{Core, Dialect, TxError};
use crate::stock::LedgerEntry;

/// Most orders in one group.
const MAX_GROUP: usize = 64;
/// Orders waiting for the writer task before placements wait to hand theirs over.
const QUEUE: usize = 1024;
/// Groups written at once where writers run in parallel (PostgreSQL).
const PARALLEL_GROUPS: usize = 4;

type Job = (Prepared, oneshot::Sender<Result<Placed, TxError>>);

/// The queue to a store's group-commit task, started on first use.
pub(crate) struct Group<DB> {
    queue: OnceLock<mpsc::Sender<Job>>,
    database: PhantomData<fn() -> DB>,
}

impl<DB> Default for Group<DB> {
    fn default() -> Self {
        Self {
            queue: OnceLock::new(),
            database: PhantomData,
        }
    }
}

impl<DB: Dialect> Group<DB>
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
    /// Writes `prepared` with the next group and waits for its outcome. The task holds a
    /// clone of `writer`; it ends when the store (and so this queue) is dropped.
    pub(crate) async fn place(
        &self,
        writer: &Pool<DB>,
        prepared: Prepared,
    ) -> Result<Placed, TxError> {
        let queue = self.queue.get_or_init(|| {
            let (queue, arrivals) = mpsc::channel(QUEUE);
            tokio::spawn(Self::run(writer.clone(), arrivals));
            queue
        });
        let (reply, answer) = oneshot::channel();
        queue
            .send((prepared, reply))
            .await
            .map_err(|_| TxError::Again)?;
        answer.await.map_err(|_| TxError::Again)?
    }

    async fn run(writer: Pool<DB>, mut arrivals: mpsc::Receiver<Job>) {
        // Where writers run in parallel, a few groups may be written at once (their levels are
        // locked in the global order, so they only wait for each other on shared levels).
        let writers = Arc::new(Semaphore::new(if DB::SERIAL_WRITERS {
            1
        } else {
            PARALLEL_GROUPS
        }));
        let mut jobs = Vec::with_capacity(MAX_GROUP);
        loop {
            // A free writer first: what arrives meanwhile makes the next group.
            let Ok(permit) = writers.clone().acquire_owned().await else {
                return;
            };
            if arrivals.recv_many(&mut jobs, MAX_GROUP).await == 0 {
                return;
            }
            // A key twice in one group would fail the whole group: the later one goes alone
            // (and, once the first has committed, replays it).
            let mut keys = HashSet::new();
            let (group, doubles): (Vec<Job>, Vec<Job>) = jobs
                .drain(..)
                .partition(|(p, _)| keys.insert(p.meta.idempotency_key.clone()));
            for (_, reply) in doubles {
                let _ = reply.send(Err(TxError::Again));
            }
            let (prepared, replies): (Vec<Prepared>, Vec<_>) = group.into_iter().unzip();
            let writer = writer.clone();
            tokio::spawn(async move {
                match Self::write_group(&writer, prepared).await {
                    Ok(outcomes) => {
                        for (reply, outcome) in replies.into_iter().zip(outcomes) {
                            // A placement that went away no longer waits for its answer.
                            let _ = reply.send(outcome);
                        }
                    }
                    Err(e) => {
                        let error = e.into_store(DB::is_transient);
                        tracing::debug!(%error, orders = replies.len(), "a group commit failed; its orders go alone");
                        for reply in replies {
                            let _ = reply.send(Err(TxError::Again));
                        }
                    }
                }
                drop(permit);
            });
        }
    }
    /// Writes a group of placements in one transaction and gives each its outcome.
    async fn write_group(
        writer: &Pool<DB>,
        prepared: Vec<Prepared>,
    ) -> Result<Vec<Result<Placed, TxError>>, TxError> {
        let mut tx = DB::begin_write(writer).await?;
        // Where writers run in parallel, the group's levels in the global order first, so
        // that reserving order by order cannot deadlock with another transaction.
        let levels = prepared
            .iter()
            .flat_map(|p| {
                p.lines
                    .iter()
                    .map(|l| (p.order.location.as_str(), l.sku.as_str()))
            })
            .collect();
        Core::<DB>::lock_levels(&mut tx, &levels).await?;
        // A key that committed since its placement looked for it (the same order sent again
        // at once): that placement is retried, and replays the order. Read after the locks:
        // a group placing the same order holds the same levels, so it has committed by now.
        let keys: std::collections::BTreeSet<&str> = prepared
            .iter()
            .map(|p| p.meta.idempotency_key.as_str())
            .collect();
        let used =
            Core::<DB>::existing(&mut tx, "idempotency_keys", "idempotency_key", &keys).await?;
        let seqs = DB::next_order_seqs(&mut tx, prepared.len()).await?;
        let heads: Vec<Head> = prepared
            .iter()
            .zip(seqs)
            .map(|(p, seq)| Head::new(p, seq, false))
            .collect();
        // Reservations in arrival order; a refused order gives back what it took at once.
        let mut outcomes: Vec<Option<Result<Placed, TxError>>> = Vec::new();
        let mut accepted: Vec<(usize, Vec<Moved>)> = Vec::new();
        for (i, (p, head)) in prepared.iter().zip(&heads).enumerate() {
            if used.contains(&p.meta.idempotency_key) {
                outcomes.push(Some(Err(TxError::Again)));
                continue;
            }
            let step = head.step(p);
            let reservation = Core::<DB>::reserve_order(&mut tx, &step, &p.lines).await?;
            if reservation.shortages.is_empty() {
                accepted.push((i, reservation.moved));
                outcomes.push(None);
            } else {
                Self::unreserve(&mut tx, &step, &reservation.moved).await?;
                let shortages = reservation.shortages;
                let refused = StoreError::Order(OrderError::InsufficientStock { shortages });
                outcomes.push(Some(Err(refused.into())));
            }
        }
        if !accepted.is_empty() {
            let rows: Vec<(&Prepared, &Head)> = accepted
                .iter()
                .map(|(i, _)| (&prepared[*i], &heads[*i]))
                .collect();
            Core::<DB>::insert_placements(&mut tx, &rows).await?;
            let entries: Vec<&LedgerEntry> = accepted
                .iter()
                .flat_map(|(_, moved)| moved.iter().map(|m| &m.entry))
                .collect();
            let mut seqs = Core::<DB>::record_movements(&mut tx, &entries)
                .await?
                .into_iter();
            let mut events: Vec<NewEvent> = Vec::new();
            let mut placed: HashMap<usize, Placed> = HashMap::new();
            for (i, moved) in &accepted {
                let (p, head) = (&prepared[*i], &heads[*i]);
                let step = head.step(p);
                for (m, seq) in moved.iter().zip(seqs.by_ref()) {
                    step.push(crate::events::stock_changed(
                        &m.entry,
                        seq,
                        m.reserved_after,
                    ));
                }
                let order = head.placed(p);
                step.push(Core::<DB>::created_event(&step, &order));
                events.extend(step.take_events());
                placed.insert(
                    *i,
                    Placed {
                        order,
                        created: true,
                    },
                );
            }
            let thresholds =
                Thresholds::merged(accepted.iter().map(|(i, _)| &prepared[*i].thresholds));
            // The group's events carry the time of its last placement.
            let at = prepared.iter().map(|p| p.at).max().unwrap_or_else(Utc::now);
            Core::<DB>::append_events_knowing(&mut tx, events, at, Some(&thresholds)).await?;
            tx.commit().await?;
            for (i, outcome) in outcomes.iter_mut().enumerate() {
                if let Some(p) = placed.remove(&i) {
                    *outcome = Some(Ok(p));
                }
            }
        } else {
            // Every order was refused: nothing to keep.
            tx.rollback().await?;
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Err(TxError::Again)))
            .collect())
    }

    /// Gives back the reservations of an order refused within a group (its other lines').
    async fn unreserve(
        tx: &mut sqlx::Transaction<'static, DB>,
        step: &super::OrderStep<'_>,
        moved: &[Moved],
    ) -> Result<(), TxError> {
        if moved.is_empty() {
            return Ok(());
        }
        let statements: Vec<String> = (0..moved.len())
            .map(|i| {
                format!(
                    "UPDATE stock_levels SET reserved = reserved - ${} WHERE location = $1 AND sku = ${}",
                    3 + 2 * i,
                    2 + 2 * i
                )
            })
            .collect();
        let sql = DB::batch(&statements);
        let mut query = sqlx::query(&sql).bind(step.location);
        for m in moved {
            query = query.bind(m.entry.sku.as_str()).bind(m.entry.qty);
        }
        query.execute(&mut **tx).await?;
        Ok(())
    }
}
