//! Point of sale: sales and returns as a till reports them, and the receipt it gets back.
//!
//! A sale is a fact that already happened at the counter, so it is recorded even when the
//! books say the shelf is empty (the level goes negative and an alert follows). It is
//! idempotent by its terminal-chosen `sale_id`: the same id with the same body answers
//! with the first receipt; with another body it is refused. Every line names a SKU or a
//! scanned code ([`crate::code`]); prices default to the list price; totals are integer
//! minor units, so they add up exactly.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::code::{self, ScannedCode};
use crate::ids::{LocationCode, SaleId, Sku};
use crate::money;
use crate::stock::{MAX_FUTURE_SKEW, MAX_QTY};
use crate::validation::{self, Errors, FieldError, Validated};

mod receipt;

pub use receipt::{
    LineProduct, Receipt, ReceiptLine, Settlement, SoldLine, TakenBack, price_line, settle,
    take_back,
};

/// Most lines one sale or return may hold.
pub const MAX_LINES: usize = 500;
/// Most payments one sale may list.
pub const MAX_PAYMENTS: usize = 10;
/// Longest reason text of a return.
pub const MAX_REASON: usize = 200;
/// How far in the past a sale may have happened (an edge node offline for a month).
pub const MAX_AGE: Duration = Duration::days(366);

/// A sale as a terminal posts it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SaleInput {
    /// The terminal's unique id for this sale; its idempotency key.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<128>"))]
    pub sale_id: String,
    /// The terminal that rang it up.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<64>"))]
    pub terminal: String,
    /// When it happened at the counter (RFC 3339).
    pub occurred_at: DateTime<Utc>,
    /// The store; a device's own location when absent.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Code<32>>")
    )]
    pub location: Option<String>,
    /// What was sold.
    pub lines: Vec<LineInput>,
    /// How it was paid, if the terminal reports it.
    pub payments: Option<Vec<PaymentInput>>,
}

/// A return as a terminal posts it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReturnInput {
    /// The terminal's unique id for this return (shares the namespace of sale ids).
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<128>"))]
    pub return_id: String,
    /// The terminal that took it.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<64>"))]
    pub terminal: String,
    /// When it happened (RFC 3339).
    pub occurred_at: DateTime<Utc>,
    /// The store; a device's own location when absent.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Code<32>>")
    )]
    pub location: Option<String>,
    /// The sale the goods came from, if known: then no more can come back than it sold,
    /// and the refund is what was paid.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Code<128>>")
    )]
    pub original_sale_id: Option<String>,
    /// What came back.
    pub lines: Vec<LineInput>,
    /// How the money went back, if the terminal reports it.
    pub payments: Option<Vec<PaymentInput>>,
    /// Why, for the books.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Text<200>>")
    )]
    pub reason: Option<String>,
}

/// One line: a SKU or a scanned code, how many, and optionally the price charged.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// A scanned code: GTIN, pack GTIN, GS1 element string, scale label or SGTIN EPC.
    pub code: Option<String>,
    /// The SKU, when keyed in instead of scanned.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Code<64>>")
    )]
    pub sku: Option<String>,
    /// For a SKU: base units. For a code: how many times it was scanned. Defaults to 1.
    pub qty: Option<i64>,
    /// Price per base unit charged, minor units; the list price when absent.
    pub unit_price: Option<i64>,
}

/// A payment as posted.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    /// How: `cash`, `card`, `wechat`, `alipay`, … (a lower-case code).
    pub method: String,
    /// How much, minor units of the sale's currency.
    pub amount: i64,
}

/// Sale or return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SaleKind {
    /// Goods left: `sale` movements.
    Sale,
    /// Goods came back: `return` movements.
    Return,
}

impl SaleKind {
    /// The kind's name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            SaleKind::Sale => "sale",
            SaleKind::Return => "return",
        }
    }
}

/// What a line names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemRef {
    /// A SKU keyed in.
    Sku(Sku),
    /// A scanned code.
    Code(ScannedCode),
}

