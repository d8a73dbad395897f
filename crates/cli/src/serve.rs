//! `stockbook serve`: the HTTP API until SIGINT or SIGTERM, finishing requests in flight,
//! with the broker relays and the inbound queue consumer its flags ask for, and the
//! webhook delivery worker beside it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use server::{AppState, build_app};
use store::Store;

/// What `stockbook serve` takes.
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "STOCKBOOK_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Load demo data into an empty database and print an admin token.
    #[arg(long)]
    demo: bool,
    /// The warehouse that fulfils orders naming no location (the demo's: WH-SH).
    #[arg(long, env = "STOCKBOOK_DEFAULT_LOCATION")]
    default_location: Option<String>,
    /// Requests per second allowed per token, in bursts of twice that (0: unlimited).
    #[arg(long, env = "STOCKBOOK_RATE_LIMIT", default_value_t = 1000)]
    rate_limit: u32,
    /// A browser origin allowed to call the API, e.g. https://portal.example.com (repeat
    /// for several; `*` for any).
    #[arg(
        long = "cors-origin",
        env = "STOCKBOOK_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, env = "STOCKBOOK_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "STOCKBOOK_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    #[command(flatten)]
    brokers: BrokerArgs,
    #[command(flatten)]
    webhooks: WebhookArgs,
    /// RFID reads of one tag at one store within this many seconds count once.
    #[arg(long, env = "STOCKBOOK_RFID_WINDOW", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=86_400))]
    rfid_window: u32,
    /// What the stores' scale labels (EAN-13 prefixes 20-29, `2F IIIII VVVVV C`) carry:
    /// the price in fen, or the weight in grams.
    #[arg(long, env = "STOCKBOOK_SCALE_LABELS", default_value = "price", value_parser = ["price", "weight"])]
    scale_labels: String,
}

/// Brokers to relay events to and take movements from (docs/brokers.md).
#[derive(clap::Args)]
pub(crate) struct BrokerArgs {
    /// Publish every event to RabbitMQ at this URL (amqp://user:pass@host:5672/%2f).
    #[arg(long, env = "STOCKBOOK_AMQP", value_name = "URL")]
    amqp: Option<String>,
    /// The durable topic exchange events are published to.
    #[arg(
        long,
        env = "STOCKBOOK_AMQP_EXCHANGE",
        default_value = "stockbook",
        value_name = "NAME"
    )]
    amqp_exchange: String,
    /// Apply movement batches from this RabbitMQ queue (dead letters go to NAME.dlq).
    #[arg(
        long,
        env = "STOCKBOOK_AMQP_INBOUND_QUEUE",
        value_name = "NAME",
        requires = "amqp"
    )]
    amqp_inbound_queue: Option<String>,
    /// Publish every event to NATS JetStream at this URL (nats://host:4222).
    #[arg(long, env = "STOCKBOOK_NATS", value_name = "URL")]
    nats: Option<String>,
    /// The JetStream stream that stores the events (created when missing).
    #[arg(
        long,
        env = "STOCKBOOK_NATS_STREAM",
        default_value = "STOCKBOOK",
        value_name = "NAME"
    )]
    nats_stream: String,
    /// The first token of every NATS subject.
    #[arg(
        long,
        env = "STOCKBOOK_NATS_SUBJECT_PREFIX",
        default_value = "stockbook",
        value_name = "PREFIX"
    )]
    nats_subject_prefix: String,
    /// Seconds a node's relay lease lasts unrenewed; another node takes over after it.
    #[arg(
        long,
        env = "STOCKBOOK_RELAY_LEASE_SECS",
        default_value_t = 15,
        value_name = "SECONDS"
    )]
    relay_lease_secs: u64,
    /// Raise a `sink_lag` alert when a sink's oldest unconfirmed event is older than this
    /// many seconds.
    #[arg(
        long,
        env = "STOCKBOOK_SINK_LAG_ALERT_SECS",
        default_value_t = 60,
        value_name = "SECONDS"
    )]
    sink_lag_alert_secs: u64,
}

