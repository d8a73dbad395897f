//! GS1 character sets and the alphanumeric check character pair.
//!
//! The AI table restricts values to one of these sets (GS1 General
//! Specifications 7.11): numeric, CSET 82 (the "X" format, also what EPC
//! 7-bit string fields may hold), CSET 39 (the "Y" format used by AI 8010)
//! and CSET 64 (the "Z" format, base64url, used by AI 8030).

/// The 82 characters of GS1 AI encodable character set 82, in the order of
/// their values 0..=81 (used by the check character pair algorithm).
pub(crate) const CSET82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/// The 32 characters used for check character pairs (GS1 7.9.5).
const CSET32: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Character classes of the AI format table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cset {
    /// `N`: digits 0-9.
    Numeric,
    /// `X`: GS1 AI encodable character set 82.
    Cset82,
    /// `Y`: GS1 AI encodable character set 39.
    Cset39,
    /// `Z`: GS1 AI encodable character set 64 (base64url, `=` padding).
    Cset64,
}

impl Cset {
    pub(crate) fn allows(self, c: char) -> bool {
        match self {
            Cset::Numeric => c.is_ascii_digit(),
            Cset::Cset82 => is_cset82(c),
            Cset::Cset39 => {
                c.is_ascii_digit() || c.is_ascii_uppercase() || matches!(c, '#' | '-' | '/')
            }
            Cset::Cset64 => c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '='),
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Cset::Numeric => "digits",
            Cset::Cset82 => "GS1 CSET 82",
            Cset::Cset39 => "GS1 CSET 39 (0-9 A-Z # - /)",
            Cset::Cset64 => "GS1 CSET 64 (base64url)",
        }
    }
}

/// `true` if `c` is in GS1 CSET 82.
pub(crate) fn is_cset82(c: char) -> bool {
    c.is_ascii() && CSET82.as_bytes().contains(&(c as u8))
}

fn cset82_value(c: char) -> Option<u32> {
    if !c.is_ascii() {
        return None;
    }
    CSET82
        .bytes()
        .position(|b| b == c as u8)
        .and_then(|p| u32::try_from(p).ok())
}

const PRIMES: [u32; 23] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83,
];

/// Computes the two check characters of GS1 7.9.5 (used by AI 8013 GMN and
/// 8014 MUDI) for `data` (which excludes the check pair). Returns `None` if
/// `data` has a non-CSET 82 character or more than 23 characters.
pub(crate) fn check_pair(data: &str) -> Option<[char; 2]> {
    let mut sum = 0u32;
    for (i, c) in data.chars().rev().enumerate() {
        let w = *PRIMES.get(i)?;
        sum += cset82_value(c)? * w;
    }
    let sum = (sum % 1021) as usize;
    let hi = *CSET32.get(sum >> 5)?;
    let lo = *CSET32.get(sum & 31)?;
    Some([char::from(hi), char::from(lo)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cset_sizes() {
        assert_eq!(CSET82.len(), 82);
        assert_eq!(
            (0u8..128)
                .filter(|&b| Cset::Cset39.allows(char::from(b)))
                .count(),
            39
        );
        assert_eq!(
            (0u8..128)
                .filter(|&b| Cset::Cset64.allows(char::from(b)))
                .count(),
            65
        );
        assert!(!is_cset82('é'));
        assert!(!is_cset82(' '));
        assert!(!is_cset82('#'));
    }

    #[test]
    fn check_pair_vectors() {
        // GS1 General Specifications example GMN "1987654Ad4X4bL5ttr2310c" + "2K".
        assert_eq!(check_pair("1987654Ad4X4bL5ttr2310c"), Some(['2', 'K']));
        assert_eq!(check_pair("12345"), check_pair("12345"));
        assert_eq!(check_pair("é"), None);
    }
}
