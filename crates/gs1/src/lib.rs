//! GS1 barcodes and RFID tags for Stockbook.
//!
//! This crate has no dependency on the rest of Stockbook; the CLI (`gs1
//! parse`, `epc decode`) and the HTTP API are thin wrappers around it.
//!
//! * [`gtin`]: GTIN-8/12/13/14 check digits and normalisation to GTIN-14
//!   ([`normalize_gtin`]).
//! * [`element`]: GS1 element strings in bracketed `(01)…(10)…` and raw
//!   scanner form with GS separators, validated against the full GS1 AI
//!   table ([`ai_info`]) including requisite/exclusive AI associations.
//! * [`variable`]: in-store variable-measure EAN-13s (prefix 20-29) with
//!   configurable layouts for weight or price.
//! * [`scan`]: [`parse_code`], one entry point for anything a scanner sends.
//! * [`epc`]: EPC Tag Data Standard SGTIN/SSCC/SGLN/GRAI/GIAI encodings
//!   between hex, tag URI and pure-identity URI ([`decode_epc`],
//!   [`encode_epc`]).
//!
//! Every failure is an [`Error`] with a stable [`Error::code`].
//!
//! With the `serde` feature, the result types serialise to the JSON the CLI
//! prints ([`ScanReport`], [`EpcReport`]).

#![forbid(unsafe_code)]

pub mod ai;
mod ai_table;
mod charset;
pub mod element;
pub mod epc;
pub mod error;
pub mod gtin;
mod lint;
pub mod scan;
pub mod variable;

pub use ai::{AiInfo, ai_info};
pub use element::{
    Element, GS, check_associations, parse_bracketed, parse_raw, to_bracketed, to_raw,
    validate_elements,
};
pub use epc::{
    Epc, EpcReport, EpcScheme, decode_epc, decode_epc_report, encode_epc, tag_from_pure_identity,
};
pub use error::{Error, Result};
pub use gtin::{check_digit, complete_gtin, is_valid_gtin, normalize_gtin};
pub use scan::{
    ErrorInfo, Kind, ParseOptions, Scan, ScanReport, Symbology, parse_code, parse_code_with,
    parse_report,
};
pub use variable::{
    Field, MeasureKind, VariableMeasure, VariableMeasureLayout, decode_variable_measure,
    price_check_digit,
};
