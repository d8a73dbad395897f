//! Application Identifier lookup and value validation.
//!
//! [`ai_info`] tells callers (the CLI's `gs1 ai` help, the UI) what an AI
//! means; the crate-internal `validate_value` checks one AI value against
//! its format from the AI table (`ai_table.rs`): length, character set, check digits,
//! dates (`DD=00` allowed where the standard says so) and the other content
//! rules listed in the README.

use crate::ai_table::{Row, TABLE};
use crate::charset::Cset;
use crate::error::{Error, Result};
use crate::lint::lint;

/// Public description of one Application Identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct AiInfo {
    /// The AI digits, e.g. `"3103"`.
    pub ai: String,
    /// GS1 data title, e.g. `"NET WEIGHT (kg)"`.
    pub title: &'static str,
    /// Format in GS1 syntax dictionary notation, e.g. `"N6,yymmd0"`.
    pub format: &'static str,
    /// `true` if a GS separator must follow this AI's value in raw scanner
    /// data unless it is the last element.
    pub separator_required: bool,
    /// Minimum value length.
    pub min_len: usize,
    /// Maximum value length.
    pub max_len: usize,
}

/// Looks up an AI (2-4 digits, e.g. `"01"`, `"3103"`) in the GS1 AI table.
///
/// Returns `None` for AIs that GS1 has not assigned (e.g. `"04"`, `"3106"`).
pub fn ai_info(ai: &str) -> Option<AiInfo> {
    let row = lookup(ai)?;
    let comps = components(row.2)?;
    Some(AiInfo {
        ai: ai.to_string(),
        title: row.4,
        format: row.2,
        separator_required: !row.1,
        min_len: min_len(&comps),
        max_len: max_len(&comps),
    })
}

/// Finds the table row of an exact AI.
pub(crate) fn lookup(ai: &str) -> Option<&'static Row> {
    if !(2..=4).contains(&ai.len()) || !ai.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    TABLE.iter().find(|row| {
        let (lo, hi) = row.0.split_once('-').unwrap_or((row.0, row.0));
        lo.len() == ai.len() && lo <= ai && ai <= hi
    })
}

/// Length (2, 3 or 4) of the AI at the start of `digits`, if any AI matches.
pub(crate) fn ai_at(digits: &[char]) -> Option<(String, &'static Row)> {
    (2..=4).find_map(|n| {
        let cand: String = digits.get(..n)?.iter().collect();
        lookup(&cand).map(|row| (cand, row))
    })
}

/// One component of an AI format, e.g. `N6,yymmdd` or `[X..17]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Comp {
    pub(crate) cset: Cset,
    pub(crate) min: usize,
    pub(crate) max: usize,
    pub(crate) optional: bool,
    pub(crate) linters: &'static str,
}

/// Parses a format spec; `None` only if the static table is malformed
/// (a unit test checks that it never is).
pub(crate) fn components(spec: &'static str) -> Option<Vec<Comp>> {
    spec.split_whitespace()
        .map(|part| {
            let (optional, part) = match part.strip_prefix('[') {
                Some(rest) => (true, rest),
                None => (false, part),
            };
            let (ty, linters) = part.split_once(',').unwrap_or((part, ""));
            let ty = ty.strip_suffix(']').unwrap_or(ty);
            let cset = match ty.get(..1)? {
                "N" => Cset::Numeric,
                "X" => Cset::Cset82,
                "Y" => Cset::Cset39,
                "Z" => Cset::Cset64,
                _ => return None,
            };
            let len = ty.get(1..)?;
            let (min, max) = match len.strip_prefix("..") {
                Some(m) => (1, m.parse().ok()?),
                None => {
                    let n = len.parse().ok()?;
                    (n, n)
                }
            };
            Some(Comp {
                cset,
                min,
                max,
                optional,
                linters,
            })
        })
        .collect()
}

pub(crate) fn min_len(comps: &[Comp]) -> usize {
    comps.iter().filter(|c| !c.optional).map(|c| c.min).sum()
}

pub(crate) fn max_len(comps: &[Comp]) -> usize {
    comps.iter().map(|c| c.max).sum()
}

