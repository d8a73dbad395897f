//! Content checks ("linters") for AI components: check digits, dates and
//! times, flags, the alphanumeric check character pair, IBAN, etc.
//!
//! Not checked (documented in the README): membership in the ISO 3166
//! country, ISO 4217 currency and UN/ECE package type code lists, and the
//! internal structure of coupon AIs 8110/8112.

use crate::charset;
use crate::error::{Error, Result};
use crate::gtin::verify_check_digit;

fn num(s: &str) -> u32 {
    s.bytes().fold(0u32, |acc, b| {
        acc.saturating_mul(10)
            .saturating_add(u32::from(b.wrapping_sub(b'0')))
    })
}

fn days_in_month(year_is_leap: bool, month: u32) -> u32 {
    match month {
        2 if year_is_leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Checks a date; `year` is the full or 2-digit year (2-digit years are
/// leap when divisible by 4, exact for the GS1 sliding century window).
fn check_date(
    ai: &str,
    text: &str,
    leap: bool,
    month: u32,
    day: u32,
    day_zero_ok: bool,
) -> Result<()> {
    let bad = |reason: String| Error::BadDate {
        ai: ai.into(),
        value: text.into(),
        reason,
    };
    if !(1..=12).contains(&month) {
        return Err(bad(format!("month {month:02} is not 01-12")));
    }
    if day == 0 && day_zero_ok {
        return Ok(());
    }
    let dim = days_in_month(leap, month);
    if day == 0 || day > dim {
        return Err(bad(format!(
            "day {day:02} is not 01-{dim} for month {month:02}"
        )));
    }
    Ok(())
}

fn check_range(ai: &str, text: &str, what: &str, v: u32, max: u32) -> Result<()> {
    if v > max {
        return Err(Error::BadDate {
            ai: ai.into(),
            value: text.into(),
            reason: format!("{what} {v:02} is not 00-{max}"),
        });
    }
    Ok(())
}

/// Runs the content check `linter` (a name from the AI table) on the
/// component text `t` of AI `ai`. Unknown names pass (none exist; a unit
/// test in `ai.rs` checks the table).
pub(crate) fn lint(ai: &str, linter: &str, t: &str) -> Result<()> {
    let ctx = || format!("AI ({ai})");
    let bad = |reason: &str| {
        Err(Error::BadValue {
            context: ctx(),
            reason: reason.into(),
        })
    };
    // All date/time linters run on numeric components, so byte slicing below
    // is on ASCII digits only; `get` keeps it panic-free regardless.
    let sub = |a: usize, b: usize| num(t.get(a..b).unwrap_or(""));
    match linter {
        "csum" => verify_check_digit(&ctx(), t),
        "yymmdd" | "yymmd0" => check_date(
            ai,
            t,
            sub(0, 2) % 4 == 0,
            sub(2, 4),
            sub(4, 6),
            linter == "yymmd0",
        ),
        "yyyymmdd" => {
            let y = sub(0, 4);
            let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
            check_date(ai, t, leap, sub(4, 6), sub(6, 8), false)
        }
        "hhmi" => {
            check_range(ai, t, "hour", sub(0, 2), 23)?;
            check_range(ai, t, "minute", sub(2, 4), 59)
        }
        "hh" => check_range(ai, t, "hour", sub(0, 2), 23),
        "mi" => check_range(ai, t, "minute", sub(0, 2), 59),
        "ss" => check_range(ai, t, "second", sub(0, 2), 59),
        "yesno" if !matches!(t, "0" | "1") => bad("must be 0 (no) or 1 (yes)"),
        "zero" if t != "0" => bad("first digit must be 0"),
        "nonzero" if t.bytes().all(|b| b == b'0') => bad("dimension must not be zero"),
        "winding" if !matches!(t, "0" | "1" | "9") => bad("winding direction must be 0, 1 or 9"),
        "iso5218" if !matches!(t, "0" | "1" | "2" | "9") => {
            bad("sex code must be 0, 1, 2 or 9 (ISO 5218)")
        }
        "hyphen" if t != "-" => bad("optional sign must be '-'"),
        "pieceoftotal" => {
            let (p, n) = (sub(0, 2), sub(2, 4));
            if p == 0 || n == 0 || p > n {
                bad("piece number must be 01..total and total must not be 00")
            } else {
                Ok(())
            }
        }
        "nozeroprefix" if t.len() > 1 && t.starts_with('0') => bad("must not start with 0"),
        "hasnondigit" if t.bytes().all(|b| b.is_ascii_digit()) => bad("must contain a non-digit"),
        "alpha2" if !t.bytes().all(|b| b.is_ascii_uppercase()) => {
            bad("country code must be two letters A-Z")
        }
        "latitude" if sub(0, 10) > 1_800_000_000 => bad("latitude must be at most 1800000000"),
        "longitude" if sub(0, 10) > 3_600_000_000 => bad("longitude must be at most 3600000000"),
        "posinseqslash" => {
            let b = t.as_bytes();
            match b {
                [p @ b'1'..=b'9', b'/', n @ b'1'..=b'9'] if p <= n => Ok(()),
                _ => bad("must be \"n/m\" with 1 <= n <= m <= 9"),
            }
        }
        "pcenc" => {
            let b = t.as_bytes();
            for (i, &c) in b.iter().enumerate() {
                if c == b'%' {
                    let ok = b
                        .get(i + 1..i + 3)
                        .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
                    if !ok {
                        return bad("'%' must be followed by two hex digits");
                    }
                }
            }
            Ok(())
        }
        "csumalpha" => lint_csumalpha(ai, t),
        "iban" => lint_iban(ai, t),
        _ => Ok(()),
    }
}

fn lint_csumalpha(ai: &str, t: &str) -> Result<()> {
    let n = t.chars().count();
    if n < 3 {
        return Err(Error::ValueTooShort {
            ai: ai.into(),
            min: 3,
            found: n,
        });
    }
    let split = t.char_indices().nth(n - 2).map_or(0, |(i, _)| i);
    let (data, pair) = t.split_at(split);
    let expected: String = charset::check_pair(data)
        .map(|p| p.iter().collect())
        .unwrap_or_default();
    if expected != pair {
        return Err(Error::BadCheckDigit {
            context: format!("AI ({ai})"),
            expected,
            found: pair.into(),
        });
    }
    Ok(())
}

fn lint_iban(ai: &str, t: &str) -> Result<()> {
    let b = t.as_bytes();
    let fail = |reason: &str| {
        Err(Error::BadValue {
            context: format!("AI ({ai})"),
            reason: reason.into(),
        })
    };
    if b.len() < 5
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return fail("IBAN must be 2 letters, 2 check digits and uppercase alphanumerics");
    }
    let mut rem = 0u32;
    for &c in b[4..].iter().chain(&b[..4]) {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    if rem != 1 {
        return fail("IBAN check digits do not match (mod 97)");
    }
    Ok(())
}
