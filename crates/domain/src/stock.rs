//! The stock model: levels per (SKU, location) and the movements that change them.
//!
//! Every change of stock is a [`Movement`] in an append-only ledger; a [`Level`] is the
//! running sum of its movements. A movement carries its producer's unique id, so a retried
//! or re-delivered movement is recognised and applied at most once.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{LocationCode, MovementId, Sku};
use crate::validation::{self, Errors, FieldError, Validated};

/// Largest quantity one movement may carry, in base units.
pub const MAX_QTY: i64 = 1_000_000_000;
/// Most movements accepted in one batch.
pub const MAX_BATCH: usize = 1_000;
/// How far in the future a movement's `occurred_at` may lie (clock skew of devices).
pub const MAX_FUTURE_SKEW: Duration = Duration::hours(24);
/// Longest reason text accepted.
pub const MAX_REASON: usize = 200;

/// What happened to the stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// Goods arrived: on_hand += qty.
    Receipt,
    /// Goods sold: on_hand -= qty. A fact, applied even when it drives stock negative.
    Sale,
    /// Goods came back: on_hand += qty.
    Return,
    /// A correction with a reason: on_hand += qty (signed), never below zero.
    Adjustment,
    /// A count: on_hand is set to qty; the ledger records the difference.
    Count,
    /// An order promised units: reserved += qty. Written by orders only.
    Reserve,
    /// An order gave back its promise (cancel, reject, edit): reserved -= qty. Orders only.
    Release,
    /// An order shipped: on_hand -= qty and reserved -= qty. Orders only.
    Ship,
    /// A transfer left this location: on_hand -= qty. Written by transfers only.
    TransferOut,
    /// A transfer arrived here: on_hand += qty received. Written by transfers only.
    TransferIn,
    /// An approved cycle count corrected on_hand by a signed qty (counted minus the book
    /// figure when the SKU was counted). Written by counts only; applied even below zero.
    CountCorrection,
}

impl MovementKind {
    /// The kinds producers may post; the others are written by the order flow.
    pub const EXTERNAL: [MovementKind; 5] = [
        MovementKind::Receipt,
        MovementKind::Sale,
        MovementKind::Return,
        MovementKind::Adjustment,
        MovementKind::Count,
    ];
    /// Every kind, in a stable order.
    pub const ALL: [MovementKind; 11] = [
        MovementKind::Receipt,
        MovementKind::Sale,
        MovementKind::Return,
        MovementKind::Adjustment,
        MovementKind::Count,
        MovementKind::Reserve,
        MovementKind::Release,
        MovementKind::Ship,
        MovementKind::TransferOut,
        MovementKind::TransferIn,
        MovementKind::CountCorrection,
    ];

    /// The kind's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::Receipt => "receipt",
            MovementKind::Sale => "sale",
            MovementKind::Return => "return",
            MovementKind::Adjustment => "adjustment",
            MovementKind::Count => "count",
            MovementKind::Reserve => "reserve",
            MovementKind::Release => "release",
            MovementKind::Ship => "ship",
            MovementKind::TransferOut => "transfer_out",
            MovementKind::TransferIn => "transfer_in",
            MovementKind::CountCorrection => "count_correction",
        }
    }

    /// Parses a stored kind, including those only the order flow writes.
    pub fn from_stored(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }

    /// Parses a submitted kind: one producers may post.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        Self::EXTERNAL
            .into_iter()
            .find(|k| k.as_str() == value)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    "unknown_kind",
                    "kind is one of receipt, sale, return, adjustment, count",
                )
            })
    }

    /// How a movement of this kind and quantity changes on_hand. (The order-flow kinds'
    /// effect on `reserved` is applied by the order flow itself; a transfer's effect on
    /// `incoming` by the transfer flow.)
    pub fn effect(self, qty: i64) -> Effect {
        match self {
            MovementKind::Reserve | MovementKind::Release => Effect::Delta {
                on_hand: 0,
                may_go_negative: false,
            },
            MovementKind::Ship => Effect::Delta {
                on_hand: -qty,
                may_go_negative: true,
            },
            MovementKind::Receipt | MovementKind::Return => Effect::Delta {
                on_hand: qty,
                may_go_negative: false,
            },
            MovementKind::Adjustment => Effect::Delta {
                on_hand: qty,
                may_go_negative: false,
            },
            MovementKind::Sale => Effect::Delta {
                on_hand: -qty,
                may_go_negative: true,
            },
            MovementKind::Count => Effect::SetTo(qty),
            MovementKind::TransferOut => Effect::Delta {
                on_hand: -qty,
                may_go_negative: false,
            },
            MovementKind::TransferIn => Effect::Delta {
                on_hand: qty,
                may_go_negative: false,
            },
            MovementKind::CountCorrection => Effect::Delta {
                on_hand: qty,
                may_go_negative: true,
            },
        }
    }
}

