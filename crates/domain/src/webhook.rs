//! Webhook subscriptions as clients submit them: where to send events and which ones.
//!
//! A subscription names an `http`/`https` URL and the event types it wants, exactly
//! (`order.created`) or by family (`order.*`); no types means every event. Types are
//! checked for their shape, not against a fixed list, so a subscription can name a type
//! that a later version starts to emit. The signing secret is made by the server, never
//! submitted.

use serde::Deserialize;

use crate::validation::{self, Errors, FieldError, Validated};

/// Longest accepted URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// Most event types one subscription may name.
pub const MAX_EVENT_TYPES: usize = 64;
/// Longest event type pattern.
const MAX_TYPE_LEN: usize = 64;

/// A new subscription as submitted.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// Where events are POSTed.
    pub url: String,
    /// Which events; absent or empty means all.
    pub event_types: Option<Vec<String>>,
    /// A note for people.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Text<500>>")
    )]
    pub description: Option<String>,
}

/// A validated new subscription (the secret is added by whoever creates it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookSpec {
    /// Normalised URL.
    pub url: String,
    /// Event type patterns, without duplicates; empty means all.
    pub event_types: Vec<String>,
    /// A note for people.
    pub description: Option<String>,
}

impl WebhookInput {
    /// Checks every field, reporting all errors at once.
    pub fn validate(&self) -> Validated<NewWebhookSpec> {
        let mut errors = Errors::default();
        let url = errors.take(webhook_url("url", &self.url));
        let event_types = errors.nested("", event_types(self.event_types.as_deref()));
        let description = match self.description.as_deref() {
            Some(d) => errors.take(description(d)),
            None => Some(None),
        };
        errors.finish(|| {
            Some(NewWebhookSpec {
                url: url?,
                event_types: event_types?,
                description: description?,
            })
        })
    }
}

/// A change to a subscription as submitted; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookPatchInput {
    /// New URL.
    pub url: Option<String>,
    /// New event types (empty: all).
    pub event_types: Option<Vec<String>>,
    /// New note; an empty string removes it.
    pub description: Option<String>,
    /// Pause (`false`) or resume (`true`) delivery; resuming clears the failure count.
    pub enabled: Option<bool>,
}

/// A validated change to a subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPatch {
    /// New URL.
    pub url: Option<String>,
    /// New event type patterns.
    pub event_types: Option<Vec<String>>,
    /// New note (`Some(None)` removes it).
    pub description: Option<Option<String>>,
    /// New enabled flag.
    pub enabled: Option<bool>,
}

impl WebhookPatchInput {
    /// Checks every field given, reporting all errors at once.
    pub fn validate(&self) -> Validated<WebhookPatch> {
        let mut errors = Errors::default();
        let url = match self.url.as_deref() {
            Some(u) => errors.take(webhook_url("url", u)).map(Some),
            None => Some(None),
        };
        let event_types = match self.event_types.as_deref() {
            Some(t) => errors.nested("", event_types(Some(t))).map(Some),
            None => Some(None),
        };
        let description = match self.description.as_deref() {
            Some(d) => errors.take(description(d)).map(Some),
            None => Some(None),
        };
        errors.finish(|| {
            Some(WebhookPatch {
                url: url?,
                event_types: event_types?,
                description: description?,
                enabled: self.enabled,
            })
        })
    }
}

