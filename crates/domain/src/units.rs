//! Units of measure: a product is counted in its base unit (件) and may be ordered in pack
//! units with integer factors (箱 = 12 件). Stock and prices are always in base units; an
//! order line remembers the unit it was ordered in.

use serde::{Deserialize, Serialize};

use crate::stock::MAX_QTY;
use crate::validation::{self, Errors, FieldError, Validated};

/// Most pack units one product may have.
pub const MAX_PACKS: usize = 10;

/// A pack unit and how many base units it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Pack {
    /// The pack's name, e.g. 箱, case, carton.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Text<16>"))]
    pub unit: String,
    /// Base units per pack, 2 or more.
    #[cfg_attr(feature = "schemars", schemars(range(min = 2, max = 1_000_000)))]
    pub factor: i64,
    /// The GTIN printed on the pack (normalised to 14 digits), so that scanning a case at
    /// a till or in a count means `factor` base units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
}

/// How a product may be ordered: its base unit, packs, minimum and multiple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRules<'a> {
    /// The base unit's name.
    pub base_unit: &'a str,
    /// Pack units.
    pub packs: &'a [Pack],
    /// Least base units per order line.
    pub min_order_qty: i64,
    /// Base units per line must be a multiple of this.
    pub order_multiple: i64,
}

impl OrderRules<'_> {
    /// Converts `qty` of `unit` (the base unit when `None`) to base units, checking the
    /// minimum and the multiple. Returns the unit's name, its factor and the base quantity.
    pub fn to_base(&self, qty: i64, unit: Option<&str>) -> Result<(String, i64, i64), FieldError> {
        let (name, factor) = match unit {
            None => (self.base_unit, 1),
            Some(u) if u == self.base_unit => (self.base_unit, 1),
            Some(u) => match self.packs.iter().find(|p| p.unit == u) {
                Some(p) => (p.unit.as_str(), p.factor),
                None => {
                    let known: Vec<&str> = std::iter::once(self.base_unit)
                        .chain(self.packs.iter().map(|p| p.unit.as_str()))
                        .collect();
                    return Err(FieldError::new(
                        "unit",
                        "unknown_unit",
                        format!("unit {u} is not one of {}", known.join(", ")),
                    ));
                }
            },
        };
        let base = qty
            .checked_mul(factor)
            .filter(|b| (1..=MAX_QTY).contains(b))
            .ok_or_else(|| {
                FieldError::new(
                    "qty",
                    "out_of_range",
                    format!("qty × {factor} must be within 1..={MAX_QTY} base units"),
                )
            })?;
        if base < self.min_order_qty {
            return Err(FieldError::new(
                "qty",
                "below_minimum",
                format!(
                    "at least {} {} per order",
                    self.min_order_qty, self.base_unit
                ),
            ));
        }
        if base % self.order_multiple != 0 {
            return Err(FieldError::new(
                "qty",
                "not_a_multiple",
                format!(
                    "order in multiples of {} {}",
                    self.order_multiple, self.base_unit
                ),
            ));
        }
        Ok((name.to_owned(), factor, base))
    }
}

