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

use crate::code::{self, CodeTarget, ScannedCode};
use crate::ids::{LocationCode, SaleId, Sku};
use crate::money::{self, Currency};
use crate::stock::{MAX_FUTURE_SKEW, MAX_QTY};
use crate::validation::{self, Errors, FieldError, Validated};

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
#[serde(deny_unknown_fields)]
pub struct SaleInput {
    /// The terminal's unique id for this sale; its idempotency key.
    pub sale_id: String,
    /// The terminal that rang it up.
    pub terminal: String,
    /// When it happened at the counter (RFC 3339).
    pub occurred_at: DateTime<Utc>,
    /// The store; a device's own location when absent.
    pub location: Option<String>,
    /// What was sold.
    pub lines: Vec<LineInput>,
    /// How it was paid, if the terminal reports it.
    pub payments: Option<Vec<PaymentInput>>,
}

/// A return as a terminal posts it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnInput {
    /// The terminal's unique id for this return (shares the namespace of sale ids).
    pub return_id: String,
    /// The terminal that took it.
    pub terminal: String,
    /// When it happened (RFC 3339).
    pub occurred_at: DateTime<Utc>,
    /// The store; a device's own location when absent.
    pub location: Option<String>,
    /// The sale the goods came from, if known: then no more can come back than it sold,
    /// and the refund is what was paid.
    pub original_sale_id: Option<String>,
    /// What came back.
    pub lines: Vec<LineInput>,
    /// How the money went back, if the terminal reports it.
    pub payments: Option<Vec<PaymentInput>>,
    /// Why, for the books.
    pub reason: Option<String>,
}

/// One line: a SKU or a scanned code, how many, and optionally the price charged.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// A scanned code: GTIN, pack GTIN, GS1 element string, scale label or SGTIN EPC.
    pub code: Option<String>,
    /// The SKU, when keyed in instead of scanned.
    pub sku: Option<String>,
    /// For a SKU: base units. For a code: how many times it was scanned. Defaults to 1.
    pub qty: Option<i64>,
    /// Price per base unit charged, minor units; the list price when absent.
    pub unit_price: Option<i64>,
}

/// A payment as posted.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    /// How: `cash`, `card`, `wechat`, `alipay`, … (a lower-case code).
    pub method: String,
    /// How much, minor units of the sale's currency.
    pub amount: i64,
}

/// Sale or return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// What the catalog says about the product a line names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProduct {
    /// The product.
    pub sku: Sku,
    /// Its name, for the receipt.
    pub name: String,
    /// Its list price per base unit.
    pub price: i64,
    /// Its currency.
    pub currency: Currency,
    /// Base units per trade item of the scanned GTIN (1 for a SKU or a unit GTIN).
    pub factor: i64,
}

/// One line of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptLine {
    /// 1-based position in the sale.
    pub line_no: i64,
    /// The code as scanned, if the line was scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The product.
    pub sku: Sku,
    /// Its name.
    pub name: String,
    /// Base units.
    pub qty: i64,
    /// Price per base unit, minor units.
    pub unit_price: i64,
    /// What the line costs (or refunds), minor units.
    pub line_total: i64,
    /// For a sale: units returned since (shown when reading the sale back).
    #[serde(default)]
    pub returned_qty: i64,
}

/// Prices one line of a sale (or a return without its original sale); `field` is the
/// line's path for errors (`lines[2]`).
pub fn price_line(
    field: &str,
    line_no: i64,
    line: &NewLine,
    product: &LineProduct,
) -> Result<ReceiptLine, FieldError> {
    let unit_price = line.unit_price.unwrap_or(product.price);
    let (qty, fixed, code) = match &line.item {
        ItemRef::Sku(_) => (line.times, None, None),
        ItemRef::Code(c) => {
            let target = CodeTarget {
                factor: product.factor,
                unit_price,
            };
            let (qty, fixed) = code::quantity(&format!("{field}.code"), c, line.times, &target)?;
            (qty, fixed, Some(c.raw.clone()))
        }
    };
    let line_total = match fixed {
        Some(total) => total,
        None => qty.checked_mul(unit_price).ok_or_else(|| {
            FieldError::new(
                format!("{field}.qty"),
                "out_of_range",
                "qty × unit_price is too large",
            )
        })?,
    };
    Ok(ReceiptLine {
        line_no,
        code,
        sku: product.sku.clone(),
        name: product.name.clone(),
        qty,
        unit_price,
        line_total,
        returned_qty: 0,
    })
}

