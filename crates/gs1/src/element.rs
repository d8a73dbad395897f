//! GS1 element strings: bracketed human-readable form and raw scanner form.
//!
//! A GS1-128, GS1 DataMatrix, GS1 QR or GS1 DataBar symbol carries a list of
//! (AI, value) pairs. Humans write them as `(01)09506000134352(10)ABC123`;
//! scanners transmit them concatenated, with a GS (0x1D) after every value
//! whose AI does not have a predefined length (unless it is last).
//!
//! Literal `(` inside a value is written `\(` in bracketed form, as in the
//! GS1 Syntax Engine, so every raw element string has a bracketed form.

use crate::ai::{self, ai_at, lookup, validate_value};
use crate::error::{Error, Result};

/// The GS (group separator, ASCII 0x1D) character that stands for FNC1 in
/// transmitted scanner data.
pub const GS: char = '\u{1d}';

/// One AI and its value, e.g. `("17", "201225")`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Element {
    /// The Application Identifier digits.
    pub ai: String,
    /// The value, exactly as encoded (dates stay `YYMMDD` etc.).
    pub value: String,
}

impl Element {
    /// Builds an element; no validation (use [`validate_elements`]).
    pub fn new(ai: impl Into<String>, value: impl Into<String>) -> Self {
        Element {
            ai: ai.into(),
            value: value.into(),
        }
    }

    /// GS1 data title of this AI (e.g. `"BATCH/LOT"`), if it is known.
    pub fn title(&self) -> Option<&'static str> {
        lookup(&self.ai).map(|row| row.4)
    }
}