/// The effect of a movement on a level's on_hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Add `on_hand` (signed). Unless `may_go_negative`, refuse when the result would be < 0.
    Delta {
        /// Signed change of on_hand.
        on_hand: i64,
        /// Facts (sales) are applied even when they drive stock negative.
        may_go_negative: bool,
    },
    /// Set on_hand to this figure (a count); the ledger records the difference.
    SetTo(i64),
}

impl Effect {
    /// The on_hand change this effect makes to a level holding `on_hand_before`, or `None`
    /// when it is a decrease that would leave on_hand below zero and may not. An increase is
    /// always allowed, even onto a level that offline sales left negative.
    pub fn delta_from(self, on_hand_before: i64) -> Option<i64> {
        match self {
            Effect::Delta {
                on_hand,
                may_go_negative,
            } => (may_go_negative || on_hand >= 0 || on_hand_before + on_hand >= 0)
                .then_some(on_hand),
            Effect::SetTo(target) => Some(target - on_hand_before),
        }
    }
}

/// A movement as submitted by a producer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MovementInput {
    /// The producer's unique id for this movement.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<128>"))]
    pub id: String,
    /// The product.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<64>"))]
    pub sku: String,
    /// Where the stock is.
    #[cfg_attr(feature = "schemars", schemars(with = "crate::schema::Code<32>"))]
    pub location: String,
    /// receipt, sale, return, adjustment or count.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "crate::schema::ExternalMovementKind")
    )]
    pub kind: String,
    /// Base units: positive; signed and non-zero for an adjustment; zero or more for a count.
    #[cfg_attr(feature = "schemars", schemars(range(min = -1_000_000_000, max = 1_000_000_000)))]
    pub qty: i64,
    /// Why; required for an adjustment.
    #[cfg_attr(
        feature = "schemars",
        schemars(with = "Option<crate::schema::Text<200>>")
    )]
    pub reason: Option<String>,
    /// When it happened (RFC 3339); defaults to when it is recorded.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A validated movement, ready to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMovement {
    /// The producer's unique id.
    pub id: MovementId,
    /// The product.
    pub sku: Sku,
    /// Where.
    pub location: LocationCode,
    /// What happened.
    pub kind: MovementKind,
    /// Quantity as submitted (signed for adjustments, the counted figure for counts).
    pub qty: i64,
    /// Why.
    pub reason: Option<String>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
}

impl MovementInput {
    /// Checks every field; `now` bounds `occurred_at` and is its default.
    pub fn validate(&self, now: DateTime<Utc>) -> Validated<NewMovement> {
        let mut errors = Errors::default();
        let id = errors.take(MovementId::parse("id", &self.id));
        let sku = errors.take(Sku::parse("sku", &self.sku));
        let location = errors.take(LocationCode::parse("location", &self.location));
        let kind = errors.take(MovementKind::parse("kind", &self.kind));
        if let Some(Err(e)) = kind.map(|k| check_qty(k, self.qty)) {
            errors.push(e);
        }
        let reason = match (&self.reason, kind) {
            (Some(r), _) => errors.take(validation::text("reason", r, MAX_REASON)),
            (None, Some(MovementKind::Adjustment)) => {
                errors.push(FieldError::new(
                    "reason",
                    "required",
                    "an adjustment needs a reason",
                ));
                None
            }
            (None, _) => None,
        };
        let occurred_at = self.occurred_at.unwrap_or(now);
        if occurred_at > now + MAX_FUTURE_SKEW {
            errors.push(FieldError::new(
                "occurred_at",
                "in_future",
                "occurred_at is more than 24 hours ahead",
            ));
        }
        errors.finish(|| {
            Some(NewMovement {
                id: id?,
                sku: sku?,
                location: location?,
                kind: kind?,
                qty: self.qty,
                reason,
                occurred_at,
            })
        })
    }
}

