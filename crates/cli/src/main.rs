//! `stockbook`: the one binary. Each subcommand opens the database named by `--db`
//! (or `STOCKBOOK_DB`; default: SQLite under `./stockbook-data`) and does one job.
//!
//! Output contract: a command's result goes to stdout (a token alone on its line, a JSON or
//! text report); logs and errors go to stderr. Exit codes: 0 success, 1 the check failed
//! (`verify` found violations, `import` found bad rows), 2 the command could not run.

mod bench;
mod codes;
mod edge;
mod import;
mod ops;
mod serve;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use store::Store;

/// The database used when none is named: an embedded SQLite file.
pub const DEFAULT_DB: &str = "sqlite://stockbook-data/stockbook.db";

#[derive(Parser)]
#[command(
    name = "stockbook",
    version,
    about = "B2B ordering and store inventory, accurate everywhere"
)]
struct Cli {
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [default:
    /// sqlite://stockbook-data/stockbook.db; for `edge`: sqlite://stockbook-edge/edge.db].
    #[arg(long, global = true, env = "STOCKBOOK_DB")]
    db: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure Stockbook against its ceilings on fresh databases of its own (ignores --db).
    Bench(bench::BenchArgs),
    /// Decode GS1 barcodes (no database needed).
    Gs1 {
        #[command(subcommand)]
        command: Gs1Command,
    },
    /// Decode and encode RFID EPCs (no database needed).
    Epc {
        #[command(subcommand)]
        command: EpcCommand,
    },
    #[command(flatten)]
    Db(DbCommand),
}

#[derive(Subcommand)]
enum Gs1Command {
    /// Decode a scanned code (GTIN, element string with or without symbology identifier,
    /// in-store variable-measure EAN-13) and print it as JSON; exit 1 when invalid.
    Parse {
        /// The code as the scanner sent it (GS as the 0x1D character) or in brackets.
        code: String,
    },
}

#[derive(Subcommand)]
enum EpcCommand {
    /// Decode an EPC (hex, tag URI or pure-identity URI) and print it as JSON; exit 1 when invalid.
    Decode {
        /// Hex, `urn:epc:tag:…` or `urn:epc:id:…`.
        input: String,
    },
    /// Encode an EPC tag URI (`urn:epc:tag:…`) and print its hex.
    Encode {
        /// The tag URI.
        uri: String,
    },
}

/// The commands that work on the database named by `--db`.
#[derive(Subcommand)]
enum DbCommand {
    /// Run the HTTP API.
    Serve(Box<serve::ServeArgs>),
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage users who log in with a password.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Recompute every level from the ledger and check every invariant.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a consistent snapshot to FILE, while the server keeps running.
    Backup {
        /// Where to write the backup.
        #[arg(long)]
        out: PathBuf,
    },
    /// Load a backup into an empty database (of either backend), then verify it.
    Restore {
        /// The backup to load.
        #[arg(long)]
        from: PathBuf,
    },
    /// Run a store's edge node: the HTTP API on a local database, synced with HQ.
    Edge(EdgeArgs),
    /// Import a CSV file, all rows or none.
    Import {
        /// What the file holds.
        what: ImportKind,
        /// The CSV file, with a header row.
        file: PathBuf,
    },
}

impl GrantArgs {
    /// The grant, checked against its role.
    fn grant(self) -> anyhow::Result<domain::auth::Grant> {
        let role = self.role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
        let mut locations = Vec::new();
        for l in &self.locations {
            locations.push(
                domain::ids::LocationCode::parse("--location", l)
                    .map_err(|e| anyhow::anyhow!("{}", e.message))?,
            );
        }
        domain::auth::Grant {
            role,
            customer: self.customer,
            locations,
            scopes: self.scopes,
        }
        .validate()
        .map_err(|errors| {
            let text: Vec<String> = errors
                .iter()
                .map(|e| format!("--{}: {}", e.field, e.message))
                .collect();
            anyhow::anyhow!(text.join("; "))
        })
    }
}

/// A role and what it is bound to, as `token issue` and `user add` take them.
#[derive(clap::Args)]
struct GrantArgs {
    /// admin, manager, staff, clerk, customer, integration or device.
    #[arg(long)]
    role: String,
    /// The customer a `customer` acts for.
    #[arg(long)]
    customer: Option<String>,
    /// A location a `staff`, `clerk` or `device` is bound to (repeat for several).
    #[arg(long = "location")]
    locations: Vec<String>,
    /// A scope of an `integration` token, e.g. stock:write (repeat for several).
    #[arg(long = "scope")]
    scopes: Vec<String>,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from the first line of stdin.
    Add {
        /// Login name.
        #[arg(long)]
        username: String,
        #[command(flatten)]
        grant: GrantArgs,
    },
    /// List users: username, role, bindings, disabled.
    List,
    /// Disable a user and revoke its tokens.
    Disable {
        /// Login name.
        username: String,
    },
}

/// `stockbook edge --hq URL --token T --location STORE`, or `stockbook edge status`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct EdgeArgs {
    #[command(subcommand)]
    command: Option<EdgeCommand>,
    /// HQ's base URL, e.g. http://hq.example:8080.
    #[arg(long, env = "STOCKBOOK_EDGE_HQ", required = true)]
    hq: Option<String>,
    /// The token this node presents to HQ (issued at HQ).
    #[arg(
        long,
        env = "STOCKBOOK_EDGE_TOKEN",
        hide_env_values = true,
        required = true
    )]
    token: Option<String>,
    /// The store this node serves (a location code at HQ).
    #[arg(long, env = "STOCKBOOK_EDGE_LOCATION", required = true)]
    location: Option<String>,
    /// Address the store's terminals reach this node at.
    #[arg(long, env = "STOCKBOOK_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Movements pushed to HQ per request (1 to 1000).
    #[arg(long, default_value_t = server::edge::DEFAULT_BATCH)]
    batch: usize,
    /// Follow HQ by polling its event pages instead of its live stream.
    #[arg(long)]
    poll: bool,
}

