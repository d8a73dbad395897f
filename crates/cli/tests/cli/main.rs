//! Tests of the `stockbook` binary as an operator runs it: real processes, real HTTP,
//! real signals, on SQLite and (with `STOCKBOOK_TEST_PG`) PostgreSQL.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed step is a failed test"
)]
#![expect(
    clippy::print_stdout,
    reason = "tests print the latencies and rates they measure"
)]

mod brokers;
mod crash;
mod edge;
mod events;
mod helpers;
mod inbound;
mod operations;
mod relay;
mod security;
mod webhooks;
