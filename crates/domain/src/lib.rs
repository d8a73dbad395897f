//! Stockbook's domain: the types and rules every other crate agrees on.
//!
//! Nothing here does I/O. Inputs arrive as loosely typed `*Input` structs (what a JSON
//! body or a CSV row holds) and leave through a `validate` method as strongly typed values
//! or as a list of [`FieldError`]s naming each bad field, so the HTTP API, the CSV import
//! and the store all apply the same rules.

pub mod alert;
pub mod auth;
pub mod catalog;
pub mod code;
pub mod count;
pub mod customer;
pub mod device;
pub mod edge;
pub mod gtin;
pub mod ids;
pub mod money;
pub mod order;
pub mod pos;
pub mod pricing;
pub mod rfid;
#[cfg(feature = "schemars")]
pub mod schema;
pub mod stock;
pub mod transfer;
pub mod units;
pub mod validation;
pub mod webhook;

pub use validation::{FieldError, Validated};