/// The money side of a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// Currency of every line.
    pub currency: Currency,
    /// Sum of the line totals.
    pub total: i64,
    /// Sum of the payments.
    pub paid: i64,
    /// What the customer gets back (a sale paid beyond its total).
    pub change: i64,
}

/// Totals a receipt: all lines in one currency; a sale's payments, when listed, cover the
/// total; a return's refunds, when listed, do not exceed it.
pub fn settle(
    kind: SaleKind,
    lines: &[(ReceiptLine, Currency)],
    payments: &[Payment],
) -> Result<Settlement, FieldError> {
    let currency = lines
        .first()
        .map(|(_, c)| c.clone())
        .unwrap_or_else(Currency::cny);
    let mut total: i64 = 0;
    for (i, (line, c)) in lines.iter().enumerate() {
        if *c != currency {
            return Err(FieldError::new(
                format!("lines[{i}]"),
                "currency_mismatch",
                format!("{} is priced in {c}, the sale in {currency}", line.sku),
            ));
        }
        total = total
            .checked_add(line.line_total)
            .ok_or_else(|| FieldError::new("lines", "out_of_range", "the total is too large"))?;
    }
    let paid = payments
        .iter()
        .try_fold(0i64, |sum, p| sum.checked_add(p.amount))
        .ok_or_else(|| FieldError::new("payments", "out_of_range", "payments are too large"))?;
    let listed = !payments.is_empty();
    match kind {
        SaleKind::Sale if listed && paid < total => Err(FieldError::new(
            "payments",
            "underpaid",
            format!("payments of {paid} do not cover the total of {total}"),
        )),
        SaleKind::Return if paid > total => Err(FieldError::new(
            "payments",
            "overpaid",
            format!("refunds of {paid} exceed the value returned, {total}"),
        )),
        SaleKind::Sale => Ok(Settlement {
            currency,
            total,
            paid,
            change: if listed { paid - total } else { 0 },
        }),
        SaleKind::Return => Ok(Settlement {
            currency,
            total,
            paid,
            change: 0,
        }),
    }
}

/// A line of a recorded sale, as a return of it sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoldLine {
    /// Its position.
    pub line_no: i64,
    /// The product.
    pub sku: Sku,
    /// Units sold.
    pub qty: i64,
    /// Price per unit.
    pub unit_price: i64,
    /// What was paid for the whole line.
    pub line_total: i64,
    /// Units returned so far.
    pub returned_qty: i64,
}

/// What taking units back from a sale gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenBack {
    /// The refund, minor units.
    pub refund: i64,
    /// The unit price of the first line taken from.
    pub unit_price: i64,
    /// (line_no, units) taken from each sold line.
    pub from_lines: Vec<(i64, i64)>,
}

/// Takes `qty` units of `sku` back from a sale, from its first lines of that SKU on, and
/// records them as returned. The refund is exactly proportional to what was paid, so the
/// refunds of a line returned in parts add up to its total. Fails with the units still
/// returnable when `qty` exceeds them (nothing is changed then).
pub fn take_back(sold: &mut [SoldLine], sku: &Sku, qty: i64) -> Result<TakenBack, i64> {
    let returnable: i64 = sold
        .iter()
        .filter(|l| &l.sku == sku)
        .map(|l| l.qty - l.returned_qty)
        .sum();
    if qty > returnable {
        return Err(returnable);
    }
    let mut left = qty;
    let mut taken = TakenBack {
        refund: 0,
        unit_price: 0,
        from_lines: Vec::new(),
    };
    for line in sold.iter_mut().filter(|l| &l.sku == sku) {
        let take = left.min(line.qty - line.returned_qty);
        if take == 0 {
            continue;
        }
        let paid_for = |returned: i64| {
            let share = i128::from(line.line_total) * i128::from(returned) / i128::from(line.qty);
            i64::try_from(share).unwrap_or(i64::MAX)
        };
        taken.refund += paid_for(line.returned_qty + take) - paid_for(line.returned_qty);
        if taken.from_lines.is_empty() {
            taken.unit_price = line.unit_price;
        }
        taken.from_lines.push((line.line_no, take));
        line.returned_qty += take;
        left -= take;
    }
    Ok(taken)
}

