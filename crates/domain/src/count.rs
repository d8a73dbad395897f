//! Cycle counts: open, feed (by scanning or by RFID), compare, approve or cancel.
//!
//! # The figure an approval posts
//!
//! A count is opened with a snapshot of the book figure of each SKU in scope
//! (`expected`). The store keeps selling while people count, so the book moves during the
//! count, and a counted figure is only comparable with the book *at the moment it was
//! counted*. Each time a SKU is counted (a scan or a new RFID tag), the store records the
//! book figure of that moment (`book`). At approval:
//!
//! ```text
//! correction = counted - book            (book: at the SKU's last count input)
//! on_hand    = on_hand now + correction   (so movements after the count stay applied)
//! ```
//!
//! A sale before the SKU was counted is in `book` and not on the shelf: no correction. A
//! sale after it was counted is on the shelf when counted and in the book afterwards: no
//! correction either, and on_hand ends at `counted - sold`. A SKU in scope that was never
//! counted was not found: its book is taken at approval and it is corrected to zero. The
//! one case no rule can see is a sale from the part of a SKU already counted while the rest
//! of that SKU is still being counted; count a SKU in one go to avoid it.
//!
//! `variance` shows what approval will post: `counted - book`; `moved` shows how far the
//! book moved between the snapshot and the count (`book - expected`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CountId, LocationCode, Sku};
use crate::pos::{ItemRef, LineInput};
use crate::stock::MAX_QTY;
use crate::validation::{Errors, FieldError, Validated};

/// Most SKUs a count may be opened for by name.
pub const MAX_SKUS: usize = 5_000;
/// Most lines one scan request may hold.
pub const MAX_SCAN_LINES: usize = 1_000;

/// A count as requested.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CountInput {
    /// Its id; generated when absent.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Code<64>>")
    )]
    pub id: Option<String>,
    /// Where to count.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<32>"))]
    pub location: String,
    /// Only these SKUs; every SKU with a level at the location when absent.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<Vec<crate::schema::Code<64>>>")
    )]
    pub skus: Option<Vec<String>>,
}

/// A validated count to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCount {
    /// Its id.
    pub id: CountId,
    /// Where.
    pub location: LocationCode,
    /// The SKUs in scope, or `None` for all.
    pub skus: Option<Vec<Sku>>,
}

impl CountInput {
    /// Checks every field; `generated` is the id to use when none was given.
    pub fn validate(&self, generated: &str) -> Validated<NewCount> {
        let mut errors = Errors::default();
        let id = errors.take(CountId::parse(
            "id",
            self.id.as_deref().unwrap_or(generated),
        ));
        let location = errors.take(LocationCode::parse("location", &self.location));
        let skus = match &self.skus {
            None => Some(None),
            Some(list) => {
                if list.is_empty() || list.len() > MAX_SKUS {
                    errors.push(FieldError::new(
                        "skus",
                        "out_of_range",
                        format!("name 1 to {MAX_SKUS} SKUs, or leave skus out to count all"),
                    ));
                }
                let mut out: Vec<Sku> = Vec::with_capacity(list.len());
                for (i, s) in list.iter().enumerate() {
                    if let Some(sku) = errors.take(Sku::parse(&format!("skus[{i}]"), s)) {
                        if out.contains(&sku) {
                            errors.push(FieldError::new(
                                format!("skus[{i}]"),
                                "duplicate",
                                format!("{sku} is named twice"),
                            ));
                        }
                        out.push(sku);
                    }
                }
                Some(Some(out))
            }
        };
        errors.finish(|| {
            Some(NewCount {
                id: id?,
                location: location?,
                skus: skus?,
            })
        })
    }
}

/// Scanned quantities for a count.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ScansInput {
    /// The scanner's id for this batch; a batch sent again is not counted twice.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Code<128>>")
    )]
    pub batch_id: Option<String>,
    /// What was counted: `qty` base units (SKU) or scans (code), signed to correct a
    /// miscount.
    pub lines: Vec<LineInput>,
}

/// A validated scan line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanLine {
    /// What it names.
    pub item: ItemRef,
    /// Base units (SKU) or scans (code); negative to take back a miscount.
    pub times: i64,
}

/// A validated batch of scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScans {
    /// The batch id, if any.
    pub batch_id: Option<String>,
    /// The lines, in input order.
    pub lines: Vec<ScanLine>,
}

