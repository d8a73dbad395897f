//! The NATS text protocol, without I/O: parsing what the server sends (INFO, MSG, HMSG
//! with headers and status, PING, PONG, +OK, -ERR), encoding PUB/HPUB, and reading a
//! `nats://` URL. Kept apart from the client so it can be tested byte for byte.

use std::fmt;

/// Longest control line accepted from the server (INFO lines can be long).
const MAX_LINE: usize = 64 * 1024;

/// Why a NATS operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsError(pub String);

impl fmt::Display for NatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NatsError {}

pub(crate) fn err(message: impl Into<String>) -> NatsError {
    NatsError(message.into())
}

/// A message delivered to a subscription or as a reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The subject it was published to.
    pub subject: String,
    /// Where to reply (JetStream puts its ack subject here).
    pub reply: Option<String>,
    /// The status code of a status message (`503` no responders, `404`/`408` from a pull).
    pub status: Option<u16>,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub payload: Vec<u8>,
}

impl Message {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ServerOp {
    Info(String),
    Msg(u64, Message),
    Ping,
    Pong,
    Ok,
    Err(String),
}

/// Parses one operation from the front of `buf`: `Ok(None)` when more bytes are needed,
/// else the operation and how many bytes it used.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(ServerOp, usize)>, NatsError> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() > MAX_LINE {
            Err(err("a protocol line from the server is too long"))
        } else {
            Ok(None)
        };
    };
    let line = std::str::from_utf8(&buf[..end]).map_err(|_| err("a protocol line is not UTF-8"))?;
    let (op, rest) = line.split_once([' ', '\t']).unwrap_or((line, ""));
    let after_line = end + 2;
    let op = op.to_ascii_uppercase();
    let simple = |op| Ok(Some((op, after_line)));
    match op.as_str() {
        "PING" => simple(ServerOp::Ping),
        "PONG" => simple(ServerOp::Pong),
        "+OK" => simple(ServerOp::Ok),
        "-ERR" => simple(ServerOp::Err(rest.trim().trim_matches('\'').to_owned())),
        "INFO" => simple(ServerOp::Info(rest.trim().to_owned())),
        "MSG" | "HMSG" => {
            let args: Vec<&str> = rest.split_ascii_whitespace().collect();
            let headed = op == "HMSG";
            let sizes = if headed { 2 } else { 1 };
            if args.len() < 2 + sizes || args.len() > 3 + sizes {
                return Err(err(format!("malformed {op} line: {line}")));
            }
            let number = |s: &str| {
                s.parse::<usize>()
                    .map_err(|_| err(format!("malformed {op} line: {line}")))
            };
            let total = number(args[args.len() - 1])?;
            let header_len = if headed {
                number(args[args.len() - 2])?
            } else {
                0
            };
            if header_len > total {
                return Err(err(format!("malformed {op} line: {line}")));
            }
            let used = after_line + total + 2;
            if buf.len() < used {
                return Ok(None);
            }
            let sid = args[1]
                .parse::<u64>()
                .map_err(|_| err(format!("malformed {op} line: {line}")))?;
            let body = &buf[after_line..after_line + total];
            let (status, headers) = if headed {
                parse_headers(&body[..header_len])?
            } else {
                (None, Vec::new())
            };
            let message = Message {
                subject: args[0].to_owned(),
                reply: (args.len() == 3 + sizes).then(|| args[2].to_owned()),
                status,
                headers,
                payload: body[header_len..].to_vec(),
            };
            Ok(Some((ServerOp::Msg(sid, message), used)))
        }
        _ => Err(err(format!("unknown protocol operation: {op}"))),
    }
}

/// A status code (if any) and the headers, in order.
type HeaderBlock = (Option<u16>, Vec<(String, String)>);

