//! JSON Schemas for input fields that are read as plain text or numbers and checked later
//! by the validators, so that the OpenAPI document states the rules the validators apply
//! (and API fuzzers generate values that get past them). Used with
//! `#[schemars(with = "…")]` on the input types.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

/// Control characters, which no text field accepts (`char::is_control`).
const CONTROL: &str = r"\u0000-\u001F\u007F-\u009F";

/// A code (SKU, location, customer, movement id): 1 to `MAX` ASCII letters, digits, `-`,
/// `_` and `.`, starting with a letter or digit. See [`crate::validation::code`].
pub struct Code<const MAX: usize>;

impl<const MAX: usize> JsonSchema for Code<MAX> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Code{MAX}").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX,
            "pattern": format!("^[A-Za-z0-9][A-Za-z0-9._-]{{0,{}}}$", MAX.saturating_sub(1)),
        })
    }
}

/// Free text: 1 to `MAX` characters after trimming, no control characters. See
/// [`crate::validation::text`].
pub struct Text<const MAX: usize>;

impl<const MAX: usize> JsonSchema for Text<MAX> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        format!("Text{MAX}").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX,
            "pattern": format!("^[^\\s{CONTROL}][^{CONTROL}]*$"),
        })
    }
}

/// An ISO 4217 currency code.
pub struct CurrencyCode;

impl JsonSchema for CurrencyCode {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "CurrencyCode".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^[A-Z]{3}$", "examples": ["CNY"] })
    }
}

/// A GTIN-8, -12, -13 or -14 (the check digit is checked too, which a pattern cannot say).
pub struct Gtin;

impl JsonSchema for Gtin {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Gtin".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^([0-9]{8}|[0-9]{12,14})$",
            "description": "GTIN-8, -12, -13 or -14 with a valid check digit.",
            "examples": ["06901234567892"],
        })
    }
}

/// An IANA time zone name such as `Asia/Shanghai`; only its shape is checked.
pub struct TimeZone;

impl JsonSchema for TimeZone {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "TimeZone".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "maxLength": 64,
            "pattern": "^[A-Z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$",
            "examples": ["Asia/Shanghai"],
        })
    }
}

/// The movement kinds a producer may submit (the others are made by orders).
pub struct ExternalMovementKind;

impl JsonSchema for ExternalMovementKind {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "ExternalMovementKind".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let kinds: Vec<&str> = crate::stock::MovementKind::EXTERNAL
            .iter()
            .map(|k| k.as_str())
            .collect();
        json_schema!({ "type": "string", "enum": kinds })
    }
}
