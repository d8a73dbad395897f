//! In-store variable-measure EAN-13 codes (restricted circulation numbers,
//! prefixes 20-29).
//!
//! Supermarket scales print EAN-13 labels whose digits are not a GTIN but a
//! store-defined layout: an item code (PLU) and the weight or the price of
//! the pack. The layout differs per country and per scale configuration, so
//! it is data ([`VariableMeasureLayout`]) rather than code. The default is
//! the common layout of Chinese supermarket scales:
//! `2` + flag digit + 5-digit item code + 5-digit price in fen + check digit.

use crate::error::{Error, Result};
use crate::gtin::verify_check_digit;

/// What the value field of a variable-measure code holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum MeasureKind {
    /// Net weight in grams.
    Weight,
    /// Price in minor currency units (fen, cents).
    Price,
}

/// A digit field inside the 13-digit code: 0-based start index and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Field {
    /// 0-based index of the first digit within the 13 digits.
    pub start: usize,
    /// Number of digits.
    pub len: usize,
}

impl Field {
    fn end(self) -> usize {
        self.start.saturating_add(self.len)
    }
}

/// Describes how a store's scales lay out a 13-digit variable-measure code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct VariableMeasureLayout {
    /// Leading digit strings this layout applies to, e.g. `["20", ..., "29"]`
    /// or `["28"]`. The first matching layout wins.
    pub prefixes: Vec<String>,
    /// Where the item code (PLU) is.
    pub item_code: Field,
    /// Where the weight/price is.
    pub value: Field,
    /// Whether `value` is a weight or a price.
    pub kind: MeasureKind,
    /// Index of an inner price/weight check digit computed over `value` with
    /// the GS1 4- or 5-digit price check algorithm (GS1 General
    /// Specifications 7.9.3/7.9.4), if the layout has one.
    pub value_check_digit: Option<usize>,
}

impl Default for VariableMeasureLayout {
    /// Chinese supermarket scales: prefixes 20-29, `2F IIIII PPPPP C`,
    /// price in fen, no inner check digit.
    fn default() -> Self {
        VariableMeasureLayout {
            prefixes: (20..=29).map(|p| p.to_string()).collect(),
            item_code: Field { start: 2, len: 5 },
            value: Field { start: 7, len: 5 },
            kind: MeasureKind::Price,
            value_check_digit: None,
        }
    }
}

impl VariableMeasureLayout {
    /// Same as the default layout but the value is the weight in grams.
    pub fn china_weight() -> Self {
        VariableMeasureLayout {
            kind: MeasureKind::Weight,
            ..Self::default()
        }
    }

    /// Checks that fields are inside digits 1..=11 (the first digit is the
    /// prefix, the last the EAN check digit), do not overlap, and that an
    /// inner check digit covers a 4- or 5-digit value.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: &str| {
            Err(Error::BadLayout {
                reason: reason.into(),
            })
        };
        if self.prefixes.is_empty()
            || self
                .prefixes
                .iter()
                .any(|p| p.is_empty() || p.len() > 12 || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return bad("prefixes must be 1 to 12 digits and at least one is needed");
        }
        for (name, f) in [("item_code", self.item_code), ("value", self.value)] {
            if f.len == 0 || f.start < 1 || f.end() > 12 {
                return Err(Error::BadLayout {
                    reason: format!("{name} must lie within digits 1..=11 and be non-empty"),
                });
            }
        }
        if self.value.len > 10 {
            return bad("value may have at most 10 digits");
        }
        let overlap = |a: Field, b: usize| (a.start..a.end()).contains(&b);
        if (self.value.start..self.value.end()).any(|i| overlap(self.item_code, i)) {
            return bad("item_code and value overlap");
        }
        if let Some(c) = self.value_check_digit {
            if !matches!(self.value.len, 4 | 5) {
                return bad("an inner check digit needs a 4- or 5-digit value");
            }
            if !(1..12).contains(&c) || overlap(self.item_code, c) || overlap(self.value, c) {
                return bad("value check digit must be a separate digit within 1..=11");
            }
        }
        Ok(())
    }

    fn matches(&self, digits: &str) -> bool {
        self.prefixes.iter().any(|p| digits.starts_with(p.as_str()))
    }
}

/// The decoded content of a variable-measure code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct VariableMeasure {
    /// The item code (PLU) digits.
    pub item_code: String,
    /// Weight or price.
    pub measure: MeasureKind,
    /// Grams or minor currency units.
    pub value: u64,
    /// The code with the value (and inner check) digits zeroed and the EAN
    /// check digit recomputed, as a GTIN-14: a stable key for looking the
    /// item up regardless of the weighed amount.
    pub lookup_gtin: String,
}

