//! What a scanned code means in base units: the one place a barcode, an element string, a
//! scale label or an RFID tag at a till or in a count becomes "n units of this product".
//!
//! Parsing is the `gs1` crate's job; this module only decides which GTIN to look up and how
//! many base units one scan stands for once the catalog has answered. Every form a code can
//! take ends in the same pair: a lookup GTIN (14 digits) and a [`Measure`].

use serde::{Deserialize, Serialize};

use crate::stock::MAX_QTY;
use crate::validation::FieldError;

/// Longest code accepted from a scanner (a GS1 DataMatrix can hold a few hundred characters).
pub const MAX_CODE: usize = 512;

/// How much one scan of a code stands for, before the catalog says what its GTIN is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum Measure {
    /// One trade item of the GTIN (a unit, or a pack of `factor` units).
    Each,
    /// A count of trade items of the GTIN: AI (30).
    Count(i64),
    /// A net weight in grams: a variable-measure weight label or AI (310n).
    Grams(i64),
    /// A price to pay in minor units: a variable-measure price label or AI (392n).
    Price(i64),
}

/// A scanned code, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedCode {
    /// The code as it was sent.
    pub raw: String,
    /// The GTIN to look the product up by (14 digits; for a scale label, the label with its
    /// value digits zeroed, as `gs1` defines it).
    pub gtin: String,
    /// What one scan of it stands for.
    pub measure: Measure,
    /// The amount payable the code states beside its quantity (AI 392n with a weight or a
    /// count), in minor units: what the line costs, decided by the scale.
    pub amount: Option<i64>,
}

/// True for an EPC: a tag or pure-identity URI, or a hex string of 96 bits or more with a
/// letter in it (a run of digits is a barcode).
pub fn looks_like_epc(code: &str) -> bool {
    code.starts_with("urn:epc:")
        || (code.len() >= 24
            && code.bytes().all(|b| b.is_ascii_hexdigit())
            && code.bytes().any(|b| b.is_ascii_alphabetic()))
}

/// Decodes a scanned code: a GTIN-8/12/13/14, a GS1 element string (bracketed or raw, with
/// or without a symbology identifier), an in-store variable-measure EAN-13 (read with
/// `layouts`), or an SGTIN EPC. `field` names the code in errors (`lines[2].code`).
pub fn decode(
    field: &str,
    raw: &str,
    layouts: &[gs1::VariableMeasureLayout],
) -> Result<ScannedCode, FieldError> {
    let code = raw.trim();
    if code.is_empty() || code.len() > MAX_CODE {
        return Err(FieldError::new(
            field,
            "bad_length",
            format!("a code is 1 to {MAX_CODE} characters"),
        ));
    }
    let invalid = |e: gs1::Error| {
        FieldError::new(
            field,
            "invalid_code",
            format!("{code:?} is not a valid code: {e} ({})", e.code()),
        )
    };
    if looks_like_epc(code) {
        let epc = gs1::decode_epc(code).map_err(invalid)?;
        let gtin = epc.gtin.ok_or_else(|| {
            FieldError::new(
                field,
                "no_gtin",
                format!(
                    "{code:?} is an EPC of a {:?}, not of a trade item",
                    epc.scheme
                ),
            )
        })?;
        return Ok(ScannedCode {
            raw: code.to_owned(),
            gtin,
            measure: Measure::Each,
            amount: None,
        });
    }
    let options = gs1::ParseOptions {
        layouts: layouts.to_vec(),
        check_associations: true,
    };
    let scan = gs1::parse_code_with(code, &options).map_err(invalid)?;
    let (gtin, (measure, amount)) = match (scan.kind, scan.variable_measure) {
        (gs1::Kind::VariableMeasure, Some(vm)) => {
            let value = i64::try_from(vm.value).unwrap_or(i64::MAX);
            let measure = match vm.measure {
                gs1::MeasureKind::Weight => Measure::Grams(value),
                gs1::MeasureKind::Price => Measure::Price(value),
            };
            (vm.lookup_gtin, (measure, None))
        }
        _ => {
            let gtin = scan.gtin.ok_or_else(|| {
                FieldError::new(
                    field,
                    "no_gtin",
                    format!("{code:?} carries no GTIN (AI 01 or 02)"),
                )
            })?;
            (gtin, element_measure(field, &scan.elements)?)
        }
    };
    Ok(ScannedCode {
        raw: code.to_owned(),
        gtin,
        measure,
        amount,
    })
}

