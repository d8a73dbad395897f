//! EPC tag URIs (`urn:epc:tag:sgtin-96:F.CP.IR.S`) and pure-identity URIs
//! (`urn:epc:id:sgtin:CP.IR.S`), including the TDS escaping of
//! alphanumeric components.

use super::Fields;
use super::codec::check_chars_len;
use super::scheme::{Def, EpcScheme, First, Tail};
use crate::charset::is_cset82;
use crate::error::{Error, Result};

/// CSET 82 characters that must be %-escaped in an EPC URI (TDS table A-1).
const MUST_ESCAPE: &str = "\"%&/<>?";

/// Escapes an alphanumeric component for use in an EPC URI.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if MUST_ESCAPE.contains(c) {
            out.push_str(&format!("%{:02X}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Reverses [`escape`]; every `%XX` must denote a CSET 82 character and
/// unescaped characters must be CSET 82 characters that need no escaping.
pub(crate) fn unescape(s: &str, context: &str) -> Result<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '%' {
            let hex: String = chars
                .get(i + 1..i + 3)
                .map(|h| h.iter().collect())
                .unwrap_or_default();
            let v = u8::from_str_radix(&hex, 16)
                .ok()
                .filter(|_| hex.len() == 2 && hex.chars().all(|h| h.is_ascii_hexdigit()))
                .map(char::from)
                .filter(|&d| is_cset82(d))
                .ok_or_else(|| Error::BadUri {
                    reason: format!("{context}: '%' at offset {i} is not followed by two hex digits of a CSET 82 character"),
                })?;
            out.push(v);
            i += 3;
            continue;
        }
        if !is_cset82(c) || MUST_ESCAPE.contains(c) {
            return Err(Error::BadCharacter {
                context: context.into(),
                offset: i,
                found: c,
                allowed: "GS1 CSET 82 with \"%&/<>? escaped as %XX",
            });
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

fn digits(s: &str, context: &str) -> Result<()> {
    match s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        Some((offset, found)) => Err(Error::BadCharacter {
            context: context.into(),
            offset,
            found,
            allowed: "digits",
        }),
        None => Ok(()),
    }
}

/// Checks a decimal integer component: digits, no leading zeros, below
/// `2^bits` and (if given) at most `max_digits` digits.
fn int_component(s: &str, context: &str, bits: usize, max_digits: Option<usize>) -> Result<()> {
    digits(s, context)?;
    let range = |reason: String| Error::ValueOutOfRange {
        context: context.into(),
        reason,
    };
    if s.is_empty() {
        return Err(range("must not be empty".into()));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(range(format!(
            "{s:?} has leading zeros, which this integer field cannot encode"
        )));
    }
    if let Some(m) = max_digits.filter(|&m| s.len() > m) {
        return Err(range(format!("{s:?} has more than {m} digits")));
    }
    let v: u128 = s
        .parse()
        .map_err(|_| range(format!("{s:?} is too large")))?;
    if v >= 1u128 << bits {
        return Err(range(format!("{s:?} does not fit in {bits} bits")));
    }
    Ok(())
}

/// `true` if `s` could be encoded by an integer field of `bits` bits.
pub(crate) fn fits_int(s: &str, bits: usize, max_digits: Option<usize>) -> bool {
    int_component(s, "", bits, max_digits).is_ok()
}

/// Parses the dot-separated identity components (after the filter for tag
/// URIs) into validated fields. Alphanumeric components are unescaped.
/// The last component may itself contain `.` (allowed unescaped in
/// alphanumeric components), so `body` is split into at most as many parts
/// as the scheme has.
pub(crate) fn parse_components(scheme: EpcScheme, filter: u8, body: &str) -> Result<Fields> {
    let def: &Def = scheme.def();
    let want = match def.tail {
        Tail::Int(_) | Tail::Chars(..) => 3,
        Tail::None | Tail::Reserved(_) => 2,
    };
    let parts: Vec<&str> = body.splitn(want, '.').collect();
    if parts.len() != want {
        return Err(Error::BadUri {
            reason: format!(
                "{} needs {want} dot-separated identity components after the filter, found {}",
                def.tag_name,
                parts.len()
            ),
        });
    }
    let cp = parts[0];
    digits(cp, "company prefix")?;
    if !(6..=12).contains(&cp.len()) {
        return Err(Error::BadPartition {
            reason: format!(
                "company prefix must have 6 to 12 digits, found {}",
                cp.len()
            ),
        });
    }
    let p = 12 - cp.len();
    let (_, _, ob, od) = def.table[p];
    let first = match def.first {
        First::Padded => {
            digits(parts[1], "reference")?;
            if cp.len() + parts[1].len() != def.key_digits {
                return Err(Error::BadLength {
                    context: format!("{} company prefix + reference", def.id_name),
                    expected: format!("{} digits", def.key_digits),
                    found: cp.len() + parts[1].len(),
                });
            }
            parts[1].to_string()
        }
        First::Unpadded => {
            int_component(
                parts[1],
                &format!("{} asset reference", def.tag_name),
                ob,
                Some(od),
            )?;
            parts[1].to_string()
        }
        First::Chars => {
            let s = unescape(parts[1], "asset reference")?;
            check_chars_len(def.tag_name, "asset reference", &s, od)?;
            s
        }
    };
    let second = match def.tail {
        Tail::Int(bits) => {
            int_component(
                parts[2],
                &format!("{} serial/extension", def.tag_name),
                bits,
                None,
            )?;
            Some(parts[2].to_string())
        }
        Tail::Chars(_, max) => {
            let s = unescape(parts[2], "serial/extension")?;
            check_chars_len(def.tag_name, "serial/extension", &s, max)?;
            Some(s)
        }
        Tail::None | Tail::Reserved(_) => None,
    };
    Ok(Fields {
        scheme,
        filter,
        cp: cp.to_string(),
        first,
        second,
    })
}

/// Parses a tag URI, e.g. `urn:epc:tag:sgtin-96:3.0614141.812345.6789`.
pub(crate) fn parse_tag_uri(uri: &str) -> Result<Fields> {
    let rest = uri
        .strip_prefix("urn:epc:tag:")
        .ok_or_else(|| Error::BadUri {
            reason: "tag URI must start with urn:epc:tag:".into(),
        })?;
    let (name, body) = rest.split_once(':').ok_or_else(|| Error::BadUri {
        reason: "expected urn:epc:tag:SCHEME:FILTER.…".into(),
    })?;
    let scheme = EpcScheme::from_name(name)?;
    let (filter_text, body) = body.split_once('.').unwrap_or((body, ""));
    let filter = match filter_text.as_bytes() {
        [d @ b'0'..=b'7'] => d - b'0',
        _ => {
            return Err(Error::BadFilter {
                found: filter_text.to_string(),
            });
        }
    };
    parse_components(scheme, filter, body)
}

/// Splits a pure-identity URI into its identity name and body.
pub(crate) fn split_pure_uri(uri: &str) -> Result<(&str, &str)> {
    let rest = uri
        .strip_prefix("urn:epc:id:")
        .ok_or_else(|| Error::BadUri {
            reason: "pure-identity URI must start with urn:epc:id:".into(),
        })?;
    let (name, body) = rest.split_once(':').ok_or_else(|| Error::BadUri {
        reason: "expected urn:epc:id:SCHEME:…".into(),
    })?;
    Ok((name, body))
}

/// The identity components of `f`, dot-joined, escaped: the part shared by
/// the tag URI (after the filter) and the pure-identity URI.
pub(crate) fn body(f: &Fields) -> String {
    let mut s = format!("{}.", f.cp);
    match f.scheme.def().first {
        First::Chars => s.push_str(&escape(&f.first)),
        _ => s.push_str(&f.first),
    }
    if let Some(second) = &f.second {
        s.push('.');
        s.push_str(&escape(second));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape("a/b%c\"d&<>?"), "a%2Fb%25c%22d%26%3C%3E%3F");
        assert_eq!(unescape("a%2Fb%25c", "s").unwrap(), "a/b%c");
        assert_eq!(unescape("%2f", "s").unwrap(), "/");
        assert_eq!(unescape("a/b", "s").unwrap_err().code(), "bad_character");
        assert_eq!(unescape("a%2", "s").unwrap_err().code(), "bad_uri");
        assert_eq!(unescape("a%20", "s").unwrap_err().code(), "bad_uri");
        assert_eq!(unescape("é", "s").unwrap_err().code(), "bad_character");
    }
}