/// Validates `value` for `ai` (whose row is `row`).
pub(crate) fn validate_value(ai: &str, row: &'static Row, value: &str) -> Result<()> {
    let comps = components(row.2).ok_or_else(|| Error::UnknownAi {
        ai: ai.to_string(),
        offset: 0,
    })?;
    let chars: Vec<char> = value.chars().collect();
    let (min, max) = (min_len(&comps), max_len(&comps));
    if chars.len() > max {
        return Err(Error::ValueTooLong {
            ai: ai.into(),
            max,
            found: chars.len(),
        });
    }
    if chars.len() < min {
        return Err(Error::ValueTooShort {
            ai: ai.into(),
            min,
            found: chars.len(),
        });
    }
    let mut pos = 0;
    for comp in &comps {
        let rest = chars.len() - pos;
        if rest == 0 && comp.optional {
            break;
        }
        let take = if comp.min == comp.max {
            comp.min
        } else {
            rest.min(comp.max)
        };
        if take > rest {
            return Err(Error::ValueTooShort {
                ai: ai.into(),
                min: pos + take,
                found: chars.len(),
            });
        }
        let part = &chars[pos..pos + take];
        if let Some((i, &c)) = part
            .iter()
            .enumerate()
            .find(|(_, c)| !comp.cset.allows(**c))
        {
            return Err(Error::BadCharacter {
                context: format!("AI ({ai})"),
                offset: pos + i,
                found: c,
                allowed: comp.cset.describe(),
            });
        }
        let text: String = part.iter().collect();
        for linter in comp.linters.split(',').filter(|l| !l.is_empty()) {
            lint(ai, linter, &text)?;
        }
        pos += take;
    }
    if pos < chars.len() {
        return Err(Error::ValueTooLong {
            ai: ai.into(),
            max: pos,
            found: chars.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN_LINTERS: &[&str] = &[
        "csum",
        "yymmdd",
        "yymmd0",
        "yyyymmdd",
        "hhmi",
        "hh",
        "mi",
        "ss",
        "yesno",
        "zero",
        "nonzero",
        "winding",
        "iso5218",
        "hyphen",
        "pieceoftotal",
        "nozeroprefix",
        "hasnondigit",
        "alpha2",
        "latitude",
        "longitude",
        "posinseqslash",
        "pcenc",
        "csumalpha",
        "iban",
    ];

    #[test]
    fn table_is_well_formed() {
        for row in TABLE {
            let comps = components(row.2).unwrap_or_else(|| panic!("bad spec {}", row.2));
            assert!(!comps.is_empty());
            // Variable-length components only at the end.
            for c in &comps[..comps.len() - 1] {
                assert_eq!(c.min, c.max, "{}", row.0);
            }
            for c in &comps {
                for l in c.linters.split(',').filter(|l| !l.is_empty()) {
                    assert!(KNOWN_LINTERS.contains(&l), "{l}");
                }
            }
            // Predefined-length AIs are fixed length.
            if row.1 {
                assert_eq!(min_len(&comps), max_len(&comps), "{}", row.0);
            }
        }
        // Prefix-free: no AI is a prefix of another.
        let all: Vec<String> = (0..10000u32)
            .flat_map(|n| {
                [
                    format!("{:02}", n % 100),
                    format!("{:03}", n % 1000),
                    format!("{n:04}"),
                ]
            })
            .filter(|a| lookup(a).is_some())
            .collect();
        for a in &all {
            for b in &all {
                assert!(a == b || !b.starts_with(a.as_str()), "{a} prefixes {b}");
            }
        }
    }

    #[test]
    fn info() {
        let i = ai_info("3103").unwrap();
        assert_eq!(
            (i.title, i.separator_required, i.min_len),
            ("NET WEIGHT (kg)", false, 6)
        );
        assert!(ai_info("3106").is_none());
        assert!(ai_info("04").is_none());
        assert_eq!(ai_info("10").unwrap().max_len, 20);
        assert_eq!(ai_info("7007").unwrap().max_len, 12);
    }

    fn check(ai: &str, v: &str) -> std::result::Result<(), &'static str> {
        validate_value(ai, lookup(ai).unwrap(), v).map_err(|e| e.code())
    }

    #[test]
    fn values() {
        assert_eq!(check("17", "201225"), Ok(()));
        assert_eq!(check("17", "201200"), Ok(()));
        assert_eq!(check("11", "240200"), Ok(()));
        assert_eq!(check("7006", "240200"), Err("bad_date"));
        assert_eq!(check("17", "201232"), Err("bad_date"));
        assert_eq!(check("17", "241301"), Err("bad_date"));
        assert_eq!(check("17", "240229"), Ok(()));
        assert_eq!(check("17", "250229"), Err("bad_date"));
        assert_eq!(check("7250", "20000229"), Ok(()));
        assert_eq!(check("7250", "19000229"), Err("bad_date"));
        assert_eq!(check("17", "2012"), Err("value_too_short"));
        assert_eq!(check("10", "ABC#"), Err("bad_character"));
        assert_eq!(check("10", &"A".repeat(21)), Err("value_too_long"));
        assert_eq!(check("00", "106141412345678907"), Err("bad_check_digit"));
        assert_eq!(check("8013", "1987654Ad4X4bL5ttr2310c2K"), Ok(()));
        assert_eq!(
            check("8013", "1987654Ad4X4bL5ttr2310c2L"),
            Err("bad_check_digit")
        );
        assert_eq!(check("8007", "GB82WEST12345698765432"), Ok(()));
        assert_eq!(check("8007", "GB83WEST12345698765432"), Err("bad_value"));
        assert_eq!(check("4321", "2"), Err("bad_value"));
        assert_eq!(check("8006", "106141410000410204"), Err("bad_check_digit"));
        assert_eq!(check("8006", "106141410004150102"), Ok(()));
        assert_eq!(check("8006", "106141410004150302"), Err("bad_value"));
        assert_eq!(check("7007", "240101"), Ok(()));
        assert_eq!(check("7007", "240101240131"), Ok(()));
        assert_eq!(check("7007", "240101240"), Err("value_too_short"));
        assert_eq!(check("8010", "AB-12/#"), Ok(()));
        assert_eq!(check("8010", "ab"), Err("bad_character"));
        assert_eq!(check("4330", "003200-"), Ok(()));
        assert_eq!(check("4330", "003200+"), Err("bad_value"));
        assert_eq!(check("8008", "24010112"), Ok(()));
        assert_eq!(check("8008", "2401012460"), Err("bad_date"));
    }
}