/// The quantity an element string states — AI (30) a count, (310n) a net weight in kg
/// with n decimals, neither: one item — and the amount payable (392n, n decimals) if any.
fn element_measure(
    field: &str,
    elements: &[gs1::Element],
) -> Result<(Measure, Option<i64>), FieldError> {
    let number = |value: &str| value.parse::<i64>().ok();
    let mut measure = Measure::Each;
    let mut amount = None;
    for e in elements {
        let decimals = e.ai.get(3..4).and_then(|d| d.parse::<u32>().ok());
        let out_of_range = || {
            FieldError::new(
                field,
                "out_of_range",
                format!("the quantity in AI ({}) is out of range", e.ai),
            )
        };
        match (e.ai.as_str(), decimals) {
            ("30", _) if measure == Measure::Each => {
                measure = Measure::Count(number(&e.value).ok_or_else(out_of_range)?);
            }
            (ai, Some(n)) if ai.starts_with("310") && measure == Measure::Each => {
                let grams = number(&e.value).and_then(|v| scale(v, n, 3));
                measure = Measure::Grams(grams.ok_or_else(out_of_range)?);
            }
            (ai, Some(n)) if ai.starts_with("392") => {
                let minor = number(&e.value).and_then(|v| scale(v, n, 2));
                amount = Some(minor.ok_or_else(out_of_range)?);
            }
            _ => {}
        }
    }
    Ok((measure, amount))
}

/// `value` with `decimals` implied decimals, expressed with `target` decimals (rounded half
/// up): kilograms with 3 decimals are grams, an amount with 2 decimals is minor units.
fn scale(value: i64, decimals: u32, target: u32) -> Option<i64> {
    if decimals <= target {
        value.checked_mul(10i64.checked_pow(target - decimals)?)
    } else {
        let divisor = 10i64.checked_pow(decimals - target)?;
        Some((value + divisor / 2) / divisor)
    }
}

/// What the catalog knows about a looked-up GTIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeTarget {
    /// Base units one trade item of this GTIN holds: 1 for the product's own GTINs, the
    /// pack's factor for a pack GTIN.
    pub factor: i64,
    /// The product's price per base unit in minor units (to turn a price label into a
    /// quantity).
    pub unit_price: i64,
}

