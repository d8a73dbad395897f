//! `stockbook serve`: the HTTP API until SIGINT or SIGTERM, finishing requests in flight,
//! and the webhook delivery worker beside it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use server::{AppState, build_app};
use store::Store;

/// How this node delivers webhooks (`--no-webhooks` leaves it to other nodes).
#[derive(clap::Args)]
pub(crate) struct WebhookArgs {
    /// Do not deliver webhooks from this node (other nodes on the database still do).
    #[arg(long, env = "STOCKBOOK_NO_WEBHOOKS")]
    no_webhooks: bool,
    /// Wait after a failed delivery, doubled after each further failure, in milliseconds.
    #[arg(long, env = "STOCKBOOK_WEBHOOK_RETRY_BASE_MS", default_value_t = 1000)]
    webhook_retry_base_ms: u64,
    /// Longest wait between two delivery attempts, in seconds.
    #[arg(long, env = "STOCKBOOK_WEBHOOK_RETRY_CAP_SECS", default_value_t = 300)]
    webhook_retry_cap_secs: u64,
    /// Disable a subscription after this many failed attempts in a row …
    #[arg(
        long,
        env = "STOCKBOOK_WEBHOOK_DISABLE_AFTER_FAILURES",
        default_value_t = 20
    )]
    webhook_disable_after_failures: i64,
    /// … that span at least this many seconds.
    #[arg(
        long,
        env = "STOCKBOOK_WEBHOOK_DISABLE_AFTER_SECS",
        default_value_t = 86_400
    )]
    webhook_disable_after_secs: i64,
    /// How long a node's claim on a subscription lasts unless renewed; another node takes
    /// over this long after a node dies.
    #[arg(long, env = "STOCKBOOK_WEBHOOK_LEASE_SECS", default_value_t = 30)]
    webhook_lease_secs: u64,
}

impl WebhookArgs {
    fn config(&self) -> server::sync::webhooks::WebhookConfig {
        server::sync::webhooks::WebhookConfig {
            retry_base: Duration::from_millis(self.webhook_retry_base_ms.max(1)),
            retry_cap: Duration::from_secs(self.webhook_retry_cap_secs.max(1)),
            disable: store::webhooks::DisablePolicy {
                after_failures: self.webhook_disable_after_failures.max(1),
                after: chrono::Duration::seconds(self.webhook_disable_after_secs.max(0)),
            },
            lease_ttl: Duration::from_secs(self.webhook_lease_secs.max(1)),
            ..Default::default()
        }
    }
}

pub(crate) async fn run(
    store: Arc<dyn Store>,
    db: &str,
    listen: SocketAddr,
    demo: bool,
    default_location: Option<String>,
    webhooks: WebhookArgs,
) -> anyhow::Result<ExitCode> {
    if demo {
        demo_data(store.as_ref(), db).await?;
    }
    let default_location =
        match default_location.or_else(|| demo.then(|| server::demo::WAREHOUSE.to_owned())) {
            Some(code) => Some(
                domain::ids::LocationCode::parse("--default-location", &code)
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?,
            ),
            None => None,
        };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, backend = store.backend(), "Stockbook is serving");
    let state = AppState::new(store, default_location);
    let _worker = (!webhooks.no_webhooks).then(|| {
        let config = webhooks.config();
        tracing::info!(node = %config.holder, "delivering webhooks");
        server::sync::webhooks::WebhookWorker::start(state.clone(), config)
    });
    let app = build_app(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving HTTP")?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Seeds an empty database and prints an admin token to try the API with; the token is also
/// kept (mode 0600) beside the database so a restart can say where it is.
async fn demo_data(store: &dyn Store, db: &str) -> anyhow::Result<()> {
    let dir = crate::sqlite_dir(db).unwrap_or_else(|| PathBuf::from("stockbook-data"));
    let token_file = dir.join("demo-admin-token");
    if server::demo::seed(store)
        .await
        .context("loading demo data")?
    {
        let token =
            server::auth::generate_token().map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        store
            .insert_token(
                "demo admin",
                domain::auth::Role::Admin,
                &server::auth::hash_token(&token),
                chrono::Utc::now(),
            )
            .await?;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        write_private(&token_file, &token)?;
        crate::say(format_args!(
            "Demo data loaded. Admin token (also in {}):\n{token}",
            token_file.display()
        ))?;
    } else if token_file.exists() {
        crate::say(format_args!(
            "Demo data already present. Admin token: {}",
            token_file.display()
        ))?;
    }
    Ok(())
}

fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = crate::create_private(path)?;
    writeln!(file, "{text}").with_context(|| format!("writing {}", path.display()))
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