/// Parses a header block: `NATS/1.0[ status[ description]]` then `Name: value` lines.
fn parse_headers(block: &[u8]) -> Result<HeaderBlock, NatsError> {
    let text = std::str::from_utf8(block).map_err(|_| err("headers are not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let version = first
        .strip_prefix("NATS/1.0")
        .ok_or_else(|| err(format!("bad header block: {first}")))?;
    let status = version
        .split_ascii_whitespace()
        .next()
        .and_then(|s| s.parse::<u16>().ok());
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Ok((status, headers))
}

/// Encodes a publish: `PUB` without headers, `HPUB` with.
pub(crate) fn encode_pub(
    subject: &str,
    reply: Option<&str>,
    headers: &[(&str, &str)],
    payload: &[u8],
) -> Vec<u8> {
    let reply = reply.map(|r| format!(" {r}")).unwrap_or_default();
    let mut out;
    if headers.is_empty() {
        out = format!("PUB {subject}{reply} {}\r\n", payload.len()).into_bytes();
    } else {
        let mut block = String::from("NATS/1.0\r\n");
        for (k, v) in headers {
            block.push_str(&format!("{k}: {v}\r\n"));
        }
        block.push_str("\r\n");
        out = format!(
            "HPUB {subject}{reply} {} {}\r\n",
            block.len(),
            block.len() + payload.len()
        )
        .into_bytes();
        out.extend_from_slice(block.as_bytes());
    }
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
    out
}

/// Where a server is and how to log in, from `nats://[user:pass@|token@]host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Address {
    pub host_port: String,
    pub user: Option<String>,
    pub pass: Option<String>,
}

pub(crate) fn parse_url(url: &str) -> Result<Address, NatsError> {
    let rest = url.strip_prefix("nats://").unwrap_or(url);
    if url.contains("://") && !url.starts_with("nats://") {
        return Err(err("a NATS URL starts with nats:// (TLS is not supported)"));
    }
    let rest = rest.trim_end_matches('/');
    let (auth, host) = match rest.rsplit_once('@') {
        Some((auth, host)) => (Some(auth), host),
        None => (None, rest),
    };
    if host.is_empty() {
        return Err(err("the NATS URL names no host"));
    }
    let host_port = if host
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        host.to_owned()
    } else {
        format!("{host}:4222")
    };
    let (user, pass) = match auth.map(|a| a.split_once(':')) {
        Some(Some((u, p))) => (Some(u.to_owned()), Some(p.to_owned())),
        Some(None) => (auth.map(str::to_owned), None),
        None => (None, None),
    };
    Ok(Address {
        host_port,
        user,
        pass,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_lines_and_messages_parse_and_wait_for_their_bytes() {
        assert_eq!(parse(b"PING\r\n").unwrap(), Some((ServerOp::Ping, 6)));
        assert_eq!(parse(b"PIN").unwrap(), None);
        assert_eq!(
            parse(b"-ERR 'Authorization Violation'\r\n").unwrap(),
            Some((ServerOp::Err("Authorization Violation".into()), 32))
        );
        let msg = b"MSG a.b 7 _INBOX.x.3 5\r\nhello\r\nPONG\r\n";
        let (op, used) = parse(msg).unwrap().unwrap();
        assert_eq!(used, msg.len() - 6);
        assert_eq!(
            op,
            ServerOp::Msg(
                7,
                Message {
                    subject: "a.b".into(),
                    reply: Some("_INBOX.x.3".into()),
                    payload: b"hello".to_vec(),
                    ..Default::default()
                }
            )
        );
        assert_eq!(parse(&msg[..20]).unwrap(), None, "a partial payload waits");
    }

    #[test]
    fn header_messages_carry_status_and_headers() {
        let block = "NATS/1.0 404 No Messages\r\nNats-Msg-Id: e1\r\n\r\n";
        let frame = format!(
            "HMSG s 2 {} {}\r\n{block}ab\r\n",
            block.len(),
            block.len() + 2
        );
        let Some((ServerOp::Msg(2, m), used)) = parse(frame.as_bytes()).unwrap() else {
            panic!("not a message")
        };
        assert_eq!(used, frame.len());
        assert_eq!(
            (m.status, m.header("nats-msg-id"), m.payload.as_slice()),
            (Some(404), Some("e1"), &b"ab"[..])
        );
        assert!(
            parse(b"HMSG s 2 9 3\r\nxxxxxxxxxxxx\r\n").is_err(),
            "headers longer than the whole"
        );
        assert!(parse(b"BOGUS\r\n").is_err());
    }

    #[test]
    fn publishes_encode_with_and_without_headers() {
        assert_eq!(encode_pub("s", None, &[], b"hi"), b"PUB s 2\r\nhi\r\n");
        let hpub =
            String::from_utf8(encode_pub("s", Some("r"), &[("Nats-Msg-Id", "e1")], b"hi")).unwrap();
        assert_eq!(
            hpub,
            "HPUB s r 29 31\r\nNATS/1.0\r\nNats-Msg-Id: e1\r\n\r\nhi\r\n"
        );
        // What we encode, the parser reads back (the server echoes the same framing).
        let echoed = hpub.replacen("HPUB s r", "HMSG s 9 r", 1);
        let Some((ServerOp::Msg(9, m), _)) = parse(echoed.as_bytes()).unwrap() else {
            panic!("not a message")
        };
        assert_eq!(
            (m.header("Nats-Msg-Id"), m.payload.as_slice()),
            (Some("e1"), &b"hi"[..])
        );
    }

    #[test]
    fn urls_name_host_port_and_credentials() {
        let a = parse_url("nats://127.0.0.1:4222").unwrap();
        assert_eq!((a.host_port.as_str(), a.user), ("127.0.0.1:4222", None));
        let a = parse_url("nats://u:p@nats.local").unwrap();
        assert_eq!(
            (a.host_port.as_str(), a.user.as_deref(), a.pass.as_deref()),
            ("nats.local:4222", Some("u"), Some("p"))
        );
        let a = parse_url("nats://s3cret@h:1").unwrap();
        assert_eq!((a.user.as_deref(), a.pass), (Some("s3cret"), None));
        assert!(parse_url("tls://h:1").is_err());
        assert!(parse_url("nats://").is_err());
    }
}