/// The base units and (for a price label) the fixed amount of `times` scans of `code`.
///
/// - one item: `times × factor`;
/// - a count (30): `times × count × factor`;
/// - grams: `times × grams` (a weighed product's base unit is the gram);
/// - with an amount payable (392n) beside a count or weight, that amount is the line's cost;
/// - a price: `times × round(price / unit_price)`, at least 1, and the label's price is what
///   the line costs (`Some(times × price)`), because the scale decided it.
pub fn quantity(
    field: &str,
    code: &ScannedCode,
    times: i64,
    target: &CodeTarget,
) -> Result<(i64, Option<i64>), FieldError> {
    let out_of_range = || {
        FieldError::new(
            field,
            "out_of_range",
            format!("the code stands for more than {MAX_QTY} base units"),
        )
    };
    let (qty, fixed) = match code.measure {
        Measure::Each => (times.checked_mul(target.factor), None),
        Measure::Count(n) => (
            times
                .checked_mul(n)
                .and_then(|q| q.checked_mul(target.factor)),
            code.amount.map(|a| times.checked_mul(a)),
        ),
        Measure::Grams(g) => (
            times.checked_mul(g),
            code.amount.map(|a| times.checked_mul(a)),
        ),
        Measure::Price(p) => {
            if target.unit_price <= 0 {
                return Err(FieldError::new(
                    field,
                    "no_price",
                    "a price label needs the product's price per base unit to give a quantity",
                ));
            }
            let each = ((p + target.unit_price / 2) / target.unit_price).max(1);
            (times.checked_mul(each), Some(times.checked_mul(p)))
        }
    };
    let qty = qty
        .filter(|q| (1..=MAX_QTY).contains(q))
        .ok_or_else(out_of_range)?;
    let fixed = match fixed {
        Some(amount) => Some(amount.ok_or_else(out_of_range)?),
        None => None,
    };
    Ok((qty, fixed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(code: &str) -> ScannedCode {
        decode("code", code, &[gs1::VariableMeasureLayout::default()]).unwrap()
    }

    #[test]
    fn every_form_of_code_gives_a_gtin_and_a_measure() {
        let cases: &[(&str, &str, Measure)] = &[
            ("6901234567892", "06901234567892", Measure::Each),
            ("]E06901234567892", "06901234567892", Measure::Each),
            ("96385074", "00000096385074", Measure::Each),
            (
                "(01)06901234567892(30)12",
                "06901234567892",
                Measure::Count(12),
            ),
            (
                "(01)06901234567892(3103)001250",
                "06901234567892",
                Measure::Grams(1250),
            ),
            (
                "(01)06901234567892(3102)000125",
                "06901234567892",
                Measure::Grams(1250),
            ),
            ("3074257BF7194E4000001A85", "80614141123458", Measure::Each),
        ];
        for (code, gtin, measure) in cases {
            let d = decoded(code);
            assert_eq!((d.gtin.as_str(), d.measure), (*gtin, *measure), "{code}");
        }
        let priced = decoded("(01)96901234567895(3103)001250(3921)1999");
        assert_eq!(
            (priced.measure, priced.amount),
            (Measure::Grams(1250), Some(19990))
        );
        let label = decoded("2112345012346");
        assert_eq!(label.measure, Measure::Price(1234));
        assert!(label.gtin.starts_with("0211234500000"), "{}", label.gtin);
    }

    #[test]
    fn bad_codes_name_the_field_and_the_reason() {
        let layouts = [gs1::VariableMeasureLayout::default()];
        for (code, why) in [
            ("6901234567893", "invalid_code"),
            ("", "bad_length"),
            ("(00)106141412345678908", "no_gtin"),
            ("(01)06901234567892(30)", "invalid_code"),
        ] {
            let e = decode("lines[0].code", code, &layouts).unwrap_err();
            assert_eq!((e.field.as_str(), e.code), ("lines[0].code", why), "{code}");
        }
    }

    #[test]
    fn quantities_follow_the_measure() {
        let each = CodeTarget {
            factor: 1,
            unit_price: 500,
        };
        let case = CodeTarget {
            factor: 12,
            unit_price: 500,
        };
        let q = |code: &str, times, t: &CodeTarget| quantity("f", &decoded(code), times, t);
        assert_eq!(q("6901234567892", 3, &each).unwrap(), (3, None));
        assert_eq!(q("6901234567892", 2, &case).unwrap(), (24, None));
        assert_eq!(q("(01)06901234567892(30)5", 1, &case).unwrap(), (60, None));
        assert_eq!(
            q("(01)06901234567892(3103)000750", 1, &each).unwrap(),
            (750, None)
        );
        // A weight with an amount payable: the grams, at the stated amount.
        assert_eq!(
            q("(01)96901234567895(3103)001250(3921)1999", 2, &each).unwrap(),
            (2500, Some(39980))
        );
        // 12.34 at 5.00 a unit: 2 units (rounded), the label's price is what is paid.
        assert_eq!(q("2112345012346", 1, &each).unwrap(), (2, Some(1234)));
        let free = CodeTarget {
            factor: 1,
            unit_price: 0,
        };
        assert_eq!(q("2112345012346", 1, &free).unwrap_err().code, "no_price");
        assert_eq!(
            q("6901234567892", MAX_QTY, &case).unwrap_err().code,
            "out_of_range"
        );
    }
}