impl ScansInput {
    /// Checks every line: a code or a SKU and a non-zero quantity; no price.
    pub fn validate(&self, layouts: &[gs1::VariableMeasureLayout]) -> Validated<NewScans> {
        let mut errors = Errors::default();
        let batch_id = match &self.batch_id {
            Some(b) => errors
                .take(crate::validation::code("batch_id", b, 128))
                .map(Some),
            None => Some(None),
        };
        if self.lines.is_empty() || self.lines.len() > MAX_SCAN_LINES {
            errors.push(FieldError::new(
                "lines",
                if self.lines.is_empty() {
                    "required"
                } else {
                    "too_many"
                },
                format!("a scan request holds 1 to {MAX_SCAN_LINES} lines"),
            ));
        }
        let mut lines = Vec::with_capacity(self.lines.len());
        for (i, l) in self.lines.iter().enumerate() {
            let prefix = format!("lines[{i}]");
            if l.unit_price.is_some() {
                errors.push(FieldError::new(
                    format!("{prefix}.unit_price"),
                    "not_allowed",
                    "a count has no prices",
                ));
            }
            let qty = l.qty.unwrap_or(1);
            if qty == 0 || !(-MAX_QTY..=MAX_QTY).contains(&qty) {
                errors.push(FieldError::new(
                    format!("{prefix}.qty"),
                    "out_of_range",
                    format!("qty is non-zero, within ±{MAX_QTY}"),
                ));
                continue;
            }
            let positive = LineInput {
                qty: Some(qty.abs()),
                unit_price: None,
                ..l.clone()
            };
            if let Some(line) = errors.nested(&prefix, positive.validate(layouts)) {
                lines.push(ScanLine {
                    item: line.item,
                    times: qty,
                });
            }
        }
        errors.finish(|| {
            Some(NewScans {
                batch_id: batch_id?,
                lines,
            })
        })
    }
}

/// Where a count stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CountStatus {
    /// Being counted.
    Open,
    /// Approved: its corrections are in the ledger.
    Approved,
    /// Cancelled: nothing was posted.
    Cancelled,
}

impl CountStatus {
    /// The status's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CountStatus::Open => "open",
            CountStatus::Approved => "approved",
            CountStatus::Cancelled => "cancelled",
        }
    }

    /// Parses a stored status.
    pub fn from_stored(value: &str) -> Option<Self> {
        [
            CountStatus::Open,
            CountStatus::Approved,
            CountStatus::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// One SKU of a count, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct CountLineRecord {
    /// The product.
    pub sku: Sku,
    /// In the count's scope (always, for a count of all SKUs).
    pub in_scope: bool,
    /// In the snapshot taken at opening (false: found, not expected).
    pub expected_at_open: bool,
    /// The book figure at opening.
    pub expected: i64,
    /// Units counted by scanning.
    pub scanned: i64,
    /// Distinct RFID tags counted.
    pub rfid: i64,
    /// The book figure at the last count input, if counted.
    pub book: Option<i64>,
    /// When it was last counted.
    pub counted_at: Option<DateTime<Utc>>,
    /// What approval posted.
    pub correction: Option<i64>,
}

/// One SKU of a count, with its comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct CountLine {
    /// The product.
    pub sku: Sku,
    /// The book figure at opening.
    pub expected: i64,
    /// Units counted: scanned plus distinct tags.
    pub counted: i64,
    /// Of which scanned.
    pub scanned: i64,
    /// Of which distinct RFID tags.
    pub rfid: i64,
    /// The book figure the count is compared with (at the last count input; for a SKU not
    /// counted yet, now).
    pub book: i64,
    /// How far the book moved between opening and `book` (sales during the count).
    pub moved: i64,
    /// `counted - book`: what approval posts (or posted).
    pub variance: i64,
    /// True when the SKU was not in the snapshot: found, not expected.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unexpected: bool,
    /// When it was last counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_at: Option<DateTime<Utc>>,
    /// The correction approval posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correction: Option<i64>,
}

impl CountLineRecord {
    /// The comparison of this line, with `on_hand_now` standing in for the book of a SKU
    /// not counted yet.
    pub fn compare(&self, on_hand_now: i64) -> CountLine {
        let counted = self.scanned + self.rfid;
        let book = self.book.unwrap_or(on_hand_now);
        CountLine {
            sku: self.sku.clone(),
            expected: self.expected,
            counted,
            scanned: self.scanned,
            rfid: self.rfid,
            book,
            moved: book - self.expected,
            variance: self.correction.unwrap_or(counted - book),
            unexpected: !self.expected_at_open,
            counted_at: self.counted_at,
            correction: self.correction,
        }
    }
}

