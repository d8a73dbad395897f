//! Field-level validation errors shared by every input path.
//!
//! An error names the field with a JSON-pointer-like path (`movements[3].qty`), a stable
//! machine code (`too_long`, `bad_check_digit`, …) and a human message, so clients can
//! both branch on it and show it.

use serde::Serialize;

/// One reason why one field of an input was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct FieldError {
    /// Path of the field in the input, e.g. `lines[2].qty` or `gtins[0]`.
    pub field: String,
    /// Stable machine-readable reason, e.g. `required`, `too_long`, `bad_check_digit`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl FieldError {
    /// Builds an error for `field` with a stable `code` and a message.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }

    /// Prefixes the field path, so nested validators can report `movements[3].qty`.
    #[must_use]
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = if prefix.is_empty() {
            self.field
        } else if self.field.is_empty() {
            prefix.to_owned()
        } else if self.field.starts_with('[') {
            format!("{prefix}{}", self.field)
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

/// The result of validating an input: the typed value, or every field error found.
pub type Validated<T> = Result<T, Vec<FieldError>>;

/// Collects field errors while a validator walks an input, so one response lists them all.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    /// Records one error.
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Keeps the value of a field check, recording its error instead when it failed.
    pub fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    /// Records every error of a nested validation under `prefix`.
    pub fn nested<T>(&mut self, prefix: &str, result: Validated<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(errors) => {
                self.0.extend(errors.into_iter().map(|e| e.within(prefix)));
                None
            }
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Finishes validation: `value` when no error was recorded, otherwise every error.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Validated<T> {
        if self.0.is_empty() {
            value().ok_or_else(|| vec![FieldError::new("", "invalid", "input is invalid")])
        } else {
            Err(self.0)
        }
    }
}

/// Checks a required free-text field: trimmed, non-empty, at most `max` characters, no
/// control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            format!("{field} must not be empty"),
        ));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("{field} is longer than {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "bad_character",
            format!("{field} contains a control character"),
        ));
    }
    Ok(value.to_owned())
}

/// Checks an identifier-like code: 1..=`max` characters of ASCII letters, digits, `-`, `_`
/// and `.`, starting with a letter or digit. Codes appear in URL paths, so nothing else.
pub fn code(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            format!("{field} must not be empty"),
        ));
    }
    if value.len() > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("{field} is longer than {max} characters"),
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if !value.chars().all(allowed) || !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(FieldError::new(
            field,
            "bad_format",
            format!(
                "{field} may hold only letters, digits, '-', '_' and '.', starting with a letter or digit"
            ),
        ));
    }
    Ok(value.to_owned())
}

/// Checks that a date lies in the years Stockbook deals in (2000–2199), so nonsense dates
/// never reach a database that would refuse them.
pub fn business_date(
    field: &str,
    date: chrono::NaiveDate,
) -> Result<chrono::NaiveDate, FieldError> {
    use chrono::Datelike;
    if (2000..=2199).contains(&date.year()) {
        Ok(date)
    } else {
        Err(FieldError::new(
            field,
            "out_of_range",
            format!("{field} must be a date in the years 2000 to 2199"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_trims_and_rejects_empty_long_and_control_characters() {
        assert_eq!(text("name", "  Tea  ", 10).unwrap(), "Tea");
        assert_eq!(text("name", "   ", 10).unwrap_err().code, "required");
        assert_eq!(text("name", "茶茶茶", 2).unwrap_err().code, "too_long");
        assert_eq!(
            text("name", "a\u{0}b", 10).unwrap_err().code,
            "bad_character"
        );
    }

    #[test]
    fn code_accepts_identifiers_and_rejects_everything_else() {
        for ok in ["SKU-1", "a.b_c", "9"] {
            assert!(code("sku", ok, 64).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", "required"),
            ("-x", "bad_format"),
            ("a b", "bad_format"),
            ("a/b", "bad_format"),
            ("é", "bad_format"),
        ] {
            assert_eq!(code("sku", bad, 64).unwrap_err().code, why, "{bad}");
        }
        assert_eq!(
            code("sku", &"x".repeat(65), 64).unwrap_err().code,
            "too_long"
        );
    }

    #[test]
    fn nested_errors_carry_their_path() {
        let e = FieldError::new("qty", "required", "m").within("movements[3]");
        assert_eq!(e.field, "movements[3].qty");
        let e = FieldError::new("[0]", "bad", "m").within("gtins");
        assert_eq!(e.field, "gtins[0]");
    }
}
