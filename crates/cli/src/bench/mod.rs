//! `stockbook bench`: Stockbook's figures, each measured against its own ceiling on the
//! same machine in the same run, so that what is reported is a ratio that means something
//! on any machine, next to the absolute value that holds only for this one.
//!
//! For each backend (SQLite always, PostgreSQL with `--pg`) the bench makes a fresh
//! database, seeds it through the `store` API, starts this binary as a `serve` child on
//! 127.0.0.1:0, and measures each figure as interleaved (ceiling, product) pairs. Every
//! loop is bounded in calls and in time; all traffic goes to 127.0.0.1. A benchmark is
//! not a test: a slow figure is reported, never an error. A broken outcome is another
//! matter: the figures that sell stock or deliver events are followed by correctness
//! checks, and a failed check makes the run exit with code 3. See `docs/benchmarks.md`.
//!
//! Adding figures means a module like `stock.rs` or `orders.rs`: a function taking the
//! [`Setup`] that calls [`pairs::interleaved`] with a ceiling and a product closure, using
//! [`load::drive`] for load, and returns a [`report::Figure`].

mod bare;
mod child;
mod db;
mod load;
mod orders;
mod pairs;
mod report;
mod seed;
mod sse;
mod stats;
mod stock;
mod sysinfo;
mod target;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use self::bare::BareServer;
use self::child::ServerChild;
use self::db::Scratch;
use self::load::Limits;
use self::pairs::{Probe, Schedule};
use self::report::{BackendReport, Report};
use self::seed::{BASE_PRODUCTS, LOCATIONS};
use self::sysinfo::{Environment, clock_ticks, load_average};
use self::target::Target;

/// Options of `stockbook bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Fewer and shorter pairs, and no 1,000,000-level growth step: under two minutes.
    #[arg(long)]
    quick: bool,
    /// Also write every figure, pair by pair, as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Also measure PostgreSQL on this server, in a database the bench creates and drops,
    /// e.g. postgres://postgres@127.0.0.1:5432/postgres.
    #[arg(long, value_name = "URL")]
    pg: Option<String>,
}

/// Concurrent clients of every figure: enough to keep two cores busy through the waits
/// of each request, few enough that the load generator does not starve the server.
const CLIENTS: usize = 16;

/// How much a run measures.
#[derive(Debug, Clone, Copy)]
struct Plan {
    mode: &'static str,
    schedule: Schedule,
    /// The largest stock-level count the growth figures reach.
    max_levels: usize,
}

impl Plan {
    fn quick(&self) -> bool {
        self.mode == "quick"
    }

    fn new(quick: bool) -> Self {
        let (mode, pairs, side, warmup, max_calls, max_levels) = if quick {
            ("quick", 2, 1.0, 0.3, 200_000, 10_000)
        } else {
            ("full", 3, 5.0, 1.0, 2_000_000, 1_000_000)
        };
        let limits = |seconds: f64| Limits {
            duration: Duration::from_secs_f64(seconds),
            max_calls,
        };
        Self {
            mode,
            schedule: Schedule {
                pairs,
                warmup: limits(warmup),
                side: limits(side),
            },
            max_levels,
        }
    }
}

/// Everything a figure needs: the server under test, its token, the ceilings' own
/// connections and the bare HTTP server, and how long to measure.
pub struct Setup {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// The `stockbook serve` child.
    pub server: ServerChild,
    /// An admin token of that server.
    pub token: String,
    /// The bench's own connections to the same database.
    pub scratch: Arc<Scratch>,
    /// The database's URL.
    pub db_url: String,
    /// `http://addr` of the bare HTTP ceiling.
    pub bare_url: String,
    /// Whose CPU is whose.
    pub probe: Probe,
    /// Warm-up, pairs and their bounds.
    pub schedule: Schedule,
    /// Concurrent clients.
    pub clients: usize,
}

/// Products of the read catalog after the first growth step (10,000 levels).
const PRODUCTS_10K: usize = 1_000;
/// Products of the read catalog after the second growth step (1,000,000 levels).
const PRODUCTS_1M: usize = 100_000;

