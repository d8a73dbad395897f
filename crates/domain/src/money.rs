//! Money: integer minor units (分 for CNY) plus an ISO 4217 currency code. No floats
//! anywhere, so totals add up exactly.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::validation::FieldError;

/// Largest price accepted for one unit, in minor units (10 billion CNY): keeps every total of
/// up to a million units well inside `i64`.
pub const MAX_UNIT_PRICE: i64 = 1_000_000_000_000;

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    /// The default currency of a Stockbook installation.
    pub fn cny() -> Self {
        Self("CNY".to_owned())
    }

    /// Validates a currency code.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "bad_format",
                "currency is three upper-case letters (ISO 4217), e.g. CNY",
            ))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a value read back from storage.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates a unit price in minor units: zero (a free item) up to [`MAX_UNIT_PRICE`].
pub fn unit_price(field: &str, minor: i64) -> Result<i64, FieldError> {
    if minor < 0 {
        Err(FieldError::new(
            field,
            "negative",
            "price must not be negative",
        ))
    } else if minor > MAX_UNIT_PRICE {
        Err(FieldError::new(
            field,
            "too_large",
            format!("price must be at most {MAX_UNIT_PRICE} minor units"),
        ))
    } else {
        Ok(minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert!(Currency::parse("c", "CNY").is_ok());
        for bad in ["cny", "CN", "CNYY", "C1Y", ""] {
            assert!(Currency::parse("c", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prices_are_bounded() {
        assert_eq!(unit_price("p", 0), Ok(0));
        assert_eq!(unit_price("p", -1).unwrap_err().code, "negative");
        assert_eq!(
            unit_price("p", MAX_UNIT_PRICE + 1).unwrap_err().code,
            "too_large"
        );
    }
}
