//! `stockbook edge`: one store's node on its own database, serving the same HTTP API to
//! the store's POS terminals and readers while it syncs with HQ; and `stockbook edge
//! status`, the sync state read from that database.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use server::edge::{EdgeConfig, Status};
use server::{AppState, build_app};
use store::Store;

/// The database an edge node uses when `--db` is not given.
pub const DEFAULT_EDGE_DB: &str = "sqlite://stockbook-edge/edge.db";

/// Environment variable of the test hook that ends the node after HQ acknowledged a push
/// and before the push cursor is saved (`exit_after_push`).
const FAULT_ENV: &str = "STOCKBOOK_EDGE_FAULT";

/// How to reach HQ, as given on the command line.
pub(crate) struct EdgeRun {
    pub hq: String,
    pub token: String,
    pub location: String,
    pub listen: SocketAddr,
    pub batch: usize,
    pub poll: bool,
}

pub(crate) async fn run(store: Arc<dyn Store>, args: EdgeRun) -> anyhow::Result<ExitCode> {
    if !(args.hq.starts_with("http://") || args.hq.starts_with("https://")) {
        bail!("--hq must be HQ's base URL, http://HOST:PORT");
    }
    if args.token.trim().is_empty() {
        bail!("--token must be an HQ token");
    }
    if !(1..=domain::stock::MAX_BATCH).contains(&args.batch) {
        bail!("--batch is 1 to {}", domain::stock::MAX_BATCH);
    }
    let location = domain::ids::LocationCode::parse("--location", &args.location)
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let exit_after_push = match std::env::var(FAULT_ENV).ok().as_deref() {
        None | Some("") => false,
        Some("exit_after_push") => true,
        Some(other) => bail!("{FAULT_ENV}={other} is not a known fault (exit_after_push)"),
    };
    let state = AppState::new(store.clone(), None);
    let config = EdgeConfig {
        hq: args.hq.clone(),
        token: args.token,
        location: location.clone(),
        batch: args.batch,
        poll: args.poll,
        exit_after_push,
    };
    let bound = server::edge::start(&state, config)
        .await
        .map_err(|e| anyhow::anyhow!(e))
        .context("binding the database to HQ and the store")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(
        addr = %listener.local_addr()?,
        backend = store.backend(),
        hq = %args.hq,
        %location,
        bootstrapped = bound.sync.bootstrapped_at.is_some(),
        pending = bound.pending_movements,
        "Stockbook edge node is serving"
    );
    crate::serve::serve_until_stopped(listener, build_app(state)).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Prints the sync state as JSON: exit 0, or 2 when the database is not an edge node's.
pub(crate) async fn status(store: &dyn Store) -> anyhow::Result<ExitCode> {
    let Some(state) = store.edge_state().await.context("reading the sync state")? else {
        bail!(
            "this database is not an edge node's (start one with `stockbook edge --hq … --token … --location …`)"
        );
    };
    let status = Status::of(state, chrono::Utc::now());
    crate::say(format_args!("{}", serde_json::to_string_pretty(&status)?))?;
    Ok(ExitCode::SUCCESS)
}
