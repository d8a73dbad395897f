//! Transfers of stock between two locations: created, shipped, received.
//!
//! Shipping takes the goods off the source's `on_hand` (a `transfer_out` movement) and
//! shows them as `incoming` at the destination; receiving puts what arrived on the
//! destination's `on_hand` (a `transfer_in` movement) and takes the shipped quantity off
//! `incoming`. What arrived may differ from what was shipped: the difference is recorded
//! on the transfer line as its discrepancy and nothing is invented to hide it.
//!
//! `incoming` is not a ledger figure: it is the sum of what transfers in transit carry to
//! a location, and `verify` checks it against exactly that.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{LocationCode, Sku, TransferId};
use crate::stock::MAX_QTY;
use crate::validation::{self, Errors, FieldError, Validated};

/// Most lines one transfer may hold.
pub const MAX_LINES: usize = 500;
/// Longest note accepted.
pub const MAX_NOTE: usize = 500;

/// A transfer as requested.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TransferInput {
    /// Its id, the idempotency key of its creation; generated when absent.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Code<64>>")
    )]
    pub id: Option<String>,
    /// Where the goods leave.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<32>"))]
    pub from: String,
    /// Where they go.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<32>"))]
    pub to: String,
    /// What, in base units.
    pub lines: Vec<QtyInput>,
    /// A note for the people shipping and receiving.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Text<500>>")
    )]
    pub note: Option<String>,
}

/// A SKU and a quantity.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct QtyInput {
    /// The product.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<64>"))]
    pub sku: String,
    /// Base units.
    pub qty: i64,
}

/// A validated transfer to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransfer {
    /// Its id.
    pub id: TransferId,
    /// Source.
    pub from: LocationCode,
    /// Destination.
    pub to: LocationCode,
    /// (SKU, base units), each SKU once.
    pub lines: Vec<(Sku, i64)>,
    /// The note.
    pub note: Option<String>,
}

/// Checks a list of (SKU, quantity) lines: each SKU once, quantities within `min..=MAX_QTY`.
pub fn qty_lines(lines: &[QtyInput], min: i64) -> Validated<Vec<(Sku, i64)>> {
    let mut errors = Errors::default();
    let mut out: Vec<(Sku, i64)> = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let sku = errors.take(Sku::parse(&format!("[{i}].sku"), &l.sku));
        if !(min..=MAX_QTY).contains(&l.qty) {
            errors.push(FieldError::new(
                format!("[{i}].qty"),
                "out_of_range",
                format!("qty is {min} to {MAX_QTY}"),
            ));
        }
        if let Some(sku) = sku {
            if out.iter().any(|(s, _)| s == &sku) {
                errors.push(FieldError::new(
                    format!("[{i}].sku"),
                    "duplicate",
                    format!("{sku} is named twice"),
                ));
            }
            out.push((sku, l.qty));
        }
    }
    errors.finish(|| Some(out))
}

impl TransferInput {
    /// Checks every field; `generated` is the id to use when none was given.
    pub fn validate(&self, generated: &str) -> Validated<NewTransfer> {
        let mut errors = Errors::default();
        let id = errors.take(TransferId::parse(
            "id",
            self.id.as_deref().unwrap_or(generated),
        ));
        let from = errors.take(LocationCode::parse("from", &self.from));
        let to = errors.take(LocationCode::parse("to", &self.to));
        if from.is_some() && from == to {
            errors.push(FieldError::new(
                "to",
                "same_location",
                "a transfer goes to another location",
            ));
        }
        if self.lines.is_empty() || self.lines.len() > MAX_LINES {
            errors.push(FieldError::new(
                "lines",
                if self.lines.is_empty() {
                    "required"
                } else {
                    "too_many"
                },
                format!("a transfer holds 1 to {MAX_LINES} lines"),
            ));
        }
        let lines = errors.nested("lines", qty_lines(&self.lines, 1));
        let note = match &self.note {
            Some(n) => errors.take(validation::text("note", n, MAX_NOTE)).map(Some),
            None => Some(None),
        };
        errors.finish(|| {
            Some(NewTransfer {
                id: id?,
                from: from?,
                to: to?,
                lines: lines?,
                note: note?,
            })
        })
    }
}

/// What arrived, as the receiving side reports it.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReceiveInput {
    /// Units that arrived per SKU; a shipped SKU left out arrived not at all, a SKU that
    /// was not shipped arrived unexpectedly.
    pub lines: Vec<QtyInput>,
}

impl ReceiveInput {
    /// Checks every line (zero is a valid quantity: nothing arrived).
    pub fn validate(&self) -> Validated<Vec<(Sku, i64)>> {
        let mut errors = Errors::default();
        if self.lines.len() > MAX_LINES {
            errors.push(FieldError::new(
                "lines",
                "too_many",
                format!("at most {MAX_LINES} lines"),
            ));
        }
        let lines = errors.nested("lines", qty_lines(&self.lines, 0));
        errors.finish(|| lines)
    }
}

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    /// Created, not shipped.
    Open,
    /// On the way.
    Shipped,
    /// Arrived and booked.
    Received,
}