/// Validates pack units (`packs[i]`): names unique and different from the base unit,
/// factors 2..=10,000, GTINs valid (normalised to 14 digits) and not repeated.
pub fn validate_packs(base_unit: &str, packs: &[Pack]) -> Validated<Vec<Pack>> {
    let mut errors = Errors::default();
    if packs.len() > MAX_PACKS {
        errors.push(FieldError::new(
            "",
            "too_many",
            format!("at most {MAX_PACKS} pack units"),
        ));
    }
    let mut out: Vec<Pack> = Vec::new();
    for (i, p) in packs.iter().enumerate() {
        let field = format!("[{i}]");
        let Some(unit) = errors.take(validation::text(
            &format!("{field}.unit"),
            &p.unit,
            crate::catalog::MAX_UNIT,
        )) else {
            continue;
        };
        if unit == base_unit || out.iter().any(|o| o.unit == unit) {
            errors.push(FieldError::new(
                format!("{field}.unit"),
                "duplicate",
                format!("unit {unit} is named twice"),
            ));
        }
        if !(2..=10_000).contains(&p.factor) {
            errors.push(FieldError::new(
                format!("{field}.factor"),
                "out_of_range",
                "a pack holds 2 to 10,000 base units",
            ));
        }
        let gtin = match &p.gtin {
            Some(g) => errors.take(crate::gtin::normalize(&format!("{field}.gtin"), g)),
            None => None,
        };
        if let Some(g) = &gtin
            && out.iter().any(|o| o.gtin.as_ref() == Some(g))
        {
            errors.push(FieldError::new(
                format!("{field}.gtin"),
                "duplicate",
                format!("GTIN {g} is listed twice"),
            ));
        }
        out.push(Pack {
            unit,
            factor: p.factor,
            gtin,
        });
    }
    errors.finish(|| Some(out))
}

/// Validates a minimum order quantity or an order multiple (base units, 1..=1,000,000).
pub fn order_step(field: &str, value: i64) -> Result<i64, FieldError> {
    if (1..=1_000_000).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::new(
            field,
            "out_of_range",
            format!("{field} is 1 to 1,000,000 base units"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules(packs: &[Pack], min: i64, multiple: i64) -> OrderRules<'_> {
        OrderRules {
            base_unit: "件",
            packs,
            min_order_qty: min,
            order_multiple: multiple,
        }
    }

    #[test]
    fn pack_units_convert_and_rules_are_enforced() {
        let packs = [Pack {
            unit: "箱".into(),
            factor: 12,
            gtin: None,
        }];
        let r = rules(&packs, 6, 6);
        assert_eq!(r.to_base(2, Some("箱")).unwrap(), ("箱".to_owned(), 12, 24));
        assert_eq!(r.to_base(6, None).unwrap().2, 6);
        assert_eq!(r.to_base(3, Some("件")).unwrap_err().code, "below_minimum");
        assert_eq!(r.to_base(8, None).unwrap_err().code, "not_a_multiple");
        assert_eq!(r.to_base(1, Some("盒")).unwrap_err().code, "unknown_unit");
        assert_eq!(
            r.to_base(i64::MAX, Some("箱")).unwrap_err().code,
            "out_of_range"
        );
    }

    #[test]
    fn packs_are_validated() {
        let packs = [
            Pack {
                unit: "箱".into(),
                factor: 12,
                gtin: None,
            },
            Pack {
                unit: "箱".into(),
                factor: 1,
                gtin: None,
            },
            Pack {
                unit: "件".into(),
                factor: 4,
                gtin: Some("6901234567893".into()),
            },
        ];
        let fields: Vec<_> = validate_packs("件", &packs)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["[1].unit", "[1].factor", "[2].unit", "[2].gtin"]);
    }

    proptest! {
        #[test]
        fn base_quantity_is_qty_times_factor_and_always_meets_the_rules(
            qty in 1i64..100_000, factor in 2i64..100, min in 1i64..50, multiple in 1i64..13, in_pack: bool
        ) {
            let packs = [Pack { unit: "箱".into(), factor, gtin: None }];
            let r = rules(&packs, min, multiple);
            let unit = in_pack.then_some("箱");
            let expected_factor = if in_pack { factor } else { 1 };
            match r.to_base(qty, unit) {
                Ok((_, f, base)) => {
                    prop_assert_eq!(f, expected_factor);
                    prop_assert_eq!(base, qty * expected_factor);
                    prop_assert!(base >= min && base % multiple == 0);
                }
                Err(e) => {
                    let base = qty * expected_factor;
                    prop_assert!(base < min || base % multiple != 0 || base > MAX_QTY, "{:?}", e);
                }
            }
        }
    }
}
