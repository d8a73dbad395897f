//! Price resolution: which unit price a customer pays for a quantity of a SKU on a day.
//!
//! A price comes from the first source that has an applicable rule — the customer's own
//! prices, then the customer's price list (tier), then the product's list price — and
//! within that source from the rule with the highest quantity break not above the
//! quantity. A rule applies on a day when the day lies within its validity
//! (`valid_from..=valid_to`, either end open). Prices are per base unit, in minor units.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ids::Sku;
use crate::money;
use crate::validation::{self, Errors, FieldError, Validated};

/// Where a resolved price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// A price agreed with this customer.
    Customer,
    /// The customer's price list.
    Tier,
    /// The product's list price.
    List,
}

impl PriceSource {
    /// The source as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            PriceSource::Customer => "customer",
            PriceSource::Tier => "tier",
            PriceSource::List => "list",
        }
    }

    /// Parses a stored source.
    pub fn parse(value: &str) -> Option<Self> {
        [PriceSource::Customer, PriceSource::Tier, PriceSource::List]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// One price rule: from `min_qty` base units on, `unit_price` per base unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PriceRule {
    /// Customer-specific or tier.
    pub source: PriceSource,
    /// Quantity break, in base units (1 = any quantity).
    pub min_qty: i64,
    /// Price per base unit, minor units.
    pub unit_price: i64,
    /// First day it applies.
    pub valid_from: Option<NaiveDate>,
    /// Last day it applies.
    pub valid_to: Option<NaiveDate>,
}

impl PriceRule {
    fn applies(&self, qty: i64, on: NaiveDate) -> bool {
        self.min_qty <= qty
            && self.valid_from.is_none_or(|f| f <= on)
            && self.valid_to.is_none_or(|t| on <= t)
    }
}

/// A resolved price and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Resolved {
    /// Price per base unit, minor units.
    pub unit_price: i64,
    /// Which source it came from.
    pub source: PriceSource,
    /// The quantity break that applied.
    pub min_qty: i64,
}

/// Resolves the price of `qty` base units on day `on`, from `rules` (any order, any
/// sources) falling back to `list_price`. Among rules of the winning source with the same
/// break, the lower price wins, so the outcome never depends on the order of `rules`.
pub fn resolve(list_price: i64, rules: &[PriceRule], qty: i64, on: NaiveDate) -> Resolved {
    [PriceSource::Customer, PriceSource::Tier]
        .into_iter()
        .find_map(|source| {
            rules
                .iter()
                .filter(|r| r.source == source && r.applies(qty, on))
                .min_by_key(|r| (std::cmp::Reverse(r.min_qty), r.unit_price))
                .map(|r| Resolved {
                    unit_price: r.unit_price,
                    source,
                    min_qty: r.min_qty,
                })
        })
        .unwrap_or(Resolved {
            unit_price: list_price,
            source: PriceSource::List,
            min_qty: 1,
        })
}

/// One entry of a price list or of a customer's prices, as submitted.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PriceEntryInput {
    /// The product.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<64>"))]
    pub sku: String,
    /// Quantity break in base units; 1 when absent.
    #[cfg_attr(feature = "schemars", schemars(range(min = 1, max = 1_000_000_000)))]
    pub min_qty: Option<i64>,
    /// Price per base unit, minor units.
    #[cfg_attr(feature = "schemars", schemars(range(min = 0, max = crate::money::MAX_UNIT_PRICE)))]
    pub unit_price: i64,
    /// First day it applies (YYYY-MM-DD).
    pub valid_from: Option<NaiveDate>,
    /// Last day it applies (YYYY-MM-DD).
    pub valid_to: Option<NaiveDate>,
}

/// A validated price entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PriceEntry {
    /// The product.
    pub sku: Sku,
    /// Quantity break in base units.
    pub min_qty: i64,
    /// Price per base unit, minor units.
    pub unit_price: i64,
    /// First day it applies.
    pub valid_from: Option<NaiveDate>,
    /// Last day it applies.
    pub valid_to: Option<NaiveDate>,
}