impl TransferStatus {
    /// The status's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferStatus::Open => "open",
            TransferStatus::Shipped => "shipped",
            TransferStatus::Received => "received",
        }
    }

    /// Parses a stored or queried status.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        [
            TransferStatus::Open,
            TransferStatus::Shipped,
            TransferStatus::Received,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
        .ok_or_else(|| {
            FieldError::new(
                field,
                "unknown_status",
                "status is open, shipped or received",
            )
        })
    }
}

/// One line of a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct TransferLine {
    /// The product.
    pub sku: Sku,
    /// Units to ship (0 for a SKU that arrived without being shipped).
    pub qty: i64,
    /// Units that arrived, once received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<i64>,
    /// `received - qty`, once received: negative when short, positive when over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discrepancy: Option<i64>,
}

/// A transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Transfer {
    /// Its id.
    pub id: TransferId,
    /// Source.
    pub from: LocationCode,
    /// Destination.
    pub to: LocationCode,
    /// Where it stands.
    pub status: TransferStatus,
    /// Its lines, by SKU.
    pub lines: Vec<TransferLine>,
    /// The note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Who created it, and when.
    pub created_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Who shipped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_by: Option<String>,
    /// When it was shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_at: Option<DateTime<Utc>>,
    /// Who received it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_by: Option<String>,
    /// When it was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<DateTime<Utc>>,
}

impl Transfer {
    /// The lines after receiving `arrived` (absent SKUs: 0 arrived; unknown to the
    /// transfer: added with qty 0), with each line's discrepancy; in SKU order.
    pub fn received_lines(&self, arrived: &[(Sku, i64)]) -> Vec<TransferLine> {
        let mut lines: Vec<TransferLine> = self
            .lines
            .iter()
            .map(|l| {
                let got = arrived
                    .iter()
                    .find(|(s, _)| s == &l.sku)
                    .map_or(0, |(_, q)| *q);
                TransferLine {
                    received: Some(got),
                    discrepancy: Some(got - l.qty),
                    ..l.clone()
                }
            })
            .collect();
        for (sku, q) in arrived {
            if !self.lines.iter().any(|l| &l.sku == sku) {
                lines.push(TransferLine {
                    sku: sku.clone(),
                    qty: 0,
                    received: Some(*q),
                    discrepancy: Some(*q),
                });
            }
        }
        lines.sort_by(|a, b| a.sku.cmp(&b.sku));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(from: &str, to: &str, lines: &[(&str, i64)]) -> TransferInput {
        TransferInput {
            id: None,
            from: from.into(),
            to: to.into(),
            lines: lines
                .iter()
                .map(|(s, q)| QtyInput {
                    sku: (*s).into(),
                    qty: *q,
                })
                .collect(),
            note: None,
        }
    }

    #[test]
    fn a_transfer_goes_somewhere_else_with_each_sku_once() {
        let fields = |i: TransferInput| -> Vec<String> {
            i.validate("TR-1")
                .unwrap_err()
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields(input("WH", "WH", &[("A", 1)])), ["to"]);
        assert_eq!(
            fields(input("WH", "ST", &[("A", 1), ("A", 0)])),
            ["lines[1].qty", "lines[1].sku"]
        );
        assert_eq!(fields(input("WH", "ST", &[])), ["lines"]);
        assert_eq!(
            input("WH", "ST", &[("A", 1)])
                .validate("TR-1")
                .unwrap()
                .id
                .as_str(),
            "TR-1"
        );
    }

    #[test]
    fn receiving_records_shortages_and_surprises() {
        let sku = |s: &str| Sku::from_trusted(s.into());
        let t = Transfer {
            id: TransferId::from_trusted("T".into()),
            from: LocationCode::from_trusted("WH".into()),
            to: LocationCode::from_trusted("ST".into()),
            status: TransferStatus::Shipped,
            lines: ["A", "B"]
                .map(|s| TransferLine {
                    sku: sku(s),
                    qty: 10,
                    received: None,
                    discrepancy: None,
                })
                .to_vec(),
            note: None,
            created_by: "x".into(),
            created_at: Utc::now(),
            shipped_by: None,
            shipped_at: None,
            received_by: None,
            received_at: None,
        };
        let lines = t.received_lines(&[(sku("A"), 9), (sku("C"), 1)]);
        let got: Vec<(&str, i64, Option<i64>)> = lines
            .iter()
            .map(|l| (l.sku.as_str(), l.qty, l.discrepancy))
            .collect();
        assert_eq!(
            got,
            [("A", 10, Some(-1)), ("B", 10, Some(-10)), ("C", 0, Some(1))]
        );
    }
}