/// A validated line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    /// What it names.
    pub item: ItemRef,
    /// Base units (SKU) or scans (code).
    pub times: i64,
    /// The price charged per base unit, if given.
    pub unit_price: Option<i64>,
}

/// A payment (or refund) as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Payment {
    /// How.
    pub method: String,
    /// How much, minor units.
    pub amount: i64,
}

/// A validated sale or return, at a known location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSale {
    /// Unique id (a return's `return_id`).
    pub id: SaleId,
    /// Sale or return.
    pub kind: SaleKind,
    /// The terminal.
    pub terminal: String,
    /// Where.
    pub location: LocationCode,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// For a return: the sale the goods came from.
    pub original_sale_id: Option<SaleId>,
    /// The lines, in input order.
    pub lines: Vec<NewLine>,
    /// Payments or refunds.
    pub payments: Vec<Payment>,
    /// A return's reason.
    pub reason: Option<String>,
}

/// The parts both inputs share, checked the same way.
struct Common<'a> {
    terminal: &'a str,
    occurred_at: DateTime<Utc>,
    lines: &'a [LineInput],
    payments: Option<&'a [PaymentInput]>,
}

impl Common<'_> {
    fn check(
        &self,
        errors: &mut Errors,
        now: DateTime<Utc>,
        layouts: &[gs1::VariableMeasureLayout],
    ) -> (Option<String>, Option<Vec<NewLine>>, Option<Vec<Payment>>) {
        let terminal = errors.take(validation::code("terminal", self.terminal, 64));
        if self.occurred_at > now + MAX_FUTURE_SKEW {
            errors.push(FieldError::new(
                "occurred_at",
                "in_future",
                "occurred_at is more than 24 hours ahead",
            ));
        } else if self.occurred_at < now - MAX_AGE {
            errors.push(FieldError::new(
                "occurred_at",
                "too_old",
                "occurred_at is more than a year ago",
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
                format!("a sale holds 1 to {MAX_LINES} lines"),
            ));
        }
        let lines: Vec<_> = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| errors.nested(&format!("lines[{i}]"), l.validate(layouts)))
            .collect();
        let payments = errors.nested("payments", payments(self.payments.unwrap_or_default()));
        (terminal, lines.into_iter().collect(), payments)
    }
}

impl LineInput {
    /// Checks one line: exactly one of `code` and `sku`, a positive `qty`, a valid price.
    pub fn validate(&self, layouts: &[gs1::VariableMeasureLayout]) -> Validated<NewLine> {
        let mut errors = Errors::default();
        let item = match (&self.code, &self.sku) {
            (Some(c), None) => errors
                .take(code::decode("code", c, layouts))
                .map(ItemRef::Code),
            (None, Some(s)) => errors.take(Sku::parse("sku", s)).map(ItemRef::Sku),
            (None, None) => {
                errors.push(FieldError::new(
                    "code",
                    "required",
                    "a line names a scanned code or a sku",
                ));
                None
            }
            (Some(_), Some(_)) => {
                errors.push(FieldError::new(
                    "sku",
                    "not_allowed",
                    "a line names a code or a sku, not both",
                ));
                None
            }
        };
        let times = self.qty.unwrap_or(1);
        if !(1..=MAX_QTY).contains(&times) {
            errors.push(FieldError::new(
                "qty",
                "out_of_range",
                format!("qty is 1 to {MAX_QTY}"),
            ));
        }
        let unit_price = match self.unit_price {
            Some(p) => errors.take(money::unit_price("unit_price", p)).map(Some),
            None => Some(None),
        };
        errors.finish(|| {
            Some(NewLine {
                item: item?,
                times,
                unit_price: unit_price?,
            })
        })
    }
}