/// Decodes a 13-digit code with the first matching layout. The EAN-13 check
/// digit is verified first (`bad_check_digit`), then the inner check digit if
/// the layout has one. Fails with `no_matching_layout` if no prefix matches.
pub fn decode_variable_measure(
    digits: &str,
    layouts: &[VariableMeasureLayout],
) -> Result<VariableMeasure> {
    if digits.len() != 13 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::BadLength {
            context: "variable-measure EAN-13".into(),
            expected: "13 digits".into(),
            found: digits.chars().count(),
        });
    }
    let layout =
        layouts
            .iter()
            .find(|l| l.matches(digits))
            .ok_or_else(|| Error::NoMatchingLayout {
                prefix: digits[..2].to_string(),
            })?;
    layout.validate()?;
    verify_check_digit("EAN-13", digits)?;
    let d = digits.as_bytes();
    let field = |f: Field| &digits[f.start..f.end()];
    let value_text = field(layout.value);
    if let Some(ci) = layout.value_check_digit {
        let expected = price_check_digit(value_text).unwrap_or(0);
        let found = d[ci] - b'0';
        if expected != found {
            return Err(Error::BadCheckDigit {
                context: "variable-measure value".into(),
                expected: expected.to_string(),
                found: found.to_string(),
            });
        }
    }
    let value = value_text
        .bytes()
        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
    let mut key: Vec<u8> = d[..12].to_vec();
    key[layout.value.start..layout.value.end()].fill(b'0');
    if let Some(ci) = layout.value_check_digit {
        key[ci] = b'0';
    }
    let payload = String::from_utf8(key).unwrap_or_default();
    let cd = crate::gtin::check_digit(&payload)?;
    Ok(VariableMeasure {
        item_code: field(layout.item_code).to_string(),
        measure: layout.kind,
        value,
        lookup_gtin: format!("0{payload}{cd}"),
    })
}

fn w2minus(d: u32) -> u32 {
    [0, 2, 4, 6, 8, 9, 1, 3, 5, 7][d as usize % 10]
}
fn w3(d: u32) -> u32 {
    (d * 3) % 10
}
fn w5plus(d: u32) -> u32 {
    [0, 5, 1, 6, 2, 7, 3, 8, 4, 9][d as usize % 10]
}
fn w5minus(d: u32) -> u32 {
    [0, 5, 9, 4, 8, 3, 7, 2, 6, 1][d as usize % 10]
}

/// GS1 price/weight check digit (General Specifications 7.9.3 for four
/// digits, 7.9.4 for five). Returns `None` for other lengths or non-digits.
pub fn price_check_digit(value: &str) -> Option<u8> {
    let ds: Vec<u32> = value
        .chars()
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()?;
    match *ds.as_slice() {
        [a, b, c, d] => {
            let sum = w2minus(a) + w2minus(b) + w3(c) + w5minus(d);
            u8::try_from((sum * 3) % 10).ok()
        }
        [a, b, c, d, e] => {
            let sum = w5plus(a) + w2minus(b) + w5minus(c) + w5plus(d) + w2minus(e);
            let target = (10 - sum % 10) % 10;
            (0u8..10).find(|&k| w5minus(u32::from(k)) == target)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gtin::complete_gtin;

    #[test]
    fn price_check_vectors() {
        assert_eq!(price_check_digit("2875"), Some(9));
        assert_eq!(price_check_digit("14685"), Some(6));
        assert_eq!(price_check_digit("123"), None);
    }

    #[test]
    fn china_layout() {
        let code = complete_gtin("250123401234").unwrap();
        let vm = decode_variable_measure(&code, &[VariableMeasureLayout::default()]).unwrap();
        assert_eq!(vm.item_code, "01234");
        assert_eq!(vm.value, 1234);
        assert_eq!(vm.measure, MeasureKind::Price);
        assert_eq!(
            vm.lookup_gtin,
            format!("0{}", complete_gtin("250123400000").unwrap())
        );
        let w = decode_variable_measure(&code, &[VariableMeasureLayout::china_weight()]).unwrap();
        assert_eq!(w.measure, MeasureKind::Weight);
    }

    #[test]
    fn inner_check_digit_layout() {
        // 2 PPPP C VVVV K (item 4, check at 5, price 4 at 6..10)... use item 1..5.
        let layout = VariableMeasureLayout {
            prefixes: vec!["28".into()],
            item_code: Field { start: 2, len: 4 },
            value: Field { start: 7, len: 5 },
            kind: MeasureKind::Weight,
            value_check_digit: Some(6),
        };
        layout.validate().unwrap();
        let code = complete_gtin("281234614685").unwrap();
        let vm = decode_variable_measure(&code, std::slice::from_ref(&layout)).unwrap();
        assert_eq!((vm.item_code.as_str(), vm.value), ("1234", 14685));
        let bad = complete_gtin("281234514685").unwrap();
        let e = decode_variable_measure(&bad, &[layout]).unwrap_err();
        assert_eq!(e.code(), "bad_check_digit");
    }

    #[test]
    fn layout_errors() {
        let mut l = VariableMeasureLayout {
            value: Field { start: 5, len: 5 },
            ..VariableMeasureLayout::default()
        };
        assert_eq!(l.validate().unwrap_err().code(), "bad_layout");
        l.value = Field { start: 9, len: 5 };
        assert_eq!(l.validate().unwrap_err().code(), "bad_layout");
        let code = complete_gtin("200123401234").unwrap();
        assert_eq!(
            decode_variable_measure(&code, &[]).unwrap_err().code(),
            "no_matching_layout"
        );
    }
}
