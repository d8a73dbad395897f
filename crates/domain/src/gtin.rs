//! GTIN (EAN/UPC) validation for the catalog: the identifiers printed under product barcodes.
//!
//! A product may carry several GTINs (the unit's EAN-13, the case's GTIN-14, …). They are
//! stored normalised to 14 digits so that `6901234567892` and `06901234567892` are the same
//! key and a scan of either finds the product. The GS1 rules themselves live in the `gs1`
//! crate; this module only turns its verdict into a field error.

use crate::validation::FieldError;

/// Validates a GTIN-8, -12, -13 or -14 by its GS1 check digit and returns it left-padded
/// with zeros to 14 digits. Errors are `bad_check_digit` or `bad_format`.
pub fn normalize(field: &str, gtin: &str) -> Result<String, FieldError> {
    gs1::normalize_gtin(gtin).map_err(|e| {
        let code = if e.code() == "bad_check_digit" {
            "bad_check_digit"
        } else {
            "bad_format"
        };
        FieldError::new(field, code, format!("GTIN {gtin:?} is not valid: {e}"))
    })
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
        assert_eq!(normalize("g", "").unwrap_err().code, "bad_format");
    }

    proptest! {
        #[test]
        fn any_body_with_its_check_digit_validates_and_any_other_digit_does_not(
            body in "[0-9]{12}", wrong in 0u8..9
        ) {
            let check = gs1::check_digit(&body).unwrap();
            let good = format!("{body}{check}");
            prop_assert_eq!(normalize("g", &good).unwrap(), format!("0{good}"));
            let other = (check + 1 + wrong) % 10;
            let bad = format!("{body}{other}");
            prop_assert_eq!(normalize("g", &bad).unwrap_err().code, "bad_check_digit");
        }
    }
}
