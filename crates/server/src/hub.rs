//! The event hub: tells SSE subscribers of this process that the event log grew, and hands
//! them the new events from one shared read.
//!
//! The log itself is the truth; the hub only wakes subscribers and saves them a query. It
//! watches the log: at once after a write handled by this process ([`EventHub::poke`] from
//! the request middleware), and every [`POLL`] for commits made by other processes on the
//! same database — but only while someone subscribes, so an idle node does not poll. Each
//! time, it reads what was appended since its last read, once, into a bounded tail of the
//! newest events, each serialized to JSON once, and then wakes the subscribers, who take
//! their events from that tail ([`EventHub::read`]) instead of each asking the database:
//! with 100 subscribers, one query and one serialization per event instead of 100.
//!
//! Nothing in it is needed for correctness. The tail holds every event with `seq` in
//! `(after, last]` (a read of the log stops at its settled horizon, see decision 0011, so what
//! it returns has no gaps that a later commit could fill), and a subscriber whose cursor
//! is older than the tail reads the database as before. A subscriber that misses a wake-up
//! still reads everything on the next one.

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use store::{Event, EventFilter, Store, StoreError};
use tokio::sync::{Notify, watch};

/// How often the hub looks for events committed by other processes.
pub const POLL: Duration = Duration::from_millis(200);
/// Most events the hub keeps for its subscribers; one further behind reads the database.
const TAIL: usize = 4096;
/// Most events the hub reads from the log at once.
const READ: i64 = 1000;

/// An event as a stream sends it, serialized once for every stream that does.
#[derive(Debug)]
pub struct Ready {
    /// The event.
    pub event: Event,
    /// Its JSON, the `data:` of its SSE frame.
    pub json: String,
}

impl Ready {
    /// Serializes `event`.
    pub fn new(event: Event) -> Self {
        let json = serde_json::to_string(&event).unwrap_or_default();
        Self { event, json }
    }
}

/// The newest events of the log: every event with `seq > after`, up to the last read.
struct Tail {
    after: i64,
    events: VecDeque<Arc<Ready>>,
}

impl Tail {
    /// The highest `seq` the tail is complete up to.
    fn last(&self) -> i64 {
        self.events.back().map_or(self.after, |e| e.event.seq)
    }
}

/// Wakes subscribers when the event log's head moves, and serves them its newest events.
pub struct EventHub {
    head: watch::Sender<i64>,
    poke: Notify,
    tail: RwLock<Option<Tail>>,
}

