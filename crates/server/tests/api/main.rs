//! HTTP tests of the whole app (`build_app`) through `oneshot`, on SQLite and, when
//! `STOCKBOOK_TEST_PG` is set, on PostgreSQL.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failed step is a failed test"
)]
#![expect(
    clippy::print_stdout,
    reason = "tests print the latencies they measure"
)]

mod alerts;
mod bad_input;
mod edge;
mod events;
mod floor;
mod hardening;
mod helpers;
mod openapi;
mod orders;
mod permissions;
mod pos;
mod scan;
mod shop;
mod sinks;
mod stock;
mod users;
mod webhooks;

/// Runs an `async fn(TestApp)` scenario once per available backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let app = $crate::helpers::TestApp::sqlite(stringify!($scenario)).await;
                    super::$scenario(&app).await;
                    app.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let Some(app) = $crate::helpers::TestApp::postgres(stringify!($scenario)).await else { return };
                    super::$scenario(&app).await;
                    app.cleanup().await;
                }
            )*
        }
    };
}