/// A SKU counted outside a partial count's scope: reported, never corrected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct OutOfScope {
    /// The product.
    pub sku: Sku,
    /// Units counted.
    pub counted: i64,
}

/// Tags of a GTIN the catalog does not know, seen during a count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct UnknownTags {
    /// The GTIN.
    pub gtin: String,
    /// Distinct tags.
    pub tags: i64,
}

/// Sums over a count's lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct CountTotals {
    /// Sum of `expected`.
    pub expected: i64,
    /// Sum of `counted`.
    pub counted: i64,
    /// Sum of `variance`.
    pub variance: i64,
}

/// A count with its comparison per SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Count {
    /// Its id.
    pub id: CountId,
    /// Where.
    pub location: LocationCode,
    /// Where it stands.
    pub status: CountStatus,
    /// The SKUs in scope, or `None` for all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skus: Option<Vec<Sku>>,
    /// Who opened it.
    pub opened_by: String,
    /// When.
    pub opened_at: DateTime<Utc>,
    /// Who approved or cancelled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// Every SKU in scope (and, for a count of all SKUs, every SKU found), by SKU.
    pub lines: Vec<CountLine>,
    /// SKUs counted outside a partial count's scope.
    pub out_of_scope: Vec<OutOfScope>,
    /// RFID tags of GTINs the catalog does not know.
    pub unknown_tags: Vec<UnknownTags>,
    /// Sums over `lines`.
    pub totals: CountTotals,
}

impl Count {
    /// Builds the view of a count from its stored lines; `on_hand` gives the current book
    /// figure of a SKU not counted yet.
    #[expect(
        clippy::too_many_arguments,
        reason = "a record's fields, assembled once"
    )]
    pub fn assemble(
        id: CountId,
        location: LocationCode,
        status: CountStatus,
        skus: Option<Vec<Sku>>,
        opened: (String, DateTime<Utc>),
        closed: Option<(String, DateTime<Utc>)>,
        records: &[CountLineRecord],
        on_hand: impl Fn(&Sku) -> i64,
        unknown_tags: Vec<UnknownTags>,
    ) -> Self {
        let mut lines = Vec::new();
        let mut out_of_scope = Vec::new();
        let mut totals = CountTotals::default();
        for r in records {
            if r.in_scope {
                let line = r.compare(on_hand(&r.sku));
                totals.expected += line.expected;
                totals.counted += line.counted;
                totals.variance += line.variance;
                lines.push(line);
            } else {
                out_of_scope.push(OutOfScope {
                    sku: r.sku.clone(),
                    counted: r.scanned + r.rfid,
                });
            }
        }
        let (closed_by, closed_at) = closed.unzip();
        Count {
            id,
            location,
            status,
            skus,
            opened_by: opened.0,
            opened_at: opened.1,
            closed_by,
            closed_at,
            lines,
            out_of_scope,
            unknown_tags,
            totals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(expected: i64, scanned: i64, book: Option<i64>) -> CountLineRecord {
        CountLineRecord {
            sku: Sku::from_trusted("A".into()),
            in_scope: true,
            expected_at_open: true,
            expected,
            scanned,
            rfid: 0,
            book,
            counted_at: None,
            correction: None,
        }
    }

    #[test]
    fn a_sale_during_the_count_is_not_a_variance() {
        // Opened at 10; 2 sold before counting; 8 counted: nothing is missing.
        let before = record(10, 8, Some(8)).compare(8);
        assert_eq!((before.moved, before.variance), (-2, 0));
        // Opened at 10; 10 counted; 2 sold after: nothing is missing, on_hand stays 8.
        let after = record(10, 10, Some(10)).compare(8);
        assert_eq!((after.moved, after.variance), (0, 0));
        // Opened at 10; 1 stolen, 9 counted, 2 sold after counting: -1 is posted.
        let theft = record(10, 9, Some(10)).compare(8);
        assert_eq!(theft.variance, -1);
        // Never counted: not there, whatever the book says now.
        assert_eq!(record(10, 0, None).compare(7).variance, -7);
    }

    #[test]
    fn scan_lines_are_signed_and_priceless() {
        let input = ScansInput {
            batch_id: Some("b 1".into()),
            lines: vec![
                LineInput {
                    code: None,
                    sku: Some("A".into()),
                    qty: Some(-2),
                    unit_price: None,
                },
                LineInput {
                    code: None,
                    sku: Some("A".into()),
                    qty: Some(0),
                    unit_price: Some(5),
                },
            ],
        };
        let fields: Vec<String> = input
            .validate(&[])
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["batch_id", "lines[1].unit_price", "lines[1].qty"]);
    }
}
