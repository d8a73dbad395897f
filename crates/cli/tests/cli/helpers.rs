//! Running `stockbook` commands and servers.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_stockbook");

/// Runs `stockbook ARGS --db URL` to completion.
pub fn run(db: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--db", db])
        .env("STOCKBOOK_LOG", "warn")
        .output()
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Issues an admin token through the CLI, checking it is printed alone.
pub fn issue_token(db: &str) -> String {
    let out = run(db, &["token", "issue", "--role", "admin", "--name", "test"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "the token alone on stdout: {text:?}");
    assert!(lines[0].starts_with("sb_"));
    lines[0].to_owned()
}

/// A `stockbook serve` process on a free port.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Server {
    pub fn start(db: &str) -> Self {
        Self::start_at(db, "127.0.0.1:0")
    }

    /// A server with extra `serve` arguments.
    pub fn start_with(db: &str, extra: &[&str]) -> Self {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--db", db];
        args.extend_from_slice(extra);
        Self::spawn(&args, &[])
    }

    /// `stockbook serve` on a given address (to restart a server where its clients look).
    pub fn start_at(db: &str, listen: &str) -> Self {
        Self::spawn(&["serve", "--listen", listen, "--db", db], &[])
    }

    /// Any long-running `stockbook` command that logs `addr=` once it listens.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .envs(envs.iter().copied())
            .env("STOCKBOOK_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Reads the bound address from the log, then keeps draining so the server never blocks.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("addr=").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server started")
            .parse()
            .unwrap();
        Self { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits for the process to end by itself; its exit code, or `None` at the deadline.
    pub fn exited_within(&mut self, limit: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that speaks to a server with a token.
pub struct Client {
    pub http: reqwest::Client,
    pub token: String,
}

impl Client {
    pub fn new(token: String) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            token,
        }
    }

    pub async fn post(
        &self,
        url: String,
        body: &serde_json::Value,
    ) -> reqwest::Result<(u16, serde_json::Value)> {
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await?))
    }

    pub async fn get(&self, url: String) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}
