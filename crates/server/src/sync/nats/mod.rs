//! A minimal NATS client: exactly what the relay and its tests need, over plain TCP.
//!
//! It speaks the text protocol (CONNECT, PUB/HPUB, SUB/UNSUB, MSG/HMSG, PING/PONG) with
//! headers on, and offers requests over one wildcard inbox subscription, so many requests
//! (JetStream publishes waiting for their PubAck) can be in flight at once. One task writes
//! (coalescing small writes), one reads and routes messages. When the connection ends every
//! waiting request fails and [`Client::closed`] says why; callers reconnect with a new
//! client. No TLS, no reconnection, no clustering: see docs/decisions/0007-broker-relay.md
//! for why this is ours rather than `async-nats`.

mod proto;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use proto::{Address, ServerOp, encode_pub, err, parse, parse_url};
pub use proto::{Message, NatsError};

/// How long connecting (TCP, INFO, CONNECT, PONG) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Shared {
    subs: Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>,
    replies: Mutex<HashMap<String, oneshot::Sender<Message>>>,
    closed: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Marks the connection closed and fails everything waiting on it.
    fn close(&self, why: String) {
        lock(&self.closed).get_or_insert(why);
        lock(&self.subs).clear();
        lock(&self.replies).clear();
    }
}

/// A connection to one NATS server.
pub struct Client {
    out: mpsc::UnboundedSender<Vec<u8>>,
    shared: Arc<Shared>,
    inbox: String,
    next: AtomicU64,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Client {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The sid of the wildcard inbox subscription that carries every reply.
const INBOX_SID: u64 = 1;

impl Client {
    /// Connects, logs in (user/password or token from the URL) and checks the server
    /// answers a PING.
    pub async fn connect(url: &str) -> Result<Self, NatsError> {
        let address = parse_url(url)?;
        tokio::time::timeout(CONNECT_TIMEOUT, Self::handshake(address))
            .await
            .map_err(|_| err("connecting to NATS timed out"))?
    }

    async fn handshake(address: Address) -> Result<Self, NatsError> {
        let mut stream = TcpStream::connect(&address.host_port)
            .await
            .map_err(|e| err(format!("connecting to NATS at {}: {e}", address.host_port)))?;
        let _ = stream.set_nodelay(true);
        let mut buf = Vec::new();
        let info = match read_op(&mut stream, &mut buf).await? {
            ServerOp::Info(info) => info,
            other => return Err(err(format!("expected INFO from NATS, got {other:?}"))),
        };
        let info: serde_json::Value = serde_json::from_str(&info).unwrap_or_default();
        if info["tls_required"].as_bool() == Some(true) {
            return Err(err("the NATS server requires TLS, which is not supported"));
        }
        if info["headers"].as_bool() == Some(false) {
            return Err(err(
                "the NATS server does not support headers (needs 2.2 or later)",
            ));
        }
        let mut connect = serde_json::json!({
            "verbose": false, "pedantic": false, "lang": "rust", "name": "stockbook",
            "version": env!("CARGO_PKG_VERSION"), "protocol": 1, "headers": true, "no_responders": true,
        });
        match (&address.user, &address.pass) {
            (Some(user), Some(pass)) => {
                connect["user"] = user.as_str().into();
                connect["pass"] = pass.as_str().into();
            }
            (Some(token), None) => connect["auth_token"] = token.as_str().into(),
            _ => {}
        }
        let mut random = [0u8; 12];
        getrandom::fill(&mut random).map_err(|e| err(format!("no randomness: {e}")))?;
        let inbox = format!(
            "_INBOX.{}",
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let hello = format!("CONNECT {connect}\r\nSUB {inbox}.* {INBOX_SID}\r\nPING\r\n");
        stream
            .write_all(hello.as_bytes())
            .await
            .map_err(|e| err(format!("writing to NATS: {e}")))?;
        loop {
            match read_op(&mut stream, &mut buf).await? {
                ServerOp::Pong => break,
                ServerOp::Err(e) => return Err(err(format!("NATS refused the connection: {e}"))),
                _ => {}
            }
        }
        let (reader, writer) = stream.into_split();
        let (out, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let tasks = vec![
            tokio::spawn(write_loop(writer, rx, shared.clone())),
            tokio::spawn(read_loop(reader, buf, out.clone(), shared.clone())),
        ];
        Ok(Self {
            out,
            shared,
            inbox,
            next: AtomicU64::new(INBOX_SID + 1),
            tasks,
        })
    }

    /// Why the connection ended, once it has.
    pub fn closed(&self) -> Option<String> {
        lock(&self.shared.closed).clone()
    }

    fn send(&self, bytes: Vec<u8>) -> Result<(), NatsError> {
        if let Some(why) = self.closed() {
            return Err(err(format!("the NATS connection is closed: {why}")));
        }
        self.out
            .send(bytes)
            .map_err(|_| err("the NATS connection is closed"))
    }

    /// Publishes without waiting for anything.
    pub fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) -> Result<(), NatsError> {
        self.send(encode_pub(subject, reply, headers, payload))
    }

    /// Publishes with a reply subject of this client's inbox; the receiver gets the one
    /// reply, or fails when the connection ends first.
    pub fn request(
        &self,
        subject: &str,
        headers: &[(&str, &str)],
        payload: &[u8],
    ) -> Result<oneshot::Receiver<Message>, NatsError> {
        let token = self.next.fetch_add(1, Ordering::Relaxed).to_string();
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.replies).insert(token.clone(), tx);
        let reply = format!("{}.{token}", self.inbox);
        if let Err(e) = self.publish(subject, Some(&reply), headers, payload) {
            lock(&self.shared.replies).remove(&token);
            return Err(e);
        }
        Ok(rx)
    }

    /// A request and its reply, within `timeout`.
    pub async fn request_wait(
        &self,
        subject: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Message, NatsError> {
        let reply = self.request(subject, &[], payload)?;
        match tokio::time::timeout(timeout, reply).await {
            Ok(Ok(message)) => Ok(message),
            Ok(Err(_)) => Err(err(format!(
                "the NATS connection closed before {subject} answered: {}",
                self.closed().unwrap_or_default()
            ))),
            Err(_) => Err(err(format!("no answer to {subject} within {timeout:?}"))),
        }
    }

    /// Subscribes to `subject`; messages arrive on the receiver until [`Self::unsubscribe`]
    /// or the connection ends.
    pub fn subscribe(
        &self,
        subject: &str,
    ) -> Result<(u64, mpsc::UnboundedReceiver<Message>), NatsError> {
        let sid = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.shared.subs).insert(sid, tx);
        self.send(format!("SUB {subject} {sid}\r\n").into_bytes())?;
        Ok((sid, rx))
    }

    /// Ends a subscription.
    pub fn unsubscribe(&self, sid: u64) -> Result<(), NatsError> {
        lock(&self.shared.subs).remove(&sid);
        self.send(format!("UNSUB {sid}\r\n").into_bytes())
    }

    /// A fresh subject under this client's inbox, for a subscription of replies.
    pub fn new_inbox(&self) -> String {
        format!(
            "{}x.{}",
            self.inbox,
            self.next.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// Reads one operation during the handshake (before the reader task exists).
async fn read_op(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<ServerOp, NatsError> {
    loop {
        if let Some((op, used)) = parse(buf)? {
            buf.drain(..used);
            return Ok(op);
        }
        let mut chunk = [0u8; 4096];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| err(format!("reading from NATS: {e}")))?;
        if n == 0 {
            return Err(err("NATS closed the connection"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn write_loop(
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: Arc<Shared>,
) {
    while let Some(mut bytes) = rx.recv().await {
        // Coalesce what is queued into one write.
        while bytes.len() < 256 * 1024 {
            match rx.try_recv() {
                Ok(more) => bytes.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if let Err(e) = writer.write_all(&bytes).await {
            shared.close(format!("writing to NATS: {e}"));
            return;
        }
    }
}

async fn read_loop(
    mut reader: tokio::net::tcp::OwnedReadHalf,
    mut buf: Vec<u8>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    shared: Arc<Shared>,
) {
    let mut chunk = vec![0u8; 64 * 1024];
    let why = loop {
        loop {
            match parse(&buf) {
                Ok(Some((op, used))) => {
                    buf.drain(..used);
                    dispatch(op, &out, &shared);
                }
                Ok(None) => break,
                Err(e) => {
                    shared.close(e.0);
                    return;
                }
            }
        }
        match reader.read(&mut chunk).await {
            Ok(0) => break "NATS closed the connection".to_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => break format!("reading from NATS: {e}"),
        }
    };
    shared.close(why);
}

fn dispatch(op: ServerOp, out: &mpsc::UnboundedSender<Vec<u8>>, shared: &Shared) {
    match op {
        ServerOp::Ping => {
            let _ = out.send(b"PONG\r\n".to_vec());
        }
        ServerOp::Msg(INBOX_SID, message) => {
            let token = message.subject.rsplit('.').next().unwrap_or_default();
            if let Some(waiter) = lock(&shared.replies).remove(token) {
                let _ = waiter.send(message);
            }
        }
        ServerOp::Msg(sid, message) => {
            if let Some(sub) = lock(&shared.subs).get(&sid) {
                let _ = sub.send(message);
            }
        }
        ServerOp::Err(e) => {
            // Most -ERR close the connection; the read loop then sees it end.
            tracing::warn!(error = %e, "NATS reported an error");
            if !e.to_ascii_lowercase().starts_with("permissions violation") {
                lock(&shared.closed).get_or_insert(e);
            }
        }
        ServerOp::Info(_) | ServerOp::Pong | ServerOp::Ok => {}
    }
}
