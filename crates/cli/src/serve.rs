//! `stockbook serve`: the HTTP API until SIGINT or SIGTERM, finishing requests in flight.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use server::{AppState, build_app};
use store::Store;

pub(crate) async fn run(
    store: Arc<dyn Store>,
    db: &str,
    listen: SocketAddr,
    demo: bool,
    default_location: Option<String>,
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
    let app = build_app(AppState::new(store, default_location));
    serve_until_stopped(listener, app).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// How long requests in flight may finish after SIGINT or SIGTERM. Event streams never
/// finish by themselves: they are cut after it, and their clients (edge nodes, browsers)
/// resume elsewhere or after the restart with `Last-Event-ID`.
const GRACE: Duration = Duration::from_secs(5);

/// Serves `app` until SIGINT or SIGTERM, then finishes requests in flight for at most
/// [`GRACE`].
pub(crate) async fn serve_until_stopped(
    listener: tokio::net::TcpListener,
    app: axum::Router,
) -> anyhow::Result<()> {
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown().await;
        let _ = stopping.send(true);
    });
    let deadline = async move {
        let _ = stopped.wait_for(|s| *s).await;
        tokio::time::sleep(GRACE).await;
    };
    tokio::select! {
        result = server => result.context("serving HTTP"),
        () = deadline => {
            tracing::warn!(grace = ?GRACE, "connections still open after the grace period (event streams); closing them");
            Ok(())
        }
    }
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
        let admin = domain::auth::Grant::role(domain::auth::Role::Admin);
        let (token, _) = server::auth::issue_token(store, "demo admin", admin, None, None).await?;
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
