//! The single error type of the crate.
//!
//! Every parser in this crate reports failures through [`Error`]. Each variant
//! carries enough context (the AI, the offset, the expected and found values)
//! for its `Display` message to say exactly what is wrong, and
//! [`Error::code`] gives a stable machine-readable code that the CLI and the
//! HTTP API put in their JSON output, so clients can branch on it without
//! parsing English text.

use std::fmt;

/// Everything that can go wrong while parsing or encoding a GS1 code.
///
/// Offsets (`offset` fields) are 0-based and count Unicode scalar values
/// (characters), not bytes, in the input the caller passed in, so they can be
/// shown to users directly as "character N+1".
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input was empty (or only whitespace).
    Empty,
    /// A character is not allowed here.
    BadCharacter {
        /// What was being parsed, e.g. `"AI (10)"`, `"GTIN"`, `"EPC hex"`.
        context: String,
        /// 0-based character offset within `context`'s value.
        offset: usize,
        /// The offending character.
        found: char,
        /// Human description of the allowed set, e.g. `"digits"`.
        allowed: &'static str,
    },
    /// The overall length of a code is not one of the allowed lengths.
    BadLength {
        /// What was being parsed, e.g. `"GTIN"` or `"SGTIN-96 hex"`.
        context: String,
        /// Allowed lengths, human readable, e.g. `"8, 12, 13 or 14 digits"`.
        expected: String,
        /// The length that was found.
        found: usize,
    },
    /// A GS1 mod-10 check digit (or check character pair) does not match.
    BadCheckDigit {
        /// What was checked, e.g. `"GTIN"`, `"AI (00)"`, `"price"`.
        context: String,
        /// The correct check digit/characters.
        expected: String,
        /// What the input had.
        found: String,
    },
    /// An Application Identifier that is not in the GS1 AI table.
    UnknownAi {
        /// The AI digits as read (or the first digits if the AI length
        /// could not be determined).
        ai: String,
        /// 0-based offset of the AI in the input.
        offset: usize,
    },
    /// An AI value is shorter than its format allows.
    ValueTooShort {
        /// The AI.
        ai: String,
        /// Minimum length required at this point.
        min: usize,
        /// Length found.
        found: usize,
    },
    /// An AI value is longer than its format allows.
    ValueTooLong {
        /// The AI.
        ai: String,
        /// Maximum length allowed.
        max: usize,
        /// Length found.
        found: usize,
    },
    /// A variable-length (or FNC1-requiring) field ran past its maximum
    /// length without a GS (0x1D) separator.
    MissingSeparator {
        /// The AI whose value is not terminated.
        ai: String,
        /// 0-based offset in the input where a GS was expected.
        offset: usize,
    },
    /// A date/time component is not a real date or time.
    BadDate {
        /// The AI.
        ai: String,
        /// The offending component text, e.g. `"201331"`.
        value: String,
        /// What is wrong, e.g. `"month 13 is not 01-12"`.
        reason: String,
    },
    /// A value is syntactically fine but violates a rule of its field
    /// (e.g. a yes/no flag that is `2`, a zero that must be non-zero).
    BadValue {
        /// The field, e.g. `"AI (4321)"`.
        context: String,
        /// What is wrong.
        reason: String,
    },
    /// The same AI occurs twice with different values.
    DuplicateAi {
        /// The AI.
        ai: String,
    },
    /// An AI occurs without one of the AIs it requires (GS1 General
    /// Specifications section 4.14 "mandatory associations").
    MissingRequisiteAi {
        /// The AI that has the requirement.
        ai: String,
        /// The alternatives, any one of which would satisfy it, e.g. `"01 or 02"`.
        requires: String,
    },
    /// Two AIs occur together that must not (GS1 "invalid pairs").
    ExclusiveAi {
        /// The first AI.
        ai: String,
        /// The AI it must not be combined with.
        other: String,
    },
    /// The bracketed/human-readable syntax itself is malformed.
    BadSyntax {
        /// 0-based character offset.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A `]xy` symbology identifier that is not a GS1 or GTIN symbology.
    UnknownSymbology {
        /// The identifier as found, e.g. `"]A0"`.
        id: String,
    },
    /// An EPC header byte that is not one of the supported schemes.
    UnknownHeader {
        /// The 8-bit header value.
        header: u8,
    },
    /// An EPC partition value that is invalid (7) or inconsistent with the
    /// company prefix length.
    BadPartition {
        /// What is wrong.
        reason: String,
    },
    /// An EPC filter value outside 0-7.
    BadFilter {
        /// The filter as found.
        found: String,
    },
    /// A numeric EPC field does not fit its bits or digit count.
    ValueOutOfRange {
        /// The field, e.g. `"SGTIN-96 serial"`.
        context: String,
        /// What is wrong.
        reason: String,
    },
    /// A malformed EPC URI.
    BadUri {
        /// What is wrong.
        reason: String,
    },
    /// A recognised but unsupported EPC scheme (e.g. `gid-96`, `sgtin+`).
    UnsupportedScheme {
        /// The scheme name.
        scheme: String,
    },
    /// Bits that the standard requires to be zero (padding, reserved fields)
    /// are not.
    NonZeroPadding {
        /// Which field.
        context: String,
    },
    /// A variable-measure layout that is internally inconsistent.
    BadLayout {
        /// What is wrong.
        reason: String,
    },
    /// A 13-digit in-store code whose prefix is not covered by any layout.
    NoMatchingLayout {
        /// The first two digits.
        prefix: String,
    },
}

