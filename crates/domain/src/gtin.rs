//! GTIN (EAN/UPC) validation: the identifiers printed under product barcodes.
//!
//! A product may carry several GTINs (the unit's EAN-13, the case's GTIN-14, …). They are
//! stored normalised to 14 digits so that `6901234567892` and `06901234567892` are the same
//! key and a scan of either finds the product.

use crate::validation::FieldError;

/// Validates a GTIN-8, -12, -13 or -14 by its GS1 mod-10 check digit and returns it
/// left-padded with zeros to 14 digits.
pub fn normalize(field: &str, gtin: &str) -> Result<String, FieldError> {
    if !matches!(gtin.len(), 8 | 12 | 13 | 14) || !gtin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(
            field,
            "bad_format",
            "a GTIN has 8, 12, 13 or 14 digits",
        ));
    }
    let (body, check) = gtin.split_at(gtin.len() - 1);
    let expected = check_digit(body);
    if check.as_bytes()[0] - b'0' != expected {
        return Err(FieldError::new(
            field,
            "bad_check_digit",
            format!("check digit of GTIN {gtin} should be {expected}"),
        ));
    }
    Ok(format!("{gtin:0>14}"))
}

/// The GS1 mod-10 check digit of a string of ASCII digits (weights 3,1,3,… from the right).
pub fn check_digit(digits: &str) -> u8 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_gtins_validate_and_normalise_to_14_digits() {
        assert_eq!(normalize("g", "09506000134352").unwrap(), "09506000134352");
        assert_eq!(normalize("g", "6901234567892").unwrap(), "06901234567892");
        assert_eq!(normalize("g", "96385074").unwrap(), "00000096385074");
        assert_eq!(normalize("g", "036000291452").unwrap(), "00036000291452");
    }

    #[test]
    fn bad_gtins_are_refused_with_a_reason() {
        assert_eq!(
            normalize("g", "6901234567893").unwrap_err().code,
            "bad_check_digit"
        );
        assert_eq!(
            normalize("g", "690123456789").unwrap_err().code,
            "bad_check_digit"
        );
        assert_eq!(normalize("g", "12345").unwrap_err().code, "bad_format");
        assert_eq!(
            normalize("g", "690123456789X").unwrap_err().code,
            "bad_format"
        );
        assert_eq!(
            normalize("g", "６９０１２３４５６７８９２")
                .unwrap_err()
                .code,
            "bad_format"
        );
    }

    proptest! {
        #[test]
        fn any_body_with_its_check_digit_validates_and_any_other_digit_does_not(
            body in "[0-9]{12}", wrong in 0u8..9
        ) {
            let check = check_digit(&body);
            let good = format!("{body}{check}");
            prop_assert_eq!(normalize("g", &good).unwrap(), format!("0{good}"));
            let other = (check + 1 + wrong) % 10;
            let bad = format!("{body}{other}");
            prop_assert!(normalize("g", &bad).is_err());
        }
    }
}
