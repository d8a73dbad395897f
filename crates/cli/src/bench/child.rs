//! The server under test: this same binary, started as `stockbook serve` on a free port of
//! 127.0.0.1, in its own process so its CPU and memory can be told apart from the load
//! generator's. It logs as an operator would run it (`info`, one line per request); its
//! stderr is drained all along so a full pipe never stalls it.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::sysinfo::peak_rss_kib;

/// How long the server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `stockbook serve`; killed when dropped.
pub struct ServerChild {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its pid, for `/proc` accounting.
    pub pid: u32,
}

impl ServerChild {
    /// Starts the server on `db_url` and waits for the log line that names its address.
    pub async fn start(db_url: &str) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding the stockbook binary")?;
        let mut child = Command::new(exe)
            // No per-token rate limit: the bench measures what the server can do, not the
            // limit an operator sets (by default 1,000/s a token, which 16 clients sharing
            // the bench's admin token reach at once).
            .args([
                "--db",
                db_url,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--rate-limit",
                "0",
            ])
            .env("STOCKBOOK_LOG", "info,sqlx=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the server")?;
        let pid = child.id().context("the server exited at once")?;
        let stderr = child.stderr.take().context("the server's stderr")?;
        let mut lines = BufReader::new(stderr);
        let addr = tokio::time::timeout(START_TIMEOUT, read_addr(&mut lines))
            .await
            .context("the server did not start listening in time")??;
        tokio::spawn(async move {
            // Discarding, not parsing: the drain must cost the load generator little.
            let _ = tokio::io::copy(&mut lines, &mut tokio::io::sink()).await;
        });
        Ok(Self { child, addr, pid })
    }

    /// `http://addr` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The server's peak resident memory so far, in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        peak_rss_kib(self.pid).map(|kib| kib as f64 / 1024.0)
    }

    /// Kills the server and waits for it (a benchmark needs no graceful shutdown).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Reads log lines until the one with `addr=`; the last lines explain an early exit.
async fn read_addr(
    lines: &mut BufReader<tokio::process::ChildStderr>,
) -> anyhow::Result<SocketAddr> {
    let mut seen: Vec<String> = Vec::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await? == 0 {
            anyhow::bail!("the server exited before listening: {}", seen.join(" | "));
        }
        if let Some(rest) = line.split("addr=").nth(1) {
            let addr = rest.split_whitespace().next().unwrap_or_default();
            return addr
                .parse()
                .with_context(|| format!("reading the server's address from {line:?}"));
        }
        seen.push(line.trim().to_owned());
        if seen.len() > 10 {
            seen.remove(0);
        }
    }
}