impl EventHub {
    /// Starts the hub's watcher on the current Tokio runtime.
    pub fn start(store: Arc<dyn Store>) -> Arc<Self> {
        let (head, _) = watch::channel(0);
        let hub = Arc::new(Self {
            head,
            poke: Notify::new(),
            tail: RwLock::new(None),
        });
        let weak = Arc::downgrade(&hub);
        tokio::spawn(async move {
            while let Some(hub) = weak.upgrade() {
                if hub.head.receiver_count() > 0 {
                    if let Err(e) = hub.catch_up(store.as_ref()).await {
                        tracing::warn!(error = %e, "event hub cannot read the log");
                    }
                } else {
                    // Nobody listening: no need to ask the database (subscribe() pokes), and
                    // a tail nobody reads would only go stale.
                    *hub.tail.write().unwrap_or_else(PoisonError::into_inner) = None;
                }
                tokio::select! {
                    () = hub.poke.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        });
        hub
    }

    /// Reads what the log gained since the last read into the tail, then wakes the
    /// subscribers if it moved.
    async fn catch_up(&self, store: &dyn Store) -> Result<(), StoreError> {
        let known = self
            .tail
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(Tail::last);
        let mut last = match known {
            Some(last) => last,
            None => {
                // A fresh tail starts at the present; older cursors read the database.
                let head = store.event_head().await?;
                *self.tail.write().unwrap_or_else(PoisonError::into_inner) = Some(Tail {
                    after: head,
                    events: VecDeque::new(),
                });
                head
            }
        };
        loop {
            let page = store
                .events_after(last, &EventFilter::default(), READ)
                .await?;
            let full = page.len() as i64 == READ;
            if let Some(newest) = page.last() {
                last = newest.seq;
                let mut tail = self.tail.write().unwrap_or_else(PoisonError::into_inner);
                let Some(tail) = tail.as_mut() else {
                    return Ok(());
                };
                tail.events
                    .extend(page.into_iter().map(|e| Arc::new(Ready::new(e))));
                while tail.events.len() > TAIL {
                    if let Some(dropped) = tail.events.pop_front() {
                        tail.after = dropped.event.seq;
                    }
                }
            }
            if !full {
                break;
            }
        }
        self.head.send_if_modified(|current| {
            let moved = last > *current;
            *current = last.max(*current);
            moved
        });
        Ok(())
    }

    /// Says that this process just committed a write: look at the log now.
    pub fn poke(&self) {
        self.poke.notify_one();
    }

    /// A receiver that changes whenever the hub has read new events. Wakes the watcher,
    /// which skips the database while nobody listens.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        let receiver = self.head.subscribe();
        self.poke.notify_one();
        receiver
    }

    /// The last head seen.
    pub fn head(&self) -> i64 {
        *self.head.borrow()
    }

    /// Events after `cursor` passing `filter`, at most `limit`, and the cursor to continue
    /// from: from the tail when it holds everything after `cursor` (the continuation then
    /// skips the events that did not pass), else from the database.
    pub async fn read(
        &self,
        store: &dyn Store,
        cursor: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> Result<(Vec<Arc<Ready>>, i64), StoreError> {
        if let Some(found) = self.read_tail(cursor, filter, limit) {
            return Ok(found);
        }
        let page = store.events_after(cursor, filter, limit).await?;
        let next = page.last().map_or(cursor, |e| e.seq);
        Ok((
            page.into_iter().map(|e| Arc::new(Ready::new(e))).collect(),
            next,
        ))
    }

    /// [`EventHub::read`] from the tail, or `None` when the tail does not reach back to
    /// `cursor`.
    fn read_tail(
        &self,
        cursor: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> Option<(Vec<Arc<Ready>>, i64)> {
        let tail = self.tail.read().unwrap_or_else(PoisonError::into_inner);
        let tail = tail.as_ref().filter(|t| t.after <= cursor)?;
        let first = tail.events.partition_point(|e| e.event.seq <= cursor);
        let limit = usize::try_from(limit).unwrap_or(0);
        let mut page = Vec::new();
        for event in tail.events.range(first..) {
            if page.len() == limit {
                // Full: continue after the last event handed out.
                let next = page.last().map_or(cursor, |e: &Arc<Ready>| e.event.seq);
                return Some((page, next));
            }
            if filter.matches(&event.event) {
                page.push(Arc::clone(event));
            }
        }
        Some((page, tail.last().max(cursor)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, kind: &str) -> Event {
        Event {
            seq,
            id: format!("e{seq}"),
            kind: kind.to_owned(),
            aggregate: "a".to_owned(),
            location: None,
            sku: None,
            customer: None,
            occurred_at: chrono::Utc::now(),
            data: serde_json::Value::Null,
        }
    }

    fn hub_with_tail(after: i64, seqs: &[(i64, &str)]) -> EventHub {
        let (head, _) = watch::channel(0);
        EventHub {
            head,
            poke: Notify::new(),
            tail: RwLock::new(Some(Tail {
                after,
                events: seqs
                    .iter()
                    .map(|&(s, k)| Arc::new(Ready::new(event(s, k))))
                    .collect(),
            })),
        }
    }

    fn seqs(found: Option<(Vec<Arc<Ready>>, i64)>) -> Option<(Vec<i64>, i64)> {
        found.map(|(page, next)| (page.iter().map(|e| e.event.seq).collect(), next))
    }

    #[test]
    fn the_tail_serves_cursors_it_reaches_back_to_and_skips_what_a_filter_refuses() {
        let hub = hub_with_tail(10, &[(11, "a"), (13, "b"), (14, "a"), (17, "b")]);
        let all = EventFilter::default();
        let only_b = EventFilter {
            types: vec!["b".to_owned()],
            ..EventFilter::default()
        };
        let cases = [
            (9, &all, 100, None),
            (10, &all, 100, Some((vec![11, 13, 14, 17], 17))),
            (13, &all, 100, Some((vec![14, 17], 17))),
            (17, &all, 100, Some((vec![], 17))),
            (20, &all, 100, Some((vec![], 20))),
            (10, &all, 2, Some((vec![11, 13], 13))),
            (13, &only_b, 100, Some((vec![17], 17))),
            (10, &only_b, 1, Some((vec![13], 13))),
            (17, &only_b, 100, Some((vec![], 17))),
        ];
        for (cursor, filter, limit, expected) in cases {
            assert_eq!(
                seqs(hub.read_tail(cursor, filter, limit)),
                expected,
                "cursor {cursor}, limit {limit}, filter {filter:?}"
            );
        }
    }

    #[test]
    fn a_filter_that_passes_nothing_still_moves_the_cursor_to_the_tails_end() {
        let hub = hub_with_tail(0, &[(1, "a"), (2, "a"), (3, "a")]);
        let none = EventFilter {
            types: vec!["z".to_owned()],
            ..EventFilter::default()
        };
        assert_eq!(seqs(hub.read_tail(0, &none, 10)), Some((vec![], 3)));
    }
}
