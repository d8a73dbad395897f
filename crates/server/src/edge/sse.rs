//! A small reader of Server-Sent Events, enough for HQ's event stream: `id:`, `event:`,
//! `data:` fields, comment lines (heartbeats), events ended by a blank line, and lines
//! split anywhere across network chunks.

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `id:` field (HQ's event seq).
    pub id: Option<String>,
    /// The `event:` field (the event type).
    pub event: Option<String>,
    /// The `data:` lines, joined with newlines.
    pub data: String,
}

/// Turns chunks of bytes into events.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    current: SseEvent,
    has_data: bool,
}

impl SseParser {
    /// Feeds a chunk; returns the events it completed, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut done = Vec::new();
        for &byte in chunk {
            if byte == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if let Some(event) = self.line_done(&String::from_utf8_lossy(&line)) {
                    done.push(event);
                }
            } else {
                self.line.push(byte);
            }
        }
        done
    }

    fn line_done(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.current);
            let had = std::mem::replace(&mut self.has_data, false);
            return had.then_some(event);
        }
        if line.starts_with(':') {
            return None; // a comment: HQ's heartbeat
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => self.current.id = Some(value.to_owned()),
            "event" => self.current.event = Some(value.to_owned()),
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_are_put_back_together() {
        let text = ": heartbeat\n\nid: 7\nevent: stock.changed\ndata: {\"a\":\ndata: 1}\n\nid: 8\r\ndata: x\r\n\r\n";
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in text.as_bytes().chunks(3) {
            events.extend(parser.feed(chunk));
        }
        assert_eq!(
            events,
            [
                SseEvent {
                    id: Some("7".into()),
                    event: Some("stock.changed".into()),
                    data: "{\"a\":\n1}".into(),
                },
                SseEvent {
                    id: Some("8".into()),
                    event: None,
                    data: "x".into(),
                },
            ]
        );
    }

    #[test]
    fn a_comment_alone_is_no_event() {
        let mut parser = SseParser::default();
        assert!(parser.feed(b": keep-alive\n\n").is_empty());
    }
}