/// Parses the bracketed form, e.g. `(01)09506000134352(17)201225(10)ABC123`,
/// validating every value against the AI table. Associations between AIs are
/// **not** checked here; see [`check_associations`].
pub fn parse_bracketed(input: &str) -> Result<Vec<Element>> {
    let chars: Vec<char> = input.chars().collect();
    if chars.is_empty() {
        return Err(Error::Empty);
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < chars.len() {
        if chars[pos] != '(' {
            return Err(Error::BadSyntax {
                offset: pos,
                reason: format!("expected '(' to start an AI, found {:?}", chars[pos]),
            });
        }
        let close = chars[pos..]
            .iter()
            .position(|&c| c == ')')
            .map(|i| pos + i)
            .ok_or_else(|| Error::BadSyntax {
                offset: pos,
                reason: "'(' without matching ')'".into(),
            })?;
        let ai: String = chars[pos + 1..close].iter().collect();
        if !(2..=4).contains(&ai.chars().count()) || !ai.chars().all(|c| c.is_ascii_digit()) {
            return Err(Error::BadSyntax {
                offset: pos + 1,
                reason: format!("AI must be 2 to 4 digits, found {ai:?}"),
            });
        }
        let row = lookup(&ai).ok_or_else(|| Error::UnknownAi {
            ai: ai.clone(),
            offset: pos + 1,
        })?;
        let mut value = String::new();
        let mut i = close + 1;
        while i < chars.len() && chars[i] != '(' {
            if chars[i] == '\\' && chars.get(i + 1) == Some(&'(') {
                value.push('(');
                i += 2;
            } else {
                value.push(chars[i]);
                i += 1;
            }
        }
        validate_value(&ai, row, &value)?;
        out.push(Element { ai, value });
        pos = i;
    }
    Ok(out)
}

/// Parses raw scanner data **after** its symbology identifier: AIs and
/// values concatenated, GS (0x1D) after values of AIs that are not of
/// predefined length. A leading GS (FNC1 in first position, as some scanners
/// send it) and a trailing GS are tolerated. Error offsets are relative to
/// `input`.
pub fn parse_raw(input: &str) -> Result<Vec<Element>> {
    let chars: Vec<char> = input.chars().collect();
    raw_elements(&chars, true)
}

/// Parses raw data; with `diagnose`, an over-long value is reported as a
/// missing separator when the data after some earlier split point parses.
fn raw_elements(chars: &[char], diagnose: bool) -> Result<Vec<Element>> {
    if chars.is_empty() {
        return Err(Error::Empty);
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < chars.len() {
        if chars[pos] == GS {
            pos += 1;
            continue;
        }
        let rest = &chars[pos..];
        let Some((ai, row)) = ai_at(rest) else {
            if let Some((i, &c)) = rest
                .iter()
                .take(2)
                .enumerate()
                .find(|(_, c)| !c.is_ascii_digit())
            {
                return Err(Error::BadCharacter {
                    context: "element string".into(),
                    offset: pos + i,
                    found: c,
                    allowed: "digits of an Application Identifier",
                });
            }
            let ai: String = rest
                .iter()
                .take(4)
                .take_while(|c| c.is_ascii_digit())
                .collect();
            return Err(Error::UnknownAi { ai, offset: pos });
        };
        let start = pos + ai.len();
        let comps = ai::components(row.2).unwrap_or_default();
        let max = ai::max_len(&comps);
        let field_end = chars[start..]
            .iter()
            .position(|&c| c == GS)
            .map_or(chars.len(), |i| start + i);
        let end = if row.1 {
            field_end.min(start + max)
        } else {
            field_end
        };
        let value: String = chars[start..end].iter().collect();
        if end - start > max && !row.1 && diagnose {
            // A run-on value: if the data after some split point within the
            // maximum length is a valid element string, a GS is missing (the
            // earliest such point is reported).
            let split = (1..=max).find(|&k| raw_elements(&chars[start + k..], false).is_ok());
            if let Some(k) = split {
                return Err(Error::MissingSeparator {
                    ai,
                    offset: start + k,
                });
            }
        }
        validate_value(&ai, row, &value)?;
        out.push(Element { ai, value });
        pos = end;
        if chars.get(pos) == Some(&GS) {
            pos += 1;
        }
    }
    if out.is_empty() {
        return Err(Error::Empty);
    }
    Ok(out)
}

/// Renders elements in bracketed form, escaping `(` in values as `\(`.
pub fn to_bracketed(elements: &[Element]) -> String {
    let mut s = String::new();
    for e in elements {
        s.push('(');
        s.push_str(&e.ai);
        s.push(')');
        s.push_str(&e.value.replace('(', "\\("));
    }
    s
}

/// Renders elements as raw scanner data (no symbology identifier), with a GS
/// after each value whose AI requires a separator, except the last.
pub fn to_raw(elements: &[Element]) -> String {
    let mut s = String::new();
    for (i, e) in elements.iter().enumerate() {
        s.push_str(&e.ai);
        s.push_str(&e.value);
        let predefined = lookup(&e.ai).is_some_and(|row| row.1);
        if !predefined && i + 1 < elements.len() {
            s.push(GS);
        }
    }
    s
}

/// Validates each element's value against the AI table (useful for
/// elements built by hand rather than parsed).
pub fn validate_elements(elements: &[Element]) -> Result<()> {
    for e in elements {
        let row = lookup(&e.ai).ok_or_else(|| Error::UnknownAi {
            ai: e.ai.clone(),
            offset: 0,
        })?;
        validate_value(&e.ai, row, &e.value)?;
    }
    Ok(())
}

fn pattern_matches(pattern: &str, ai: &str) -> bool {
    pattern.len() == ai.len()
        && pattern
            .bytes()
            .zip(ai.bytes())
            .all(|(p, a)| p == b'n' || p == a)
}

/// Checks duplicate AIs and the GS1 requisite ("req") and exclusive ("ex")
/// associations of the GS1 General Specifications 4.14 for every AI present,
/// e.g. (10) requires (01), (02), (03), (8006) or (8026); (02) requires (37);
/// (01) and (02) are exclusive; 3xxx measures require (01)/(02) or (00)/(01).
///
/// The standard says associations apply to all carriers on one physical
/// item, so callers that combine several barcodes should concatenate their
/// elements before calling this.
pub fn check_associations(elements: &[Element]) -> Result<()> {
    for (i, a) in elements.iter().enumerate() {
        if elements[..i]
            .iter()
            .any(|b| b.ai == a.ai && b.value != a.value)
        {
            return Err(Error::DuplicateAi { ai: a.ai.clone() });
        }
    }
    let present = |pat: &str| elements.iter().any(|e| pattern_matches(pat, &e.ai));
    for e in elements {
        let Some(row) = lookup(&e.ai) else { continue };
        for attr in row.3.split_whitespace() {
            if let Some(list) = attr.strip_prefix("ex=") {
                for pat in list.split(',') {
                    if let Some(other) = elements
                        .iter()
                        .find(|o| o.ai != e.ai && pattern_matches(pat, &o.ai))
                    {
                        return Err(Error::ExclusiveAi {
                            ai: e.ai.clone(),
                            other: other.ai.clone(),
                        });
                    }
                }
            }
        }
    }
    for e in elements {
        let Some(row) = lookup(&e.ai) else { continue };
        for attr in row.3.split_whitespace() {
            if let Some(list) = attr.strip_prefix("req=") {
                let ok = list.split(',').any(|alt| alt.split('+').all(present));
                if !ok {
                    return Err(Error::MissingRequisiteAi {
                        ai: e.ai.clone(),
                        requires: describe_alternatives(list),
                    });
                }
            }
        }
    }
    Ok(())
}

fn describe_alternatives(list: &str) -> String {
    let alts: Vec<String> = list
        .split(',')
        .map(|alt| {
            alt.split('+')
                .map(|p| format!("({})", p.replace('n', "x")))
                .collect::<Vec<_>>()
                .join(" and ")
        })
        .collect();
    match alts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(r: Result<Vec<Element>>) -> std::result::Result<Vec<Element>, &'static str> {
        r.map_err(|e| e.code())
    }

    #[test]
    fn bracketed_and_raw() {
        let b = "(01)09506000134352(17)201225(10)ABC123";
        let els = parse_bracketed(b).unwrap();
        assert_eq!(els.len(), 3);
        assert_eq!(els[2], Element::new("10", "ABC123"));
        assert_eq!(to_bracketed(&els), b);
        let raw = to_raw(&els);
        assert_eq!(
            raw,
            "010950600013435217201225\u{1d}"
                .trim_end_matches(GS)
                .to_string()
                + "10ABC123"
        );
        assert_eq!(parse_raw(&raw).unwrap(), els);
        // Variable field in the middle needs a GS.
        let els2 = parse_bracketed("(01)09506000134352(10)AB\\(12\\(3(17)201225").unwrap();
        assert_eq!(els2[1].value, "AB(12(3");
        assert_eq!(
            to_raw(&els2),
            "0109506000134352\u{1d}".trim_end_matches(GS).to_string() + "10AB(12(3\u{1d}17201225"
        );
        assert_eq!(parse_raw(&to_raw(&els2)).unwrap(), els2);
        assert_eq!(
            to_bracketed(&els2),
            "(01)09506000134352(10)AB\\(12\\(3(17)201225"
        );
    }

    #[test]
    fn raw_errors() {
        assert_eq!(codes(parse_raw("0109506000134353")), Err("bad_check_digit"));
        assert_eq!(codes(parse_raw("04123")), Err("unknown_ai"));
        assert_eq!(codes(parse_raw("01095060001343")), Err("value_too_short"));
        // (10) with 21 chars then (17) with no GS.
        assert_eq!(
            codes(parse_raw("0109506000134352101234567890123456789017201225")),
            Err("missing_separator")
        );
        assert_eq!(
            codes(parse_raw(&format!("10{}", "A".repeat(25)))),
            Err("value_too_long")
        );
        assert_eq!(
            codes(parse_raw("0109506000134352\u{1d}x")),
            Err("bad_character")
        );
        assert_eq!(codes(parse_raw("\u{1d}")), Err("empty"));
    }

    #[test]
    fn bracketed_errors() {
        assert_eq!(codes(parse_bracketed("01)x")), Err("bad_syntax"));
        assert_eq!(codes(parse_bracketed("(01")), Err("bad_syntax"));
        assert_eq!(codes(parse_bracketed("(1)x")), Err("bad_syntax"));
        assert_eq!(codes(parse_bracketed("(04)x")), Err("unknown_ai"));
        assert_eq!(codes(parse_bracketed("(10)")), Err("value_too_short"));
        assert_eq!(codes(parse_bracketed("(17)201232")), Err("bad_date"));
    }

    #[test]
    fn associations() {
        let p = |s| check_associations(&parse_bracketed(s).unwrap()).map_err(|e| e.code());
        assert_eq!(p("(01)09506000134352(10)A"), Ok(()));
        assert_eq!(p("(10)A"), Err("missing_requisite_ai"));
        assert_eq!(
            p("(01)09506000134352(02)09506000134352(37)5"),
            Err("exclusive_ai")
        );
        assert_eq!(p("(02)09506000134352"), Err("missing_requisite_ai"));
        assert_eq!(p("(00)106141412345678908(02)09506000134352(37)5"), Ok(()));
        assert_eq!(p("(3103)001250"), Err("missing_requisite_ai"));
        assert_eq!(
            p("(01)09506000134352(3103)001250(3102)012500"),
            Err("exclusive_ai")
        );
        assert_eq!(p("(01)09506000134352(3103)001250(3922)1250"), Ok(()));
        assert_eq!(p("(01)09506000134352(21)1(21)2"), Err("duplicate_ai"));
        assert_eq!(p("(01)09506000134352(21)1(21)1"), Ok(()));
        let e = check_associations(&parse_bracketed("(10)A").unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "AI (10) requires AI (01), (02), (03), (8006) or (8026) in the same message"
        );
    }
}