fn check_qty(kind: MovementKind, qty: i64) -> Result<(), FieldError> {
    let range = match kind {
        MovementKind::Adjustment if qty == 0 => {
            return Err(FieldError::new(
                "qty",
                "zero",
                "an adjustment's qty is non-zero (signed)",
            ));
        }
        MovementKind::Adjustment => -MAX_QTY..=MAX_QTY,
        MovementKind::Count => 0..=MAX_QTY,
        _ if qty <= 0 => {
            return Err(FieldError::new(
                "qty",
                "not_positive",
                "qty must be a positive integer",
            ));
        }
        _ => 1..=MAX_QTY,
    };
    if range.contains(&qty) {
        Ok(())
    } else {
        Err(FieldError::new(
            "qty",
            "out_of_range",
            format!("qty must be within {}..={}", range.start(), range.end()),
        ))
    }
}

/// Validates a batch: 1..=[`MAX_BATCH`] movements, each named `movements[i]` in errors.
pub fn validate_batch(inputs: &[MovementInput], now: DateTime<Utc>) -> Validated<Vec<NewMovement>> {
    let mut errors = Errors::default();
    if inputs.is_empty() {
        errors.push(FieldError::new(
            "movements",
            "required",
            "a batch holds at least one movement",
        ));
    }
    if inputs.len() > MAX_BATCH {
        errors.push(FieldError::new(
            "movements",
            "too_many",
            format!("a batch holds at most {MAX_BATCH} movements"),
        ));
    }
    let movements: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(i, m)| errors.nested(&format!("movements[{i}]"), m.validate(now)))
        .collect();
    errors.finish(|| movements.into_iter().collect())
}

/// Stock figures of one SKU at one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Level {
    /// The product.
    pub sku: Sku,
    /// The place.
    pub location: LocationCode,
    /// Units physically there.
    pub on_hand: i64,
    /// Units promised to open orders.
    pub reserved: i64,
    /// `on_hand - reserved`: what may still be promised.
    pub available: i64,
    /// Units on the way.
    pub incoming: i64,
    /// When a movement last changed it; `None` when nothing ever moved.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Level {
    /// The figures of a SKU at a location where nothing has moved yet.
    pub fn empty(sku: Sku, location: LocationCode) -> Self {
        Self {
            sku,
            location,
            on_hand: 0,
            reserved: 0,
            available: 0,
            incoming: 0,
            updated_at: None,
        }
    }
}

/// One row of the ledger: a movement as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Movement {
    /// Position in the ledger; increases with every applied movement.
    pub seq: i64,
    /// The producer's unique id.
    pub id: MovementId,
    /// The product.
    pub sku: Sku,
    /// The place.
    pub location: LocationCode,
    /// What happened.
    pub kind: MovementKind,
    /// Quantity as submitted.
    pub qty: i64,
    /// Change of on_hand it made.
    pub on_hand_delta: i64,
    /// Change of reserved it made.
    pub reserved_delta: i64,
    /// on_hand right after it.
    pub on_hand_after: i64,
    /// Why.
    pub reason: Option<String>,
    /// When it happened, as the producer said.
    pub occurred_at: DateTime<Utc>,
    /// When Stockbook recorded it.
    pub recorded_at: DateTime<Utc>,
}

impl Movement {
    /// True when a re-sent movement carries the same facts as this recorded one.
    pub fn same_facts(&self, m: &NewMovement) -> bool {
        self.sku == m.sku && self.location == m.location && self.kind == m.kind && self.qty == m.qty
    }
}

/// What became of one submitted movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Applied now.
    Applied(Applied),
    /// Applied before under the same id; this is the first outcome and nothing changed.
    Duplicate(Applied),
    /// Not applied; nothing changed.
    Rejected {
        /// Why, as a stable code and a message.
        error: Rejection,
    },
}