/// Most entries in one price list or one customer's prices.
pub const MAX_ENTRIES: usize = 10_000;

impl PriceEntryInput {
    /// Checks one entry.
    pub fn validate(&self) -> Validated<PriceEntry> {
        let mut errors = Errors::default();
        let sku = errors.take(Sku::parse("sku", &self.sku));
        let min_qty = self.min_qty.unwrap_or(1);
        if !(1..=crate::stock::MAX_QTY).contains(&min_qty) {
            errors.push(FieldError::new(
                "min_qty",
                "out_of_range",
                "min_qty is a whole number of base units, 1 or more",
            ));
        }
        let unit_price = errors.take(money::unit_price("unit_price", self.unit_price));
        for (field, day) in [("valid_from", self.valid_from), ("valid_to", self.valid_to)] {
            if let Some(d) = day {
                errors.take(validation::business_date(field, d));
            }
        }
        if let (Some(from), Some(to)) = (self.valid_from, self.valid_to)
            && to < from
        {
            errors.push(FieldError::new(
                "valid_to",
                "before_valid_from",
                "valid_to is before valid_from",
            ));
        }
        errors.finish(|| {
            Some(PriceEntry {
                sku: sku?,
                min_qty,
                unit_price: unit_price?,
                valid_from: self.valid_from,
                valid_to: self.valid_to,
            })
        })
    }
}

/// Validates a list of entries (`entries[i].field`), refusing two entries for the same SKU,
/// break and start day.
pub fn validate_entries(entries: &[PriceEntryInput]) -> Validated<Vec<PriceEntry>> {
    let mut errors = Errors::default();
    if entries.len() > MAX_ENTRIES {
        errors.push(FieldError::new(
            "entries",
            "too_many",
            format!("at most {MAX_ENTRIES} entries"),
        ));
    }
    let mut out: Vec<PriceEntry> = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        if let Some(entry) = errors.nested(&format!("entries[{i}]"), e.validate()) {
            let same = |o: &PriceEntry| {
                o.sku == entry.sku && o.min_qty == entry.min_qty && o.valid_from == entry.valid_from
            };
            if out.iter().any(same) {
                errors.push(FieldError::new(
                    format!("entries[{i}]"),
                    "duplicate",
                    "another entry has this sku, min_qty and valid_from",
                ));
            }
            out.push(entry);
        }
    }
    errors.finish(|| Some(out))
}

/// A price list (tier) as submitted: its name, currency and complete set of entries.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PriceListInput {
    /// Display name.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Text<200>"))]
    pub name: String,
    /// ISO 4217 currency of its prices; CNY when absent.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::CurrencyCode>")
    )]
    pub currency: Option<String>,
    /// Every entry; replaces the previous ones.
    #[serde(default)]
    pub entries: Vec<PriceEntryInput>,
}

/// A price list, validated or stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct PriceList {
    /// Unique code (the tier a customer names).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Currency of its prices.
    pub currency: money::Currency,
    /// Its entries.
    pub entries: Vec<PriceEntry>,
}