/// Checks a webhook URL: `http` or `https`, with a host, without credentials (the
/// signature authenticates deliveries; a password in a URL ends up in logs).
pub fn webhook_url(field: &str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            format!("{field} must not be empty"),
        ));
    }
    if value.len() > MAX_URL_LEN {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("{field} is longer than {MAX_URL_LEN} characters"),
        ));
    }
    let parsed = url::Url::parse(value).map_err(|e| {
        FieldError::new(
            field,
            "bad_url",
            format!("{field} is not an absolute URL: {e}"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(FieldError::new(
            field,
            "unsupported_scheme",
            format!("{field} must be an http or https URL"),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(FieldError::new(
            field,
            "bad_url",
            format!("{field} has no host"),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(FieldError::new(
            field,
            "credentials_in_url",
            format!("{field} must not carry a user name or password"),
        ));
    }
    Ok(parsed.to_string())
}

fn description(value: &str) -> Result<Option<String>, FieldError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    validation::text("description", value, 500).map(Some)
}

/// Checks a list of event type patterns, dropping duplicates and keeping the order.
fn event_types(types: Option<&[String]>) -> Validated<Vec<String>> {
    let types = types.unwrap_or_default();
    if types.len() > MAX_EVENT_TYPES {
        return Err(vec![FieldError::new(
            "event_types",
            "too_many",
            format!("event_types has more than {MAX_EVENT_TYPES} entries"),
        )]);
    }
    let mut errors = Errors::default();
    let mut out: Vec<String> = Vec::with_capacity(types.len());
    for (i, t) in types.iter().enumerate() {
        if let Some(t) = errors.take(event_type_pattern(&format!("event_types[{i}]"), t))
            && !out.contains(&t)
        {
            out.push(t);
        }
    }
    // "*" alone means every event, the same as an empty list.
    if out.iter().any(|t| t == "*") {
        out.clear();
    }
    errors.finish(|| Some(out))
}

/// Checks one event type pattern: dot-separated names of lower-case letters, digits and
/// `_` (`order.status_changed`), optionally ending in `.*` for a whole family, or `*`.
pub fn event_type_pattern(field: &str, value: &str) -> Result<String, FieldError> {
    let bad = || {
        FieldError::new(
            field,
            "bad_format",
            format!(
                "{field} is an event type like 'order.created', a family like 'order.*', or '*'"
            ),
        )
    };
    if value.len() > MAX_TYPE_LEN {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("{field} is longer than {MAX_TYPE_LEN} characters"),
        ));
    }
    if value == "*" {
        return Ok(value.to_owned());
    }
    let names = value.strip_suffix(".*").unwrap_or(value);
    let name_ok = |n: &str| {
        n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if names.split('.').all(name_ok) {
        Ok(value.to_owned())
    } else {
        Err(bad())
    }
}

/// True when an event of type `kind` is wanted by these patterns (empty: all).
pub fn wants(patterns: &[String], kind: &str) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| match p.strip_suffix(".*") {
            Some(family) => kind
                .strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('.')),
            None => p == "*" || p == kind,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str, types: &[&str]) -> WebhookInput {
        WebhookInput {
            url: url.into(),
            event_types: Some(types.iter().map(|t| (*t).to_owned()).collect()),
            description: None,
        }
    }

    fn first_error(input: &WebhookInput) -> (String, &'static str) {
        let errors = input.validate().expect_err("invalid");
        (errors[0].field.clone(), errors[0].code)
    }

    #[test]
    fn urls_must_be_http_or_https_with_a_host_and_no_credentials() {
        for (url, code) in [
            ("", "required"),
            ("not a url", "bad_url"),
            ("/relative/path", "bad_url"),
            ("ftp://erp.example.com/in", "unsupported_scheme"),
            ("javascript:alert(1)", "unsupported_scheme"),
            ("file:///etc/passwd", "unsupported_scheme"),
            ("https://user:pw@erp.example.com/hook", "credentials_in_url"),
        ] {
            assert_eq!(
                first_error(&input(url, &[])),
                ("url".to_owned(), code),
                "{url}"
            );
        }
        let long = format!("https://erp.example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(first_error(&input(&long, &[])).1, "too_long");
        let ok = input("HTTPS://ERP.example.com:8443/hooks?x=1", &[])
            .validate()
            .expect("valid");
        assert_eq!(ok.url, "https://erp.example.com:8443/hooks?x=1");
    }

    #[test]
    fn event_types_are_names_or_families_and_star_means_all() {
        let ok = input(
            "http://127.0.0.1:9/h",
            &["order.created", "stock.*", "order.created"],
        )
        .validate()
        .expect("valid");
        assert_eq!(ok.event_types, ["order.created", "stock.*"]);
        let all = input("http://127.0.0.1:9/h", &["order.*", "*"])
            .validate()
            .expect("valid");
        assert!(all.event_types.is_empty());
        for bad in [
            "Order.created",
            "order..created",
            "order.*.x",
            "",
            ".x",
            "order created",
        ] {
            assert_eq!(
                first_error(&input("http://h/", &["stock.changed", bad])),
                ("event_types[1]".to_owned(), "bad_format"),
                "{bad}"
            );
        }
    }

    #[test]
    fn patterns_match_exact_types_and_whole_families_only() {
        let p = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(wants(&[], "anything.at_all"));
        assert!(wants(&p(&["order.*"]), "order.created"));
        assert!(wants(&p(&["order.*"]), "order.line.added"));
        assert!(!wants(&p(&["order.*"]), "orders.created"));
        assert!(!wants(&p(&["order.*"]), "order"));
        assert!(wants(&p(&["stock.changed"]), "stock.changed"));
        assert!(!wants(&p(&["stock.changed"]), "stock.changed_more"));
    }

    #[test]
    fn a_patch_names_each_bad_field_and_an_empty_description_clears_it() {
        let patch = WebhookPatchInput {
            description: Some("  ".into()),
            enabled: Some(true),
            ..Default::default()
        }
        .validate()
        .expect("valid");
        assert_eq!(
            (patch.description, patch.enabled, patch.url),
            (Some(None), Some(true), None)
        );
        let errors = WebhookPatchInput {
            url: Some("gopher://x".into()),
            event_types: Some(vec!["BAD".into()]),
            ..Default::default()
        }
        .validate()
        .expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["url", "event_types[0]"]);
    }
}
