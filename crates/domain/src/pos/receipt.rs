//! The money side of a sale: pricing each line, settling the receipt, and what a return
//! of a known sale takes back and refunds.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ItemRef, NewLine, Payment, SaleKind};
use crate::code::{self, CodeTarget};
use crate::ids::{LocationCode, SaleId, Sku};
use crate::money::Currency;
use crate::validation::FieldError;

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
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
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
}