fn payments(list: &[PaymentInput]) -> Validated<Vec<Payment>> {
    let mut errors = Errors::default();
    if list.len() > MAX_PAYMENTS {
        errors.push(FieldError::new(
            "",
            "too_many",
            format!("at most {MAX_PAYMENTS} payments"),
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, p) in list.iter().enumerate() {
        let method = p.method.as_str();
        if method.is_empty()
            || method.len() > 32
            || !method
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            errors.push(FieldError::new(
                format!("[{i}].method"),
                "bad_format",
                "method is a lower-case code of up to 32 characters, e.g. cash, card, wechat",
            ));
        }
        if !(1..=money::MAX_UNIT_PRICE).contains(&p.amount) {
            errors.push(FieldError::new(
                format!("[{i}].amount"),
                "out_of_range",
                format!("amount is 1 to {} minor units", money::MAX_UNIT_PRICE),
            ));
        }
        out.push(Payment {
            method: method.to_owned(),
            amount: p.amount,
        });
    }
    errors.finish(|| Some(out))
}

impl SaleInput {
    /// Checks every field of a sale taken at `location`.
    pub fn validate(
        &self,
        location: LocationCode,
        now: DateTime<Utc>,
        layouts: &[gs1::VariableMeasureLayout],
    ) -> Validated<NewSale> {
        let mut errors = Errors::default();
        let id = errors.take(SaleId::parse("sale_id", &self.sale_id));
        let common = Common {
            terminal: &self.terminal,
            occurred_at: self.occurred_at,
            lines: &self.lines,
            payments: self.payments.as_deref(),
        };
        let (terminal, lines, payments) = common.check(&mut errors, now, layouts);
        errors.finish(|| {
            Some(NewSale {
                id: id?,
                kind: SaleKind::Sale,
                terminal: terminal?,
                location,
                occurred_at: self.occurred_at,
                original_sale_id: None,
                lines: lines?,
                payments: payments?,
                reason: None,
            })
        })
    }
}

impl ReturnInput {
    /// Checks every field of a return taken at `location`.
    pub fn validate(
        &self,
        location: LocationCode,
        now: DateTime<Utc>,
        layouts: &[gs1::VariableMeasureLayout],
    ) -> Validated<NewSale> {
        let mut errors = Errors::default();
        let id = errors.take(SaleId::parse("return_id", &self.return_id));
        let original = match &self.original_sale_id {
            Some(o) => errors.take(SaleId::parse("original_sale_id", o)).map(Some),
            None => Some(None),
        };
        let common = Common {
            terminal: &self.terminal,
            occurred_at: self.occurred_at,
            lines: &self.lines,
            payments: self.payments.as_deref(),
        };
        let (terminal, lines, payments) = common.check(&mut errors, now, layouts);
        if self.original_sale_id.is_some() {
            for (i, l) in self.lines.iter().enumerate() {
                if l.unit_price.is_some() {
                    errors.push(FieldError::new(
                        format!("lines[{i}].unit_price"),
                        "not_allowed",
                        "a return of a known sale refunds what was paid; leave unit_price out",
                    ));
                }
            }
        }
        let reason = match &self.reason {
            Some(r) => errors
                .take(validation::text("reason", r, MAX_REASON))
                .map(Some),
            None => Some(None),
        };
        errors.finish(|| {
            Some(NewSale {
                id: id?,
                kind: SaleKind::Return,
                terminal: terminal?,
                location,
                occurred_at: self.occurred_at,
                original_sale_id: original?,
                lines: lines?,
                payments: payments?,
                reason: reason?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_a_code_or_a_sku_but_not_both() {
        let line = |code: Option<&str>, sku: Option<&str>, qty| LineInput {
            code: code.map(Into::into),
            sku: sku.map(Into::into),
            qty,
            unit_price: None,
        };
        let err = |l: LineInput| {
            let e = l.validate(&[]).unwrap_err();
            (e[0].field.clone(), e[0].code)
        };
        assert_eq!(err(line(None, None, None)), ("code".into(), "required"));
        assert_eq!(
            err(line(Some("6901234567892"), Some("A"), None)),
            ("sku".into(), "not_allowed")
        );
        assert_eq!(
            err(line(None, Some("A"), Some(0))),
            ("qty".into(), "out_of_range")
        );
        assert_eq!(
            err(line(Some("123"), None, None)),
            ("code".into(), "invalid_code")
        );
        assert!(line(None, Some("A"), None).validate(&[]).is_ok());
    }
}
