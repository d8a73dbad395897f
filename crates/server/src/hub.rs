//! The event hub: tells SSE subscribers of this process that the event log grew.
//!
//! The log itself is the truth (subscribers read it by `seq`); the hub only wakes them. It
//! watches the log's head: at once after a write handled by this process ([`EventHub::poke`]
//! from the request middleware), and every [`POLL`] for commits made by other processes on
//! the same database — but only while someone subscribes, so an idle node does not poll.
//! Nothing in it is needed for correctness: a subscriber that misses a
//! wake-up still reads everything on the next one.

use std::sync::Arc;
use std::time::Duration;

use store::Store;
use tokio::sync::{Notify, watch};

/// How often the hub looks for events committed by other processes.
pub const POLL: Duration = Duration::from_millis(200);

/// Wakes subscribers when the event log's head moves.
pub struct EventHub {
    head: watch::Sender<i64>,
    poke: Notify,
}

impl EventHub {
    /// Starts the hub's watcher on the current Tokio runtime.
    pub fn start(store: Arc<dyn Store>) -> Arc<Self> {
        let (head, _) = watch::channel(0);
        let hub = Arc::new(Self {
            head,
            poke: Notify::new(),
        });
        let weak = Arc::downgrade(&hub);
        tokio::spawn(async move {
            while let Some(hub) = weak.upgrade() {
                // Nobody listening: no need to ask the database (subscribe() pokes).
                let listened = hub.head.receiver_count() > 0;
                match if listened {
                    store.event_head().await
                } else {
                    Ok(hub.head())
                } {
                    Ok(head) => {
                        hub.head.send_if_modified(|current| {
                            let moved = head > *current;
                            *current = head.max(*current);
                            moved
                        });
                    }
                    Err(e) => tracing::warn!(error = %e, "event hub cannot read the log head"),
                }
                tokio::select! {
                    () = hub.poke.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        });
        hub
    }

    /// Says that this process just committed a write: look at the head now.
    pub fn poke(&self) {
        self.poke.notify_one();
    }

    /// A receiver that changes whenever the head moves. Wakes the watcher, which skips the
    /// database while nobody listens.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        let receiver = self.head.subscribe();
        self.poke.notify_one();
        receiver
    }

    /// The last head seen.
    pub fn head(&self) -> i64 {
        *self.head.borrow()
    }
}