/// Runs the bench and prints the report; exit code 3 when a correctness check failed, 2
/// when a backend could not be measured.
pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let plan = Plan::new(args.quick);
    let environment = Environment::read();
    let bare = BareServer::start().await?;
    let ticks = clock_ticks();
    let mut backends = vec![run_backend(&plan, &bare, ticks, None).await];
    if let Some(pg) = &args.pg {
        backends.push(run_backend(&plan, &bare, ticks, Some(pg)).await);
    }
    let report = Report {
        mode: plan.mode,
        pairs: plan.schedule.pairs,
        seconds_per_side: plan.schedule.side.duration.as_secs_f64(),
        environment,
        backends,
        total_seconds: started.elapsed().as_secs_f64(),
        load_at_end: load_average(),
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(report.markdown().as_bytes())
            .and_then(|()| out.flush())
            .context("writing to stdout")?;
    }
    if let Some(path) = &args.json {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        serde_json::to_writer_pretty(std::io::BufWriter::new(file), &report)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.violated() {
        tracing::error!("bench: a correctness check failed (see the report)");
        ExitCode::from(3)
    } else if report.backends.iter().any(|b| b.error.is_some()) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Measures one backend (PostgreSQL when `pg` names a server); a failure is reported in
/// the result, and the database is removed either way.
async fn run_backend(
    plan: &Plan,
    bare: &BareServer,
    ticks: u64,
    pg: Option<&str>,
) -> BackendReport {
    let started = Instant::now();
    let backend = if pg.is_some() { "postgres" } else { "sqlite" };
    let mut report = BackendReport {
        backend: backend.to_owned(),
        ..BackendReport::default()
    };
    tracing::info!(backend, "bench: preparing a fresh database");
    let target = match pg {
        Some(url) => Target::postgres(url).await,
        None => Target::sqlite(),
    };
    match target {
        Ok(target) => {
            if let Err(e) = measure(plan, bare, ticks, backend, &target, &mut report).await {
                tracing::warn!(backend, "bench: stopped early: {e:#}");
                report.error = Some(format!("{e:#}"));
            }
            target.remove().await;
        }
        Err(e) => report.error = Some(format!("{e:#}")),
    }
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Seeds `target`, starts the server on it, and measures every figure into `report`.
async fn measure(
    plan: &Plan,
    bare: &BareServer,
    ticks: u64,
    backend: &'static str,
    target: &Target,
    report: &mut BackendReport,
) -> anyhow::Result<()> {
    let token = seed::seed(target.url()).await?;
    let scratch = Scratch::open(target).await?;
    scratch.grow(0, BASE_PRODUCTS, LOCATIONS, false).await?;
    report.version = scratch.version().await?;
    report.durability = scratch.durability().await?;
    let server = ServerChild::start(target.url()).await?;
    let setup = Setup {
        backend,
        probe: Probe {
            server_pid: server.pid,
            ticks_per_second: ticks,
            postgres: target.postgres_database().map(str::to_owned),
        },
        server,
        token,
        scratch: Arc::new(scratch),
        db_url: target.url().to_owned(),
        bare_url: bare.url(""),
        schedule: plan.schedule,
        clients: CLIENTS,
    };
    let result = figures(plan, &setup, report).await;
    report.server_peak_rss_mib = setup.server.peak_rss_mib();
    setup.server.stop().await;
    if let Ok(scratch) = Arc::try_unwrap(setup.scratch) {
        scratch.close().await;
    }
    result
}

/// Every figure, in order: movements, reads, reads at 10,000 levels, orders and their
/// checks, a hot SKU, commit → SSE, then (full runs) reads and orders at 1,000,000 levels.
async fn figures(plan: &Plan, setup: &Setup, report: &mut BackendReport) -> anyhow::Result<()> {
    let backend = setup.backend;
    for batch in [1, 100] {
        tracing::info!(backend, batch, "bench: movements");
        report.figures.push(stock::movements(setup, batch).await?);
    }
    tracing::info!(backend, levels = BASE_PRODUCTS * LOCATIONS, "bench: reads");
    report
        .figures
        .push(stock::reads(setup, "availability_reads", BASE_PRODUCTS).await?);
    grow(setup, report, BASE_PRODUCTS, PRODUCTS_10K).await?;
    tracing::info!(backend, levels = PRODUCTS_10K * LOCATIONS, "bench: reads");
    report
        .figures
        .push(stock::reads(setup, "availability_reads_10k", PRODUCTS_10K).await?);

    tracing::info!(backend, "bench: seeding the order catalog");
    let seeded = Instant::now();
    let tokens = seed::seed_orders(&setup.db_url, &setup.scratch).await?;
    let mut ceiling_skus: Vec<String> = (0..seed::ORDER_SKUS).map(seed::order_sku).collect();
    setup
        .scratch
        .stock(&ceiling_skus, seed::ORDER_STOCK)
        .await?;
    ceiling_skus.clear();
    ceiling_skus.push(seed::HOT_SKU.to_owned());
    setup.scratch.stock(&ceiling_skus, seed::HOT_STOCK).await?;
    setup.scratch.analyze().await?;
    report.notes.push(format!(
        "seeded the order catalog ({} SKUs at {}, a price list, {} customers) in {:.1} s",
        seed::ORDER_SKUS,
        seed::WAREHOUSE,
        seed::CUSTOMERS,
        seeded.elapsed().as_secs_f64()
    ));
    let mut order_figures = vec![("orders", CLIENTS)];
    if plan.quick() {
        report
            .notes
            .push("orders_c8 (8 clients) skipped: --quick measures 16 clients only".to_owned());
    } else {
        order_figures.insert(0, ("orders_c8", 8));
    }
    for (key, clients) in order_figures {
        tracing::info!(backend, clients, "bench: orders");
        report
            .figures
            .push(orders::orders(setup, &tokens, key, clients).await?);
    }
    report.checks.push(orders::check_orders(setup).await?);
    tracing::info!(backend, clients = orders::HOT_CLIENTS, "bench: hot SKU");
    let (figure, check) = orders::hot_sku(setup, &tokens).await?;
    report.figures.push(figure);
    report.checks.push(check);
    report.checks.push(orders::sell_out(setup, &tokens).await?);
    tracing::info!(
        backend,
        subscribers = sse::SUBSCRIBERS,
        "bench: commit → SSE"
    );
    let (figure, check) = sse::sse(setup).await?;
    report.figures.push(figure);
    report.checks.push(check);

    let levels = PRODUCTS_1M * LOCATIONS;
    if levels > plan.max_levels {
        report.notes.push(format!(
            "availability_reads_1m and orders_1m ({levels} levels) skipped: --quick stops at {} levels",
            plan.max_levels
        ));
        return Ok(());
    }
    grow(setup, report, PRODUCTS_10K, PRODUCTS_1M).await?;
    tracing::info!(backend, levels, "bench: reads");
    report
        .figures
        .push(stock::reads(setup, "availability_reads_1m", PRODUCTS_1M).await?);
    tracing::info!(backend, levels, "bench: orders");
    report
        .figures
        .push(orders::orders(setup, &tokens, "orders_1m", CLIENTS).await?);
    report.checks.push(orders::check_orders(setup).await?);
    Ok(())
}

/// Grows the read catalog from `from` to `to` products at every location.
async fn grow(
    setup: &Setup,
    report: &mut BackendReport,
    from: usize,
    to: usize,
) -> anyhow::Result<()> {
    let grown = Instant::now();
    setup.scratch.grow(from, to, LOCATIONS, true).await?;
    report.notes.push(format!(
        "grew to {} stock levels in {:.1} s (bulk INSERTs)",
        to * LOCATIONS,
        grown.elapsed().as_secs_f64()
    ));
    Ok(())
}