/// A sale or return as recorded: the receipt the terminal got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The sale's (or return's) id.
    pub sale_id: SaleId,
    /// Sale or return.
    pub kind: SaleKind,
    /// The store.
    pub location: LocationCode,
    /// The terminal.
    pub terminal: String,
    /// When it happened at the counter.
    pub occurred_at: DateTime<Utc>,
    /// When Stockbook recorded it.
    pub recorded_at: DateTime<Utc>,
    /// For a return: the sale the goods came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_sale_id: Option<SaleId>,
    /// The lines.
    pub lines: Vec<ReceiptLine>,
    /// Currency of every amount.
    pub currency: Currency,
    /// Sum of the line totals (for a return: the value returned).
    pub total: i64,
    /// Payments (for a return: refunds).
    pub payments: Vec<Payment>,
    /// Sum of the payments.
    pub paid: i64,
    /// Change given.
    pub change: i64,
    /// SKUs this sale left below zero on hand (an alert is due).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub negative_stock: Vec<Sku>,
    /// A return's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(s: &str) -> Sku {
        Sku::from_trusted(s.to_owned())
    }

    fn sold(line_no: i64, s: &str, qty: i64, unit_price: i64, line_total: i64) -> SoldLine {
        SoldLine {
            line_no,
            sku: sku(s),
            qty,
            unit_price,
            line_total,
            returned_qty: 0,
        }
    }

    #[test]
    fn returns_in_parts_refund_exactly_what_was_paid() {
        // A scale line: 3 units for 10.00 (not 3 × the unit price).
        let mut lines = vec![sold(1, "A", 3, 333, 1000), sold(2, "A", 2, 500, 1000)];
        let a = sku("A");
        let refunds: Vec<i64> = [1, 1, 2, 1]
            .into_iter()
            .map(|q| take_back(&mut lines, &a, q).unwrap().refund)
            .collect();
        assert_eq!(refunds.iter().sum::<i64>(), 2000);
        assert_eq!(take_back(&mut lines, &a, 1), Err(0));
        let mut lines = vec![sold(1, "A", 3, 100, 300)];
        assert_eq!(take_back(&mut lines, &a, 4), Err(3));
        assert_eq!(lines[0].returned_qty, 0, "a refused return changes nothing");
        assert_eq!(take_back(&mut lines, &sku("B"), 1), Err(0));
    }

    #[test]
    fn a_sale_is_settled_in_one_currency_and_paid_in_full() {
        let line = |total: i64, currency: &str| {
            (
                ReceiptLine {
                    line_no: 1,
                    code: None,
                    sku: sku("A"),
                    name: "A".into(),
                    qty: 1,
                    unit_price: total,
                    line_total: total,
                    returned_qty: 0,
                },
                Currency::from_trusted(currency.into()),
            )
        };
        let pay = |amount| Payment {
            method: "cash".into(),
            amount,
        };
        let s = settle(
            SaleKind::Sale,
            &[line(700, "CNY"), line(300, "CNY")],
            &[pay(2000)],
        )
        .unwrap();
        assert_eq!((s.total, s.paid, s.change), (1000, 2000, 1000));
        let e = settle(SaleKind::Sale, &[line(700, "CNY")], &[pay(500)]).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("payments", "underpaid"));
        let e = settle(SaleKind::Sale, &[line(1, "CNY"), line(1, "USD")], &[]).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            ("lines[1]", "currency_mismatch")
        );
        let e = settle(SaleKind::Return, &[line(100, "CNY")], &[pay(101)]).unwrap_err();
        assert_eq!(e.code, "overpaid");
    }

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