impl BrokerArgs {
    fn config(self) -> anyhow::Result<server::sync::BrokerConfig> {
        let config = server::sync::BrokerConfig {
            amqp: self.amqp,
            amqp_exchange: self.amqp_exchange,
            amqp_inbound_queue: self.amqp_inbound_queue,
            nats: self.nats,
            nats_stream: self.nats_stream,
            nats_subject_prefix: self.nats_subject_prefix,
            lease: Duration::from_secs(self.relay_lease_secs),
        };
        config.validate().map_err(anyhow::Error::msg)?;
        Ok(config)
    }
}

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
    args: ServeArgs,
) -> anyhow::Result<ExitCode> {
    let ServeArgs {
        listen,
        demo,
        default_location,
        rate_limit,
        cors_origins,
        tls_cert,
        tls_key,
        brokers,
        webhooks,
        rfid_window,
        scale_labels,
    } = args;
    let floor = server::floor::FloorConfig {
        rfid_window: chrono::Duration::seconds(i64::from(rfid_window)),
        scale_layouts: vec![if scale_labels == "weight" {
            gs1::VariableMeasureLayout::china_weight()
        } else {
            gs1::VariableMeasureLayout::default()
        }],
    };
    let sink_lag_alert_secs = brokers.sink_lag_alert_secs;
    let brokers = brokers.config()?;
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
    let scheme = if tls_cert.is_some() { "https" } else { "http" };
    tracing::info!(addr = %listener.local_addr()?, scheme, backend = store.backend(), "Stockbook is serving");
    let mut state = AppState::new(store, default_location)
        .with_rate_limit(rate_limit)
        .with_cors(cors_origins);
    state.floor = Arc::new(floor);
    let relays = server::sync::start(&state, &brokers);
    let _lag_watch = server::sync::watch_lag(
        state.clone(),
        Duration::from_secs(sink_lag_alert_secs),
        Duration::from_secs(5),
    );
    let _worker = (!webhooks.no_webhooks).then(|| {
        let config = webhooks.config();
        tracing::info!(node = %config.holder, "delivering webhooks");
        server::sync::webhooks::WebhookWorker::start(state.clone(), config)
    });
    let app = build_app(state).into_make_service_with_connect_info::<SocketAddr>();
    let (signal, deadline) = stop_signals();
    let served = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => {
            use axum::serve::ListenerExt;
            let listener =
                crate::tls::TlsListener::new(listener, crate::tls::acceptor(&cert, &key)?)
                    .tap_io(|_| {});
            let server = axum::serve(listener, app).with_graceful_shutdown(signal);
            tokio::select! {
                result = server => result.context("serving HTTPS"),
                () = deadline => Ok(()),
            }
        }
        _ => {
            let server = axum::serve(listener, app).with_graceful_shutdown(signal);
            tokio::select! {
                result = server => result.context("serving HTTP"),
                () = deadline => Ok(()),
            }
        }
    };
    // Give the relays' leases up, so another node takes over at once.
    relays.stop().await;
    served?;
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
    let (signal, deadline) = stop_signals();
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    tokio::select! {
        result = server => result.context("serving HTTP"),
        () = deadline => Ok(()),
    }
}

/// The two ends of a stop: a future for `with_graceful_shutdown` that completes on SIGINT
/// or SIGTERM, and one that completes [`GRACE`] later, when connections still open (event
/// streams) are dropped instead of waited for.
fn stop_signals() -> (
    impl Future<Output = ()> + Send + 'static,
    impl Future<Output = ()> + Send + 'static,
) {
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown().await;
        let _ = stopping.send(true);
    };
    let deadline = async move {
        let _ = stopped.wait_for(|s| *s).await;
        tokio::time::sleep(GRACE).await;
        tracing::warn!(grace = ?GRACE, "connections still open after the grace period (event streams); closing them");
    };
    (signal, deadline)
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
