//! One entry point for whatever a scanner or a user typed: [`parse_code`].
//!
//! It recognises AIM symbology identifiers (`]C1` GS1-128, `]e0` GS1
//! DataBar, `]d2` GS1 DataMatrix, `]Q3` GS1 QR, `]J1` GS1 DotCode, `]E0`
//! EAN-13/UPC-A, `]E4` EAN-8, `]I1` ITF-14), the bracketed human-readable
//! form, bare GTIN digits and bare raw element strings, and in-store
//! variable-measure EAN-13s.

use crate::element::{Element, check_associations, parse_bracketed, parse_raw};
use crate::error::{Error, Result};
use crate::gtin::normalize_gtin;
use crate::variable::{VariableMeasure, VariableMeasureLayout, decode_variable_measure};

/// What kind of code was scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[cfg_attr(feature = "schemars", schemars(rename = "ScanKind"))]
pub enum Kind {
    /// A plain GTIN-8/12/13/14 (EAN/UPC/ITF-14 or bare digits).
    Gtin,
    /// A GS1 element string (AIs and values).
    ElementString,
    /// An in-store variable-measure EAN-13 (prefix 20-29).
    VariableMeasure,
}

/// The symbology the scanner reported via its `]xy` identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Symbology {
    /// `]C1`
    Gs1_128,
    /// `]e0`
    Gs1DataBar,
    /// `]d2`
    Gs1DataMatrix,
    /// `]Q3`
    Gs1Qr,
    /// `]J1`
    Gs1DotCode,
    /// `]E0` (UPC-A is transmitted as 13 digits with a leading 0)
    Ean13,
    /// `]E4`
    Ean8,
    /// `]I1`
    Itf14,
}

/// The result of [`parse_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Scan {
    /// What was scanned.
    pub kind: Kind,
    /// The symbology, if the input started with an identifier.
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub symbology: Option<Symbology>,
    /// The trade item as 14 digits: the GTIN itself, AI (01) (or (02) if
    /// there is no (01)) of an element string, or the scanned
    /// variable-measure code padded to 14 digits.
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub gtin: Option<String>,
    /// The AIs in order. A plain GTIN yields one `01` element; a
    /// variable-measure code yields none.
    pub elements: Vec<Element>,
    /// Item code and weight/price of a variable-measure code.
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub variable_measure: Option<VariableMeasure>,
}

/// Knobs for [`parse_code_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// Layouts tried, in order, for 13-digit codes starting with one of their
    /// prefixes. Empty means "treat 20-29 codes as plain GTIN-13s".
    pub layouts: Vec<VariableMeasureLayout>,
    /// Enforce GS1 requisite/exclusive AI associations within the one
    /// scanned message (see [`check_associations`]). Turn off when the
    /// other carriers on the same item are combined by the caller.
    pub check_associations: bool,
}

impl Default for ParseOptions {
    /// The default China price layout and association checks on.
    fn default() -> Self {
        ParseOptions {
            layouts: vec![VariableMeasureLayout::default()],
            check_associations: true,
        }
    }
}

/// Parses any scanned or typed code with [`ParseOptions::default`].
///
/// ```
/// let s = gs1::parse_code("(01)09506000134352(17)201225(10)ABC123").unwrap();
/// assert_eq!(s.kind, gs1::Kind::ElementString);
/// assert_eq!(s.gtin.as_deref(), Some("09506000134352"));
/// assert_eq!(gs1::parse_code("]E09506000134353").unwrap_err().code(), "bad_check_digit");
/// ```
pub fn parse_code(code: &str) -> Result<Scan> {
    parse_code_with(code, &ParseOptions::default())
}