/// The figures of an applied movement, returned again for a duplicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Applied {
    /// Ledger position.
    pub seq: i64,
    /// on_hand right after the movement.
    pub on_hand: i64,
    /// True when a sale drove on_hand below zero (an alert is due).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub negative_stock: bool,
}

/// Why a movement was not applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct Rejection {
    /// Stable machine code: `insufficient_stock`, `id_reused`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl Applied {
    /// The outcome recorded in a ledger row.
    pub fn of(m: &Movement) -> Self {
        Self {
            seq: m.seq,
            on_hand: m.on_hand_after,
            negative_stock: m.on_hand_after < 0 && m.on_hand_delta < 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn input(kind: &str, qty: i64, reason: Option<&str>) -> MovementInput {
        MovementInput {
            id: "m-1".into(),
            sku: "SKU-1".into(),
            location: "WH".into(),
            kind: kind.into(),
            qty,
            reason: reason.map(Into::into),
            occurred_at: None,
        }
    }

    #[test]
    fn quantities_follow_the_rules_of_each_kind() {
        let now = Utc::now();
        let cases: &[(&str, i64, Option<&str>, Option<&str>)] = &[
            ("receipt", 1, None, None),
            ("receipt", 0, None, Some("not_positive")),
            ("sale", -3, None, Some("not_positive")),
            ("sale", MAX_QTY + 1, None, Some("out_of_range")),
            ("adjustment", -5, Some("breakage"), None),
            ("adjustment", 0, Some("x"), Some("zero")),
            ("adjustment", 5, None, Some("required")),
            ("count", 0, None, None),
            ("count", -1, None, Some("out_of_range")),
            ("transfer", 1, None, Some("unknown_kind")),
            ("reserve", 1, None, Some("unknown_kind")),
        ];
        for &(kind, qty, reason, expected) in cases {
            let got = input(kind, qty, reason)
                .validate(now)
                .err()
                .map(|e| e[0].code);
            assert_eq!(got, expected, "{kind} {qty}");
        }
    }

    #[test]
    fn a_movement_far_in_the_future_is_refused() {
        let now = Utc::now();
        let mut m = input("receipt", 1, None);
        m.occurred_at = Some(now + Duration::days(2));
        assert_eq!(m.validate(now).unwrap_err()[0].field, "occurred_at");
    }

    #[test]
    fn batch_errors_name_the_movement() {
        let now = Utc::now();
        let errors =
            validate_batch(&[input("receipt", 1, None), input("sale", 0, None)], now).unwrap_err();
        assert_eq!(errors[0].field, "movements[1].qty");
        assert_eq!(validate_batch(&[], now).unwrap_err()[0].code, "required");
    }

    #[test]
    fn effects_refuse_to_go_negative_except_for_sales() {
        assert_eq!(MovementKind::Adjustment.effect(-5).delta_from(4), None);
        assert_eq!(MovementKind::Adjustment.effect(-5).delta_from(5), Some(-5));
        assert_eq!(MovementKind::Sale.effect(5).delta_from(1), Some(-5));
        assert_eq!(MovementKind::Count.effect(7).delta_from(10), Some(-3));
        assert_eq!(
            MovementKind::Receipt.effect(2).delta_from(-4),
            Some(2),
            "a receipt onto negative stock"
        );
    }

    proptest! {
        #[test]
        fn only_decreases_into_negative_stock_are_refused_and_only_for_non_sales(
            before in -1000i64..1000, qty in -1000i64..1000, k in 0usize..5
        ) {
                        let kind = MovementKind::EXTERNAL[k];
            let target = match kind.effect(qty) {
                Effect::Delta { on_hand, .. } => before + on_hand,
                Effect::SetTo(t) => t,
            };
            match kind.effect(qty).delta_from(before) {
                Some(d) => prop_assert_eq!(before + d, target),
                None => {
                    prop_assert!(target < 0 && target < before, "refused a change that is no decrease into negative");
                    prop_assert!(kind != MovementKind::Sale && kind != MovementKind::Count);
                }
            }
        }
    }
}
