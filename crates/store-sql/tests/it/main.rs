//! Integration tests of the SQL store: one binary (one link) for all of them.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed step is a failed test"
)]

mod common;
mod conformance;
mod horizon;
mod operations;
