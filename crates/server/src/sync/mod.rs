//! Getting events out of the log to the systems that follow it: each sink keeps its own
//! position in the log and moves it only once the other side has the event.

pub mod signature;
pub mod webhooks;
