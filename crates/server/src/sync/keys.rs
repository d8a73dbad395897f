//! Routing keys (RabbitMQ) and subjects (NATS) of events.
//!
//! Both brokers split names into dot-separated tokens and give `*`, `#` or `>` a meaning in
//! subscriptions, so every value put into a token is escaped by [`token`]: letters, digits,
//! `-` and `_` stay; `.` (allowed in SKUs and location codes) becomes `~`; any other byte
//! becomes `%XX`. No code contains `~` or `%`, so the mapping is reversible and two values
//! never share a token.

use store::Event;

/// One value as a single routing-key or subject token.
pub fn token(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => out.push(char::from(byte)),
            b'.' => out.push('~'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    if out.is_empty() {
        // Neither broker allows an empty token.
        out.push('_');
    }
    out
}

/// The tokens that follow the event's type: `<location>.<sku>` for stock, the new status for
/// orders, nothing for the rest.
fn detail(event: &Event) -> Vec<String> {
    if event.kind == "stock.changed" {
        vec![
            token(event.location.as_deref().unwrap_or("")),
            token(event.sku.as_deref().unwrap_or("")),
        ]
    } else if event.kind.starts_with("order.") {
        vec![token(event.data["status"].as_str().unwrap_or("unknown"))]
    } else {
        Vec::new()
    }
}

/// The RabbitMQ routing key: `stock.<location>.<sku>` for `stock.changed`,
/// `order.<status>` for order events (the status after the change), and the event's type
/// (`product.created`, …) for the others.
pub fn routing_key(event: &Event) -> String {
    if event.kind == "stock.changed" {
        std::iter::once("stock".to_owned())
            .chain(detail(event))
            .collect::<Vec<_>>()
            .join(".")
    } else if event.kind.starts_with("order.") {
        std::iter::once("order".to_owned())
            .chain(detail(event))
            .collect::<Vec<_>>()
            .join(".")
    } else {
        event.kind.clone()
    }
}

/// The NATS subject: `<prefix>.<type>` followed by `.<location>.<sku>` for `stock.changed`
/// and `.<status>` for order events, e.g. `stockbook.stock.changed.WH-SH.TEA-1`.
pub fn subject(prefix: &str, event: &Event) -> String {
    let mut parts = vec![prefix.to_owned(), event.kind.clone()];
    parts.extend(detail(event));
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(
        kind: &str,
        location: Option<&str>,
        sku: Option<&str>,
        data: serde_json::Value,
    ) -> Event {
        Event {
            seq: 1,
            id: "e1".into(),
            kind: kind.into(),
            aggregate: "x".into(),
            location: location.map(Into::into),
            sku: sku.map(Into::into),
            customer: None,
            occurred_at: chrono::Utc::now(),
            data,
        }
    }

    #[test]
    fn tokens_escape_separators_and_wildcards_reversibly() {
        for (value, want) in [
            ("WH-SH", "WH-SH"),
            ("TEA.250", "TEA~250"),
            ("a b*>#", "a%20b%2A%3E%23"),
            ("茶", "%E8%8C%B6"),
            ("", "_"),
        ] {
            assert_eq!(token(value), want, "{value}");
        }
    }

    #[test]
    fn keys_and_subjects_follow_the_event_type() {
        let stock = event(
            "stock.changed",
            Some("WH"),
            Some("TEA.1"),
            serde_json::Value::Null,
        );
        assert_eq!(routing_key(&stock), "stock.WH.TEA~1");
        assert_eq!(
            subject("stockbook", &stock),
            "stockbook.stock.changed.WH.TEA~1"
        );
        let order = event(
            "order.status_changed",
            Some("WH"),
            None,
            serde_json::json!({"status": "shipped"}),
        );
        assert_eq!(routing_key(&order), "order.shipped");
        assert_eq!(subject("sb", &order), "sb.order.status_changed.shipped");
        let product = event("product.created", None, Some("A"), serde_json::Value::Null);
        assert_eq!(routing_key(&product), "product.created");
        assert_eq!(subject("sb", &product), "sb.product.created");
    }
}
