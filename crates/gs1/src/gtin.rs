//! GTIN-8/12/13/14 check digits and normalisation to GTIN-14.
//!
//! Stockbook stores every trade item number as a 14-digit GTIN so that the
//! same product scanned from an EAN-13 on the shelf and from an ITF-14 on the
//! case (with indicator 0) compares equal. The GS1 mod-10 algorithm here is
//! also used by the AI table for every `csum` field (SSCC, GLN, GSRN, ...).

use crate::error::{Error, Result};

/// Computes the GS1 mod-10 check digit for a string of digits that does
/// **not** include the check digit (weights 3,1,3,... from the right).
///
/// Works for any GS1 key length (GTIN-8..14, GLN, SSCC, GSRN, GSIN ...).
/// Fails with `bad_character` on non-digits and `empty` on empty input.
pub fn check_digit(payload: &str) -> Result<u8> {
    if payload.is_empty() {
        return Err(Error::Empty);
    }
    let mut sum: u32 = 0;
    for (i, c) in payload.chars().rev().enumerate() {
        let d = c.to_digit(10).ok_or_else(|| Error::BadCharacter {
            context: "GS1 key".into(),
            offset: payload.chars().count() - 1 - i,
            found: c,
            allowed: "digits",
        })?;
        sum += if i % 2 == 0 { d * 3 } else { d };
    }
    // sum % 10 < 10, so the cast cannot truncate.
    Ok(((10 - sum % 10) % 10) as u8)
}

/// Verifies the trailing mod-10 check digit of `digits`; `context` names the
/// field in the error message.
pub(crate) fn verify_check_digit(context: &str, digits: &str) -> Result<()> {
    let n = digits.chars().count();
    if n < 2 {
        return Err(Error::BadLength {
            context: context.into(),
            expected: "at least 2 digits".into(),
            found: n,
        });
    }
    let (payload, last) = split_last_char(digits);
    let expected = check_digit(payload).map_err(|e| recontext(e, context))?;
    let expected_c = char::from(b'0' + expected);
    if last != expected_c {
        if !last.is_ascii_digit() {
            return Err(Error::BadCharacter {
                context: context.into(),
                offset: n - 1,
                found: last,
                allowed: "digits",
            });
        }
        return Err(Error::BadCheckDigit {
            context: context.into(),
            expected: expected_c.to_string(),
            found: last.to_string(),
        });
    }
    Ok(())
}

fn split_last_char(s: &str) -> (&str, char) {
    let mut it = s.char_indices();
    match it.next_back() {
        Some((i, c)) => (&s[..i], c),
        None => ("", '\0'),
    }
}

fn recontext(e: Error, context: &str) -> Error {
    match e {
        Error::BadCharacter {
            offset,
            found,
            allowed,
            ..
        } => Error::BadCharacter {
            context: context.into(),
            offset,
            found,
            allowed,
        },
        other => other,
    }
}

/// Validates a GTIN-8, GTIN-12 (UPC-A), GTIN-13 (EAN-13) or GTIN-14 and
/// returns it normalised to 14 digits (left-padded with zeros).
///
/// This is the one function to call before storing or comparing a GTIN.
///
/// ```
/// assert_eq!(gs1::normalize_gtin("9506000134352").unwrap(), "09506000134352");
/// assert_eq!(gs1::normalize_gtin("9506000134353").unwrap_err().code(), "bad_check_digit");
/// ```
pub fn normalize_gtin(gtin: &str) -> Result<String> {
    let n = gtin.chars().count();
    if n == 0 {
        return Err(Error::Empty);
    }
    if let Some((offset, found)) = gtin.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(Error::BadCharacter {
            context: "GTIN".into(),
            offset,
            found,
            allowed: "digits",
        });
    }
    if !matches!(n, 8 | 12 | 13 | 14) {
        return Err(Error::BadLength {
            context: "GTIN".into(),
            expected: "8, 12, 13 or 14 digits".into(),
            found: n,
        });
    }
    verify_check_digit("GTIN", gtin)?;
    Ok(format!("{gtin:0>14}"))
}

/// `true` if `gtin` is a valid GTIN-8/12/13/14 (see [`normalize_gtin`]).
pub fn is_valid_gtin(gtin: &str) -> bool {
    normalize_gtin(gtin).is_ok()
}

/// Appends the correct check digit to a GTIN payload of 7, 11, 12 or 13
/// digits, producing a complete GTIN-8/12/13/14.
///
/// Useful when generating in-store codes or test data.
pub fn complete_gtin(payload: &str) -> Result<String> {
    let n = payload.chars().count();
    if !matches!(n, 7 | 11 | 12 | 13) {
        return Err(Error::BadLength {
            context: "GTIN payload".into(),
            expected: "7, 11, 12 or 13 digits".into(),
            found: n,
        });
    }
    let cd = check_digit(payload)?;
    Ok(format!("{payload}{cd}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // GS1 General Specifications example GTIN.
        assert_eq!(check_digit("0950600013435").unwrap(), 2);
        assert_eq!(normalize_gtin("09506000134352").unwrap(), "09506000134352");
        // EAN-8 and UPC-A.
        assert_eq!(normalize_gtin("96385074").unwrap(), "00000096385074");
        assert_eq!(normalize_gtin("036000291452").unwrap(), "00036000291452");
        // GTIN-14 with indicator 1.
        assert_eq!(complete_gtin("1061414100041").unwrap(), "10614141000415");
        // SSCC check digit.
        assert_eq!(check_digit("10614141234567890").unwrap(), 8);
    }

    #[test]
    fn errors() {
        assert_eq!(normalize_gtin("").unwrap_err().code(), "empty");
        assert_eq!(normalize_gtin("1234567").unwrap_err().code(), "bad_length");
        assert_eq!(
            normalize_gtin("95060001343é2").unwrap_err().code(),
            "bad_character"
        );
        let e = normalize_gtin("09506000134353").unwrap_err();
        assert_eq!(e.code(), "bad_check_digit");
        assert_eq!(
            e.to_string(),
            "GTIN: check digit is \"3\" but should be \"2\""
        );
    }
}