impl PriceListInput {
    /// Checks the list; `code` comes from the URL.
    pub fn validate(&self, code: &str) -> Validated<PriceList> {
        let mut errors = Errors::default();
        let code = errors.take(validation::code("code", code, 32));
        let name = errors.take(validation::text("name", &self.name, 200));
        let currency = errors.take(
            self.currency
                .as_deref()
                .map_or(Ok(money::Currency::cny()), |c| {
                    money::Currency::parse("currency", c)
                }),
        );
        let entries = errors.nested("", validate_entries(&self.entries));
        errors.finish(|| {
            Some(PriceList {
                code: code?,
                name: name?,
                currency: currency?,
                entries: entries?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn rule(source: PriceSource, min_qty: i64, unit_price: i64) -> PriceRule {
        PriceRule {
            source,
            min_qty,
            unit_price,
            valid_from: None,
            valid_to: None,
        }
    }

    #[test]
    fn customer_beats_tier_beats_list_at_the_highest_break_not_above_the_quantity() {
        use PriceSource::*;
        let rules = [
            rule(Tier, 1, 900),
            rule(Tier, 10, 800),
            rule(Customer, 24, 700),
            rule(Customer, 100, 600),
        ];
        let cases = [
            (1, 900, Tier),
            (9, 900, Tier),
            (10, 800, Tier),
            (23, 800, Tier),
            (24, 700, Customer),
            (99, 700, Customer),
            (100, 600, Customer),
        ];
        for (qty, price, source) in cases {
            let r = resolve(1000, &rules, qty, day(22));
            assert_eq!((r.unit_price, r.source), (price, source), "qty {qty}");
        }
        assert_eq!(resolve(1000, &[], 5, day(22)).source, List);
    }

    #[test]
    fn rules_apply_only_within_their_validity() {
        let mut promo = rule(PriceSource::Customer, 1, 500);
        promo.valid_from = Some(day(10));
        promo.valid_to = Some(day(20));
        for (d, price) in [(9, 1000), (10, 500), (20, 500), (21, 1000)] {
            assert_eq!(
                resolve(1000, std::slice::from_ref(&promo), 1, day(d)).unit_price,
                price,
                "day {d}"
            );
        }
    }

    fn any_rule() -> impl Strategy<Value = PriceRule> {
        (
            prop::bool::ANY,
            1i64..50,
            0i64..5000,
            prop::option::of(1u32..28),
            prop::option::of(1u32..28),
        )
            .prop_map(|(c, min_qty, unit_price, from, to)| PriceRule {
                source: if c {
                    PriceSource::Customer
                } else {
                    PriceSource::Tier
                },
                min_qty,
                unit_price,
                valid_from: from.map(day),
                valid_to: to.map(day),
            })
    }

    proptest! {
        #[test]
        fn the_resolved_price_is_the_best_applicable_rule_of_the_first_source_that_has_one(
            rules in prop::collection::vec(any_rule(), 0..12), qty in 1i64..60, d in 1u32..28, list in 0i64..5000
        ) {
            let r = resolve(list, &rules, qty, day(d));
            let applicable: Vec<&PriceRule> = rules.iter().filter(|x| x.applies(qty, day(d))).collect();
            match r.source {
                PriceSource::List => {
                    prop_assert!(applicable.is_empty());
                    prop_assert_eq!(r.unit_price, list);
                }
                source => {
                    prop_assert!(r.min_qty <= qty);
                    if source == PriceSource::Tier {
                        prop_assert!(!applicable.iter().any(|x| x.source == PriceSource::Customer));
                    }
                    let same: Vec<_> = applicable.iter().filter(|x| x.source == source).collect();
                    prop_assert!(same.iter().all(|x| x.min_qty <= r.min_qty));
                    prop_assert!(same.iter().any(|x| x.min_qty == r.min_qty && x.unit_price == r.unit_price));
                }
            }
            let mut reversed = rules.clone();
            reversed.reverse();
            prop_assert_eq!(resolve(list, &reversed, qty, day(d)), r);
        }
    }

    #[test]
    fn entries_are_checked_and_repeats_refused() {
        let input: Vec<PriceEntryInput> = serde_json::from_str(
            r#"[{"sku":"A","unit_price":5},{"sku":"A","min_qty":1,"unit_price":6},{"sku":"B","min_qty":0,"unit_price":-1,
               "valid_from":"2026-11-20","valid_to":"2026-11-01"}]"#,
        )
        .unwrap();
        let fields: Vec<_> = validate_entries(&input)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        assert_eq!(
            fields,
            [
                ("entries[1]".to_owned(), "duplicate"),
                ("entries[2].min_qty".to_owned(), "out_of_range"),
                ("entries[2].unit_price".to_owned(), "negative"),
                ("entries[2].valid_to".to_owned(), "before_valid_from"),
            ]
        );
    }
}