#[derive(Subcommand)]
enum EdgeCommand {
    /// Print the node's sync state (pending movements, last sync, lag) as JSON.
    Status,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Issue a new token and print it (alone) on stdout; only its hash is stored.
    Issue {
        /// A label to recognise it by.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        grant: GrantArgs,
        /// Days until it expires (default: never).
        #[arg(long)]
        expires_days: Option<i64>,
    },
    /// List tokens (never their secrets): id, name, role, issued, revoked.
    List,
    /// Revoke a token by id; nodes stop accepting it within 10 seconds.
    Revoke {
        /// The token's id, from `token list`.
        id: i64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ImportKind {
    /// Products: sku,name,unit,price[,currency][,gtins][,active]; creates or overwrites.
    Products,
    /// Stock counts: location,sku,qty; sets on_hand to qty through count movements.
    Stock,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STOCKBOOK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A log write that fails (a closed pipe, a restarted collector) must not take the
        // server down; reporting it with eprintln! would panic on the same closed stderr.
        .log_internal_errors(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = match cli.command {
        // The bench makes and removes its own databases; it must not create the default one.
        Command::Bench(args) => return bench::run(args).await,
        Command::Gs1 {
            command: Gs1Command::Parse { code },
        } => return codes::gs1_parse(&code),
        Command::Epc {
            command: EpcCommand::Decode { input },
        } => return codes::epc_decode(&input),
        Command::Epc {
            command: EpcCommand::Encode { uri },
        } => return codes::epc_encode(&uri),
        Command::Db(command) => command,
    };
    let default_db = match command {
        DbCommand::Edge(_) => edge::DEFAULT_EDGE_DB,
        _ => DEFAULT_DB,
    };
    let store = open(cli.db.as_deref().unwrap_or(default_db)).await?;
    let db = cli.db.as_deref().unwrap_or(default_db);
    match command {
        DbCommand::Serve(args) => serve::run(store, db, *args).await,
        DbCommand::Edge(EdgeArgs {
            command: Some(EdgeCommand::Status),
            ..
        }) => edge::status(store.as_ref()).await,
        DbCommand::Edge(EdgeArgs {
            command: None,
            hq,
            token,
            location,
            listen,
            batch,
            poll,
        }) => {
            let required = |v: Option<String>, name: &str| {
                v.ok_or_else(|| anyhow::anyhow!("--{name} is required"))
            };
            let args = edge::EdgeRun {
                hq: required(hq, "hq")?,
                token: required(token, "token")?,
                location: required(location, "location")?,
                listen,
                batch,
                poll,
            };
            edge::run(store, args).await
        }
        DbCommand::Migrate => {
            say(format_args!("database {} is up to date", store.backend()))?;
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Token {
            command:
                TokenCommand::Issue {
                    name,
                    grant,
                    expires_days,
                },
        } => ops::issue_token(store.as_ref(), &name, grant.grant()?, expires_days).await,
        DbCommand::User {
            command: UserCommand::Add { username, grant },
        } => ops::add_user(store.as_ref(), &username, grant.grant()?).await,
        DbCommand::User {
            command: UserCommand::List,
        } => ops::list_users(store.as_ref()).await,
        DbCommand::User {
            command: UserCommand::Disable { username },
        } => ops::disable_user(store.as_ref(), &username).await,
        DbCommand::Token {
            command: TokenCommand::List,
        } => ops::list_tokens(store.as_ref()).await,
        DbCommand::Token {
            command: TokenCommand::Revoke { id },
        } => ops::revoke_token(store.as_ref(), id).await,
        DbCommand::Verify { json } => ops::verify(store.as_ref(), json).await,
        DbCommand::Backup { out } => ops::backup(store.as_ref(), &out).await,
        DbCommand::Restore { from } => ops::restore(store.as_ref(), &from).await,
        DbCommand::Import {
            what: ImportKind::Products,
            file,
        } => import::products(store.as_ref(), &file).await,
        DbCommand::Import {
            what: ImportKind::Stock,
            file,
        } => import::stock(store.as_ref(), &file).await,
    }
}

/// Writes a line of a command's result to stdout; a closed stdout is an error, not a panic.
pub(crate) fn say(line: std::fmt::Arguments<'_>) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

/// Creates (or truncates) a file only its owner can read: tokens, backups.
pub(crate) fn create_private(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Opens (and migrates) the database, creating the directory of a SQLite file.
async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(dir) = sqlite_dir(url) {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    store_sql::connect(url)
        .await
        .with_context(|| format!("opening the database {}", redact(url)))
}

/// The directory holding a SQLite database file, if `url` names one.
fn sqlite_dir(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() || path.starts_with(":memory:") {
        return None;
    }
    let parent = std::path::Path::new(path).parent()?;
    Some(if parent.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        parent.to_path_buf()
    })
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/sb"),
            "postgres://app@db:5432/sb"
        );
        assert_eq!(
            redact("sqlite://stockbook-data/x.db"),
            "sqlite://stockbook-data/x.db"
        );
    }

    #[test]
    fn the_directory_of_a_sqlite_file_is_found() {
        assert_eq!(
            sqlite_dir(DEFAULT_DB),
            Some(PathBuf::from("stockbook-data"))
        );
        assert_eq!(sqlite_dir("sqlite://x.db"), Some(PathBuf::from(".")));
        assert_eq!(sqlite_dir("sqlite::memory:"), None);
        assert_eq!(sqlite_dir("postgres://h/db"), None);
    }
}