/// Parses any scanned or typed code (see the module docs for the forms).
///
/// Surrounding spaces, tabs, CR and LF (keyboard-wedge scanners add them)
/// are ignored.
pub fn parse_code_with(code: &str, opts: &ParseOptions) -> Result<Scan> {
    let code = code.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
    if code.is_empty() {
        return Err(Error::Empty);
    }
    if let Some(rest) = code.strip_prefix(']') {
        let id: String = rest.chars().take(2).collect();
        let data = rest.get(id.len()..).unwrap_or("");
        let (sym, gtin_len) = match id.as_str() {
            "C1" => (Symbology::Gs1_128, None),
            "e0" => (Symbology::Gs1DataBar, None),
            "d2" => (Symbology::Gs1DataMatrix, None),
            "Q3" => (Symbology::Gs1Qr, None),
            "J1" => (Symbology::Gs1DotCode, None),
            "E0" => (Symbology::Ean13, Some(13)),
            "E4" => (Symbology::Ean8, Some(8)),
            "I1" => (Symbology::Itf14, Some(14)),
            _ => {
                return Err(Error::UnknownSymbology {
                    id: format!("]{id}"),
                });
            }
        };
        let mut scan = match gtin_len {
            Some(n) => {
                let len = data.chars().count();
                if len != n && data.chars().all(|c| c.is_ascii_digit()) {
                    return Err(Error::BadLength {
                        context: format!("]{id} data"),
                        expected: format!("{n} digits"),
                        found: len,
                    });
                }
                gtin_scan(data, opts)?
            }
            None => element_scan(parse_raw(data)?, opts)?,
        };
        scan.symbology = Some(sym);
        return Ok(scan);
    }
    if code.starts_with('(') {
        return element_scan(parse_bracketed(code)?, opts);
    }
    if code.bytes().all(|b| b.is_ascii_digit()) && matches!(code.len(), 8 | 12 | 13 | 14) {
        return gtin_scan(code, opts);
    }
    element_scan(parse_raw(code)?, opts)
}

fn gtin_scan(digits: &str, opts: &ParseOptions) -> Result<Scan> {
    let gtin = normalize_gtin(digits)?;
    if digits.len() == 13 {
        match decode_variable_measure(digits, &opts.layouts) {
            Ok(vm) => {
                return Ok(Scan {
                    kind: Kind::VariableMeasure,
                    symbology: None,
                    gtin: Some(gtin),
                    elements: Vec::new(),
                    variable_measure: Some(vm),
                });
            }
            Err(Error::NoMatchingLayout { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Scan {
        kind: Kind::Gtin,
        symbology: None,
        gtin: Some(gtin.clone()),
        elements: vec![Element::new("01", gtin)],
        variable_measure: None,
    })
}

fn element_scan(elements: Vec<Element>, opts: &ParseOptions) -> Result<Scan> {
    if opts.check_associations {
        check_associations(&elements)?;
    }
    let find = |ai: &str| {
        elements
            .iter()
            .find(|e| e.ai == ai)
            .map(|e| e.value.clone())
    };
    Ok(Scan {
        kind: Kind::ElementString,
        symbology: None,
        gtin: find("01").or_else(|| find("02")),
        elements,
        variable_measure: None,
    })
}

/// Machine-readable error for JSON output: `{"code","message"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ErrorInfo {
    /// [`Error::code`].
    pub code: String,
    /// The `Display` text of the error.
    pub message: String,
}

impl From<&Error> for ErrorInfo {
    fn from(e: &Error) -> Self {
        ErrorInfo {
            code: e.code().to_string(),
            message: e.to_string(),
        }
    }
}

/// What `gs1 parse CODE` prints: `{"valid","kind"?,"gtin"?,"elements",
/// "variable_measure"?,"error"?}`. Built from a parse result so the CLI and
/// the HTTP API cannot drift apart.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct ScanReport {
    /// `true` if the code parsed.
    pub valid: bool,
    /// See [`Scan::kind`]; absent when invalid.
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub kind: Option<Kind>,
    /// See [`Scan::gtin`].
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub gtin: Option<String>,
    /// See [`Scan::elements`]; empty when invalid.
    pub elements: Vec<Element>,
    /// See [`Scan::variable_measure`].
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub variable_measure: Option<VariableMeasure>,
    /// Why the code is invalid.
    #[cfg_attr(
        feature = "serde",
        serde(skip_serializing_if = "Option::is_none", default)
    )]
    pub error: Option<ErrorInfo>,
}

impl From<Result<Scan>> for ScanReport {
    fn from(r: Result<Scan>) -> Self {
        match r {
            Ok(s) => ScanReport {
                valid: true,
                kind: Some(s.kind),
                gtin: s.gtin,
                elements: s.elements,
                variable_measure: s.variable_measure,
                error: None,
            },
            Err(e) => ScanReport {
                valid: false,
                kind: None,
                gtin: None,
                elements: Vec::new(),
                variable_measure: None,
                error: Some(ErrorInfo::from(&e)),
            },
        }
    }
}

/// `parse_code` wrapped into a [`ScanReport`].
pub fn parse_report(code: &str) -> ScanReport {
    ScanReport::from(parse_code(code))
}