impl Error {
    /// Stable machine-readable code for this error, used as
    /// `error.code` in the CLI/HTTP JSON. These strings never change.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Empty => "empty",
            Error::BadCharacter { .. } => "bad_character",
            Error::BadLength { .. } => "bad_length",
            Error::BadCheckDigit { .. } => "bad_check_digit",
            Error::UnknownAi { .. } => "unknown_ai",
            Error::ValueTooShort { .. } => "value_too_short",
            Error::ValueTooLong { .. } => "value_too_long",
            Error::MissingSeparator { .. } => "missing_separator",
            Error::BadDate { .. } => "bad_date",
            Error::BadValue { .. } => "bad_value",
            Error::DuplicateAi { .. } => "duplicate_ai",
            Error::MissingRequisiteAi { .. } => "missing_requisite_ai",
            Error::ExclusiveAi { .. } => "exclusive_ai",
            Error::BadSyntax { .. } => "bad_syntax",
            Error::UnknownSymbology { .. } => "unknown_symbology",
            Error::UnknownHeader { .. } => "unknown_header",
            Error::BadPartition { .. } => "bad_partition",
            Error::BadFilter { .. } => "bad_filter",
            Error::ValueOutOfRange { .. } => "value_out_of_range",
            Error::BadUri { .. } => "bad_uri",
            Error::UnsupportedScheme { .. } => "unsupported_scheme",
            Error::NonZeroPadding { .. } => "nonzero_padding",
            Error::BadLayout { .. } => "bad_layout",
            Error::NoMatchingLayout { .. } => "no_matching_layout",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Empty => write!(f, "input is empty"),
            Error::BadCharacter {
                context,
                offset,
                found,
                allowed,
            } => write!(
                f,
                "{context}: invalid character {found:?} at offset {offset} (allowed: {allowed})"
            ),
            Error::BadLength {
                context,
                expected,
                found,
            } => write!(f, "{context}: length {found} is not {expected}"),
            Error::BadCheckDigit {
                context,
                expected,
                found,
            } => write!(
                f,
                "{context}: check digit is {found:?} but should be {expected:?}"
            ),
            Error::UnknownAi { ai, offset } => {
                write!(
                    f,
                    "unknown application identifier ({ai}) at offset {offset}"
                )
            }
            Error::ValueTooShort { ai, min, found } => write!(
                f,
                "AI ({ai}): value has {found} characters, needs at least {min}"
            ),
            Error::ValueTooLong { ai, max, found } => write!(
                f,
                "AI ({ai}): value has {found} characters, at most {max} allowed"
            ),
            Error::MissingSeparator { ai, offset } => write!(
                f,
                "AI ({ai}): value not terminated by a GS (0x1D) separator at offset {offset}"
            ),
            Error::BadDate { ai, value, reason } => {
                write!(f, "AI ({ai}): {value:?} is not a valid date/time: {reason}")
            }
            Error::BadValue { context, reason } => write!(f, "{context}: {reason}"),
            Error::DuplicateAi { ai } => {
                write!(f, "AI ({ai}) occurs more than once with different values")
            }
            Error::MissingRequisiteAi { ai, requires } => {
                write!(f, "AI ({ai}) requires AI {requires} in the same message")
            }
            Error::ExclusiveAi { ai, other } => {
                write!(f, "AI ({ai}) must not be combined with AI ({other})")
            }
            Error::BadSyntax { offset, reason } => write!(f, "at offset {offset}: {reason}"),
            Error::UnknownSymbology { id } => write!(
                f,
                "symbology identifier {id:?} is not supported (expected ]C1, ]e0, ]d2, ]Q3, ]J1, ]E0, ]E4 or ]I1)"
            ),
            Error::UnknownHeader { header } => write!(
                f,
                "EPC header 0x{header:02X} is not a supported scheme (SGTIN, SSCC, SGLN, GRAI, GIAI)"
            ),
            Error::BadPartition { reason } => write!(f, "bad EPC partition: {reason}"),
            Error::BadFilter { found } => {
                write!(f, "EPC filter {found:?} is not a digit 0-7")
            }
            Error::ValueOutOfRange { context, reason } => write!(f, "{context}: {reason}"),
            Error::BadUri { reason } => write!(f, "bad EPC URI: {reason}"),
            Error::UnsupportedScheme { scheme } => {
                write!(f, "EPC scheme {scheme:?} is not supported")
            }
            Error::NonZeroPadding { context } => {
                write!(f, "{context}: bits that must be zero are not")
            }
            Error::BadLayout { reason } => write!(f, "bad variable-measure layout: {reason}"),
            Error::NoMatchingLayout { prefix } => write!(
                f,
                "no variable-measure layout is configured for prefix {prefix}"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;
