//! Order stories: pricing, units, placement, the lifecycle, edits, and the concurrency
//! claims (no overselling, one order per idempotency key, exactly one of two racing
//! commands wins, no deadlock under contention).

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use domain::customer::{Customer, CustomerInput};
use domain::ids::{LocationCode, Sku};
use domain::order::{
    LineInput, Order, OrderError, OrderFilter, OrderInput, OrderPatchInput, OrderStatus, QtyInput,
    ReturnInput, ShipInput,
};
use domain::pricing::{PriceEntryInput, PriceListInput, PriceSource, validate_entries};
use domain::stock::MovementKind;

use super::{location, movement, product};
use crate::{OrderCommand, PlaceMeta, Placed, Store, StoreError};

fn loc() -> LocationCode {
    LocationCode::parse("location", "WH").expect("valid")
}

fn sku(s: &str) -> Sku {
    Sku::parse("sku", s).expect("valid")
}

/// A validated customer, for tests.
pub fn customer(
    code: &str,
    tier: Option<&str>,
    credit_limit: Option<i64>,
    auto_confirm: bool,
) -> Customer {
    CustomerInput {
        code: code.into(),
        name: format!("Customer {code}"),
        contacts: vec![],
        ship_to: vec![],
        status: None,
        price_tier: tier.map(Into::into),
        credit_limit,
        auto_confirm: Some(auto_confirm),
    }
    .validate(Utc::now())
    .expect("valid customer")
}

fn input(customer: &str, lines: &[(&str, i64)]) -> OrderInput {
    OrderInput {
        customer: customer.into(),
        location: Some("WH".into()),
        lines: lines
            .iter()
            .map(|(s, q)| LineInput {
                sku: (*s).into(),
                qty: *q,
                unit: None,
                expected_unit_price: None,
            })
            .collect(),
        ship_to: None,
        note: None,
        requested_date: None,
    }
}

fn meta(key: &str) -> PlaceMeta {
    PlaceMeta {
        order_id: format!("id-{key}"),
        idempotency_key: key.into(),
        request_hash: "h".into(),
        actor: "tester".into(),
        now: Utc::now(),
    }
}

/// Places `input` under `key` (the key also names the order id).
pub async fn place(
    store: &Arc<dyn Store>,
    input: &OrderInput,
    key: &str,
) -> Result<Placed, StoreError> {
    store
        .place_order(input.validate(None).expect("valid order"), meta(key))
        .await
}

async fn act(store: &Arc<dyn Store>, id: &str, command: OrderCommand) -> Result<Order, StoreError> {
    store
        .act_on_order(id, command, None, "tester", Utc::now())
        .await
}

fn ship_all(order: &Order) -> OrderCommand {
    let lines = order
        .lines
        .iter()
        .map(|l| QtyInput {
            sku: l.sku.clone(),
            qty: l.base_qty - l.shipped_qty,
        })
        .collect();
    OrderCommand::Ship(
        ShipInput {
            lines,
            carrier: None,
            tracking_number: None,
        }
        .validate()
        .expect("valid"),
    )
}

fn ship(lines: &[(&str, i64)]) -> OrderCommand {
    let lines = lines
        .iter()
        .map(|(s, q)| QtyInput {
            sku: (*s).into(),
            qty: *q,
        })
        .collect();
    OrderCommand::Ship(
        ShipInput {
            lines,
            carrier: Some("SF".into()),
            tracking_number: Some("SF100".into()),
        }
        .validate()
        .expect("valid"),
    )
}

/// A warehouse `WH`, products with `stock` each, and a customer `C` (auto-confirm).
async fn shop(store: &Arc<dyn Store>, skus: &[&str], stock: i64) {
    store.create_location(location("WH")).await.unwrap();
    let mut receipts = Vec::new();
    for s in skus {
        store.create_product(product(s, 1000, &[])).await.unwrap();
        receipts.push(movement(
            &format!("open-{s}"),
            "WH",
            s,
            MovementKind::Receipt,
            stock,
        ));
    }
    store.apply_movements(receipts).await.unwrap();
    store
        .create_customer(customer("C", None, None, true))
        .await
        .unwrap();
}

async fn level(store: &Arc<dyn Store>, s: &str) -> (i64, i64, i64) {
    let l = store.get_level(&loc(), &sku(s)).await.unwrap();
    (l.on_hand, l.reserved, l.available)
}

fn refusal(result: Result<impl std::fmt::Debug, StoreError>) -> OrderError {
    match result {
        Err(StoreError::Order(e)) => e,
        other => panic!("expected an order refusal, got {other:?}"),
    }
}

/// Customer price beats tier beats list, at the highest break not above the quantity; a
/// changed expected price refuses the order and reserves nothing.
pub async fn prices_resolve_by_source_and_break(store: Arc<dyn Store>) {
    shop(&store, &["TEA", "CUP"], 1000).await;
    let tier = PriceListInput {
        name: "Gold".into(),
        currency: None,
        entries: serde_json::from_str(r#"[{"sku":"TEA","unit_price":900},{"sku":"TEA","min_qty":10,"unit_price":800},{"sku":"CUP","unit_price":450}]"#).unwrap(),
    };
    store
        .put_price_list(tier.validate("GOLD").unwrap())
        .await
        .unwrap();
    store
        .create_customer(customer("G", Some("GOLD"), None, true))
        .await
        .unwrap();
    let own: Vec<PriceEntryInput> =
        serde_json::from_str(r#"[{"sku":"TEA","min_qty":24,"unit_price":700}]"#).unwrap();
    store
        .put_customer_prices("G", validate_entries(&own).unwrap())
        .await
        .unwrap();
    let today = Utc::now().date_naive();
    for (qty, price, source) in [
        (1, 900, PriceSource::Tier),
        (10, 800, PriceSource::Tier),
        (24, 700, PriceSource::Customer),
    ] {
        let q = store.quote("G", &sku("TEA"), qty, today).await.unwrap();
        assert_eq!((q.unit_price, q.source), (price, source), "qty {qty}");
    }
    assert_eq!(
        store
            .quote("C", &sku("TEA"), 24, today)
            .await
            .unwrap()
            .source,
        PriceSource::List
    );

    let placed = place(&store, &input("G", &[("TEA", 12), ("CUP", 2)]), "k1")
        .await
        .unwrap()
        .order;
    let prices: Vec<(i64, PriceSource, i64)> = placed
        .lines
        .iter()
        .map(|l| (l.unit_price, l.price_source, l.line_total))
        .collect();
    assert_eq!(
        prices,
        [
            (800, PriceSource::Tier, 9600),
            (450, PriceSource::Tier, 900)
        ]
    );
    assert_eq!(placed.total, 10_500);

    let mut stale = input("G", &[("TEA", 12), ("CUP", 2)]);
    stale.lines[0].expected_unit_price = Some(850);
    stale.lines[1].expected_unit_price = Some(450);
    let OrderError::PriceChanged { prices } = refusal(place(&store, &stale, "k2").await) else {
        panic!()
    };
    assert_eq!(
        (prices.len(), prices[0].sku.as_str(), prices[0].unit_price),
        (1, "TEA", 800)
    );
    assert_eq!(
        level(&store, "TEA").await,
        (1000, 12, 988),
        "the refused order reserved nothing"
    );

    let expired: Vec<PriceEntryInput> =
        serde_json::from_str(r#"[{"sku":"CUP","unit_price":1,"valid_to":"2020-01-01"}]"#).unwrap();
    store
        .put_customer_prices("G", validate_entries(&expired).unwrap())
        .await
        .unwrap();
    assert_eq!(
        store
            .quote("G", &sku("CUP"), 1, today)
            .await
            .unwrap()
            .unit_price,
        450,
        "an expired price does not apply"
    );
    assert_eq!(
        store
            .quote(
                "G",
                &sku("CUP"),
                1,
                NaiveDate::from_ymd_opt(2019, 6, 1).unwrap()
            )
            .await
            .unwrap()
            .unit_price,
        1
    );
}

/// Pack units convert to base units; minimum and multiple are enforced per line.
pub async fn pack_units_convert_and_order_rules_hold(store: Arc<dyn Store>) {
    shop(&store, &[], 0).await;
    let mut tea = product("TEA", 100, &[]);
    tea.packs = vec![domain::units::Pack {
        unit: "箱".into(),
        factor: 12,
        gtin: None,
    }];
    tea.min_order_qty = 6;
    tea.order_multiple = 6;
    store.create_product(tea).await.unwrap();
    store
        .apply_movements(vec![movement("r", "WH", "TEA", MovementKind::Receipt, 100)])
        .await
        .unwrap();
    let mut order = input("C", &[("TEA", 2)]);
    order.lines[0].unit = Some("箱".into());
    let placed = place(&store, &order, "k1").await.unwrap().order;
    let l = &placed.lines[0];
    assert_eq!(
        (
            l.unit.as_str(),
            l.unit_factor,
            l.qty,
            l.base_qty,
            l.unit_price,
            l.line_total
        ),
        ("箱", 12, 2, 24, 1200, 2400)
    );
    assert_eq!(level(&store, "TEA").await, (100, 24, 76));
    for (qty, unit, field, code) in [
        (4, None, "lines[0].qty", "below_minimum"),
        (8, None, "lines[0].qty", "not_a_multiple"),
        (1, Some("盒"), "lines[0].unit", "unknown_unit"),
    ] {
        let mut bad = input("C", &[("TEA", qty)]);
        bad.lines[0].unit = unit.map(Into::into);
        let result = place(&store, &bad, &format!("bad-{qty}")).await;
        let Err(StoreError::Invalid(errors)) = result else {
            panic!("{result:?}")
        };
        assert_eq!((errors[0].field.as_str(), errors[0].code), (field, code));
    }
    assert_eq!(level(&store, "TEA").await, (100, 24, 76));
}

/// What placing returns is the order as stored: reading it back by id or by number gives
/// the same order, field for field (pack and base lines, tier and list prices, credit
/// hold, the customer's default address or the one given, note and requested date).
pub async fn a_placed_order_reads_back_as_it_was_returned(store: Arc<dyn Store>) {
    shop(&store, &["CUP"], 100).await;
    let mut tea = product("TEA", 100, &["4006381333931"]);
    tea.packs = vec![domain::units::Pack {
        unit: "箱".into(),
        factor: 12,
        gtin: None,
    }];
    store.create_product(tea).await.unwrap();
    store
        .apply_movements(vec![movement("r", "WH", "TEA", MovementKind::Receipt, 100)])
        .await
        .unwrap();
    let tier = PriceListInput {
        name: "Gold".into(),
        currency: None,
        entries: serde_json::from_str(r#"[{"sku":"TEA","min_qty":24,"unit_price":90}]"#).unwrap(),
    };
    store
        .put_price_list(tier.validate("GOLD").unwrap())
        .await
        .unwrap();
    let mut held = customer("H", Some("GOLD"), Some(1_000), false);
    held.ship_to = serde_json::from_str(
        r#"[{"name":"王芳","line1":"建国路 88 号","city":"北京","postal_code":"100022"}]"#,
    )
    .unwrap();
    store.create_customer(held).await.unwrap();

    let mut order = input("H", &[("TEA", 2), ("CUP", 3)]);
    order.lines[0].unit = Some("箱".into());
    order.lines[0].expected_unit_price = Some(1080);
    order.note = Some("after 14:00".into());
    order.requested_date = NaiveDate::from_ymd_opt(2030, 1, 2);
    let mut given = input("C", &[("CUP", 1)]);
    given.ship_to =
        serde_json::from_str(r#"{"name":"陈明","line1":"文三路 12 号","city":"杭州"}"#).unwrap();
    for (order, key) in [(order, "k1"), (given, "k2")] {
        let placed = place(&store, &order, key).await.unwrap().order;
        assert_eq!(store.get_order(&placed.id).await.unwrap(), placed, "{key}");
        assert_eq!(
            store.get_order(&placed.number).await.unwrap(),
            placed,
            "{key}"
        );
        let replayed = place(&store, &order, key).await.unwrap();
        assert!(!replayed.created);
        assert_eq!(replayed.order, placed, "{key} replayed");
    }
    let first = store.get_order("id-k1").await.unwrap();
    assert!(first.credit_hold && first.status == OrderStatus::PendingReview);
    assert_eq!(first.timeline[0].detail.as_deref(), Some("credit_hold"));
    assert_eq!(
        first.ship_to.as_ref().map(|a| a.city.as_str()),
        Some("北京")
    );
    assert_eq!(
        first
            .lines
            .iter()
            .map(|l| l.price_source)
            .collect::<Vec<_>>(),
        [PriceSource::Tier, PriceSource::List]
    );
}

/// A 5-line order whose last line is short reserves nothing and names the short line.
pub async fn a_short_line_reserves_nothing(store: Arc<dyn Store>) {
    let skus = ["A", "B", "C", "D", "E"];
    shop(&store, &skus, 10).await;
    let result = place(
        &store,
        &input("C", &[("A", 5), ("B", 5), ("C", 5), ("D", 5), ("E", 11)]),
        "k",
    )
    .await;
    let OrderError::InsufficientStock { shortages } = refusal(result) else {
        panic!()
    };
    assert_eq!(shortages.len(), 1);
    assert_eq!(
        (
            shortages[0].sku.as_str(),
            shortages[0].requested,
            shortages[0].available
        ),
        ("E", 11, 10)
    );
    for s in skus {
        assert_eq!(level(&store, s).await, (10, 0, 10), "{s}");
    }
    let unknown = place(&store, &input("NOBODY", &[("A", 1)]), "k2").await;
    assert!(
        matches!(&unknown, Err(StoreError::Invalid(e)) if e[0].field == "customer"),
        "{unknown:?}"
    );
    assert!(
        store
            .list_orders(&OrderFilter::default(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.verify().await.unwrap().ok());
}

/// The whole life of an order, with its stock effects, timeline and refusals.
pub async fn an_order_lives_through_review_shipments_delivery_and_return(store: Arc<dyn Store>) {
    shop(&store, &["A", "B"], 50).await;
    store
        .create_customer(customer("R", None, None, false))
        .await
        .unwrap();
    let order = place(&store, &input("R", &[("A", 10), ("B", 4)]), "k")
        .await
        .unwrap()
        .order;
    assert_eq!(
        (order.status, order.version),
        (OrderStatus::PendingReview, 1)
    );
    assert!(
        order.number.starts_with("SO-") && order.number.ends_with("-000001"),
        "{}",
        order.number
    );
    assert_eq!(level(&store, "A").await, (50, 10, 40));

    let refused = refusal(act(&store, &order.id, OrderCommand::Deliver).await);
    assert!(
        matches!(
            refused,
            OrderError::InvalidTransition {
                status: OrderStatus::PendingReview,
                ..
            }
        ),
        "{refused:?}"
    );
    let o = act(&store, &order.number, OrderCommand::Approve)
        .await
        .unwrap();
    assert_eq!((o.status, o.version), (OrderStatus::Confirmed, 2));
    let o = act(&store, &o.id, ship(&[("A", 4)])).await.unwrap();
    assert_eq!(o.status, OrderStatus::PartiallyShipped);
    assert_eq!(
        level(&store, "A").await,
        (46, 6, 40),
        "shipping turns reservation into on_hand"
    );
    let over = act(&store, &o.id, ship(&[("A", 7)])).await;
    assert!(
        matches!(&over, Err(StoreError::Invalid(e)) if e[0].code == "exceeds_open"),
        "{over:?}"
    );
    assert!(matches!(
        refusal(act(&store, &o.id, OrderCommand::Cancel(None)).await),
        OrderError::InvalidTransition { .. }
    ));
    let o = act(&store, &o.id, ship_all(&o)).await.unwrap();
    assert_eq!((o.status, o.shipments.len()), (OrderStatus::Shipped, 2));
    assert_eq!(o.shipments[0].carrier.as_deref(), Some("SF"));
    assert_eq!(level(&store, "B").await, (46, 0, 46));
    let o = act(&store, &o.id, OrderCommand::Deliver).await.unwrap();
    let back = ReturnInput {
        lines: vec![QtyInput {
            sku: "B".into(),
            qty: 1,
        }],
        reason: "damaged".into(),
    }
    .validate()
    .unwrap();
    let o = act(&store, &o.id, OrderCommand::Return(back))
        .await
        .unwrap();
    assert_eq!(
        (o.status, o.lines[1].returned_qty),
        (OrderStatus::Delivered, 1)
    );
    assert_eq!(level(&store, "B").await, (47, 0, 47));
    let actions: Vec<&str> = o.timeline.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["placed", "approve", "ship", "ship", "deliver", "return"]
    );
    assert!(o.timeline.iter().all(|e| e.actor == "tester"));
    assert_eq!(o.version, 6);
    let ledger: Vec<MovementKind> = store
        .list_movements(&loc(), &sku("A"), None, 10)
        .await
        .unwrap()
        .iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(
        ledger,
        [
            MovementKind::Ship,
            MovementKind::Ship,
            MovementKind::Reserve,
            MovementKind::Receipt
        ]
    );
    let report = store.verify().await.unwrap();
    assert!(report.ok(), "{report:?}");

    let rejected = place(&store, &input("R", &[("A", 3)]), "k2")
        .await
        .unwrap()
        .order;
    act(
        &store,
        &rejected.id,
        OrderCommand::Reject(Some("no".into())),
    )
    .await
    .unwrap();
    assert_eq!(level(&store, "A").await, (40, 0, 40), "rejecting releases");
    assert!(store.verify().await.unwrap().ok());
}

/// Edits need the current version, re-price only changed lines, and move the reservation
/// by the difference; a short edit changes nothing.
pub async fn edits_move_the_reservation_by_the_difference(store: Arc<dyn Store>) {
    shop(&store, &["A", "B", "C"], 20).await;
    let o = place(&store, &input("C", &[("A", 5), ("B", 5)]), "k")
        .await
        .unwrap()
        .order;
    let patch = |lines: &[(&str, i64)]| {
        OrderPatchInput {
            lines: Some(input("C", lines).lines),
            ship_to: None,
            note: Some("edited".into()),
        }
        .validate()
        .unwrap()
    };
    let stale = store
        .act_on_order(
            &o.id,
            OrderCommand::Edit(patch(&[("A", 1)])),
            Some(o.version + 1),
            "t",
            Utc::now(),
        )
        .await;
    assert!(matches!(
        refusal(stale),
        OrderError::VersionMismatch { current: 1 }
    ));
    let o2 = store
        .act_on_order(
            &o.id,
            OrderCommand::Edit(patch(&[("A", 8), ("C", 2)])),
            Some(1),
            "t",
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (o2.version, o2.note.as_deref(), o2.lines.len()),
        (2, Some("edited"), 2)
    );
    assert_eq!(
        [
            level(&store, "A").await.1,
            level(&store, "B").await.1,
            level(&store, "C").await.1
        ],
        [8, 0, 2]
    );
    let short = store
        .act_on_order(
            &o.id,
            OrderCommand::Edit(patch(&[("A", 30)])),
            Some(2),
            "t",
            Utc::now(),
        )
        .await;
    assert!(matches!(
        refusal(short),
        OrderError::InsufficientStock { .. }
    ));
    assert_eq!(
        store.get_order(&o.id).await.unwrap(),
        o2,
        "a refused edit changes nothing"
    );
    assert_eq!(level(&store, "A").await.1, 8);
    assert!(store.verify().await.unwrap().ok());
}

/// An order over the customer's credit waits for review, flagged; approving lifts the hold.
pub async fn orders_over_credit_wait_for_review(store: Arc<dyn Store>) {
    shop(&store, &["A"], 100).await;
    store
        .create_customer(customer("L", None, Some(10_000), true))
        .await
        .unwrap();
    let first = place(&store, &input("L", &[("A", 8)]), "k1")
        .await
        .unwrap()
        .order;
    assert_eq!(
        (first.status, first.credit_hold),
        (OrderStatus::Confirmed, false)
    );
    let second = place(&store, &input("L", &[("A", 3)]), "k2")
        .await
        .unwrap()
        .order;
    assert_eq!(
        (second.status, second.credit_hold),
        (OrderStatus::PendingReview, true)
    );
    assert_eq!(second.timeline[0].detail.as_deref(), Some("credit_hold"));
    let approved = act(&store, &second.id, OrderCommand::Approve)
        .await
        .unwrap();
    assert_eq!(
        (approved.status, approved.credit_hold),
        (OrderStatus::Confirmed, false)
    );
}

/// Stock 100, 64 concurrent orders of 3: exactly 33 succeed; reserved 99, available 1.
pub async fn concurrent_orders_never_oversell(store: Arc<dyn Store>) {
    shop(&store, &["HOT"], 100).await;
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                place(&store, &input("C", &[("HOT", 3)]), &format!("k{i}")).await
            })
        })
        .collect();
    let mut won = 0;
    for t in futures_util::future::join_all(tasks).await {
        match t.expect("task ran") {
            Ok(_) => won += 1,
            Err(StoreError::Order(OrderError::InsufficientStock { .. })) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(won, 33);
    assert_eq!(level(&store, "HOT").await, (100, 99, 1));
    assert!(store.verify().await.unwrap().ok());
}

/// A customer with a credit limit is placed alone (its credit check needs the customer
/// locked): a short line there also reserves nothing and names the line.
pub async fn a_short_line_of_a_credit_customer_reserves_nothing(store: Arc<dyn Store>) {
    shop(&store, &["A", "B"], 10).await;
    store
        .create_customer(customer("L", None, Some(1_000_000), true))
        .await
        .unwrap();
    let result = place(&store, &input("L", &[("B", 3), ("A", 11)]), "k").await;
    let OrderError::InsufficientStock { shortages } = refusal(result) else {
        panic!()
    };
    let short: Vec<(&str, i64, i64)> = shortages
        .iter()
        .map(|s| (s.sku.as_str(), s.requested, s.available))
        .collect();
    assert_eq!(short, [("A", 11, 10)]);
    for s in ["A", "B"] {
        assert_eq!(level(&store, s).await, (10, 0, 10), "{s}");
    }
    let placed = place(&store, &input("L", &[("B", 3), ("A", 10)]), "k2")
        .await
        .unwrap();
    assert_eq!(placed.order.customer, "L");
    assert_eq!(level(&store, "A").await, (10, 10, 0));
    assert_eq!(level(&store, "B").await, (10, 3, 7));
    assert!(store.verify().await.unwrap().ok());
}

/// 48 concurrent 2-line orders, each wanting 1 or 3 of a scarce SKU and 1 of a plentiful
/// one: a refused order keeps nothing of its other line, and nobody is refused while the
/// scarce SKU still has what they asked for (orders placed together, as where the store
/// commits them in groups, come out as if placed one by one).
pub async fn refused_orders_give_back_their_other_lines(store: Arc<dyn Store>) {
    shop(&store, &["RARE", "MANY"], 20).await;
    store
        .apply_movements(vec![movement(
            "more-many",
            "WH",
            "MANY",
            MovementKind::Receipt,
            980,
        )])
        .await
        .unwrap();
    let tasks: Vec<_> = (0..48)
        .map(|i| {
            let store = store.clone();
            let rare = if i % 3 == 0 { 3 } else { 1 };
            tokio::spawn(async move {
                let placed = place(
                    &store,
                    &input("C", &[("MANY", 1), ("RARE", rare)]),
                    &format!("k{i}"),
                )
                .await;
                (rare, placed)
            })
        })
        .collect();
    let (mut rare_reserved, mut placed, mut refused_wanting) = (0, 0, Vec::new());
    for t in futures_util::future::join_all(tasks).await {
        match t.expect("task ran") {
            (rare, Ok(_)) => {
                rare_reserved += rare;
                placed += 1;
            }
            (rare, Err(StoreError::Order(OrderError::InsufficientStock { shortages }))) => {
                assert_eq!(shortages.len(), 1, "{shortages:?}");
                assert_eq!(shortages[0].sku, "RARE");
                refused_wanting.push(rare);
            }
            (_, Err(e)) => panic!("{e:?}"),
        }
    }
    assert_eq!(level(&store, "RARE").await.1, rare_reserved);
    assert_eq!(
        level(&store, "MANY").await,
        (1000, placed, 1000 - placed),
        "refused orders keep nothing of MANY"
    );
    let left = level(&store, "RARE").await.2;
    assert!(
        refused_wanting.iter().all(|&wanted| wanted > left),
        "refused while {left} remained: {refused_wanting:?}"
    );
    assert!(!refused_wanting.is_empty() && left < 3);
    assert!(store.verify().await.unwrap().ok());
}

/// 32 tasks place random multi-line orders over 20 SKUs (lines in random order, so lock
/// order matters), cancelling or shipping some: no deadlock, no error, reserved equals the
/// open lines, available never negative, verify passes.
pub async fn random_orders_from_many_tasks_keep_every_invariant(store: Arc<dyn Store>) {
    let skus: Vec<String> = (0..20).map(|i| format!("S{i:02}")).collect();
    shop(
        &store,
        &skus.iter().map(String::as_str).collect::<Vec<_>>(),
        60,
    )
    .await;
    let tasks: Vec<_> = (0..32u64)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut seed = t
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let mut next = |n: u64| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed % n
                };
                for k in 0..8 {
                    let mut lines: Vec<(String, i64)> = Vec::new();
                    for _ in 0..1 + next(5) {
                        let s = format!("S{:02}", next(20));
                        if !lines.iter().any(|(x, _)| *x == s) {
                            lines.push((s, 1 + next(4) as i64));
                        }
                    }
                    let borrowed: Vec<(&str, i64)> =
                        lines.iter().map(|(s, q)| (s.as_str(), *q)).collect();
                    match place(&store, &input("C", &borrowed), &format!("t{t}-{k}")).await {
                        Ok(placed) => match next(3) {
                            0 => drop(
                                act(&store, &placed.order.id, OrderCommand::Cancel(None))
                                    .await
                                    .expect("cancel"),
                            ),
                            1 => drop(
                                act(&store, &placed.order.id, ship_all(&placed.order))
                                    .await
                                    .expect("ship"),
                            ),
                            _ => {}
                        },
                        Err(StoreError::Order(OrderError::InsufficientStock { .. })) => {}
                        Err(e) => panic!("task {t}: {e:?}"),
                    }
                }
            })
        })
        .collect();
    for t in futures_util::future::join_all(tasks).await {
        t.expect("task ran");
    }
    let open: Vec<Order> = store
        .list_orders(&OrderFilter::default(), None, 500)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, o)| o)
        .filter(|o| o.status.is_open())
        .collect();
    for s in &skus {
        let held: i64 = open
            .iter()
            .flat_map(|o| &o.lines)
            .filter(|l| &l.sku == s)
            .map(|l| l.reserved_qty)
            .sum();
        let (on_hand, reserved, available) = level(&store, s).await;
        assert_eq!(reserved, held, "{s}");
        assert!(available >= 0 && on_hand >= 0, "{s}: {on_hand} {reserved}");
    }
    let report = store.verify().await.unwrap();
    assert!(report.ok(), "{report:?}");
}

/// One idempotency key sent 20 times at once creates one order and every attempt gets it,
/// even though the stock only covers one of them; the same key with another request is
/// refused.
pub async fn one_idempotency_key_makes_one_order(store: Arc<dyn Store>) {
    shop(&store, &["A"], 2).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut m = meta("same");
                m.order_id = format!("attempt-{i}");
                store
                    .place_order(input("C", &[("A", 2)]).validate(None).unwrap(), m)
                    .await
                    .expect("answered")
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    let mut created = 0;
    for t in futures_util::future::join_all(tasks).await {
        let placed = t.expect("task ran");
        created += usize::from(placed.created);
        ids.insert(placed.order.id);
    }
    assert_eq!((ids.len(), created), (1, 1));
    assert_eq!(level(&store, "A").await, (2, 2, 0));
    let mut other = meta("same");
    other.request_hash = "another".into();
    let reused = store
        .place_order(input("C", &[("A", 5)]).validate(None).unwrap(), other)
        .await;
    assert!(matches!(refusal(reused), OrderError::IdempotencyKeyReused));
}

/// Cancel and ship sent at once: exactly one wins and stock stays consistent.
pub async fn cancel_and_ship_racing_one_wins(store: Arc<dyn Store>) {
    shop(&store, &["A", "B"], 100).await;
    for round in 0..10 {
        let o = place(
            &store,
            &input("C", &[("A", 3), ("B", 2)]),
            &format!("k{round}"),
        )
        .await
        .unwrap()
        .order;
        let (s1, s2) = (store.clone(), store.clone());
        let (id1, id2) = (o.id.clone(), o.id.clone());
        let cmd = ship_all(&o);
        let cancel = tokio::spawn(async move { act(&s1, &id1, OrderCommand::Cancel(None)).await });
        let shipping = tokio::spawn(async move { act(&s2, &id2, cmd).await });
        let (c, s) = (cancel.await.expect("ran"), shipping.await.expect("ran"));
        assert!(
            c.is_ok() != s.is_ok(),
            "round {round}: exactly one wins: {c:?} / {s:?}"
        );
        let loser = if c.is_ok() { s } else { c };
        assert!(matches!(
            refusal(loser),
            OrderError::InvalidTransition { .. }
        ));
    }
    let report = store.verify().await.unwrap();
    assert!(report.ok(), "{report:?}");
    let (on_hand, reserved, _) = level(&store, "A").await;
    assert_eq!(reserved, 0);
    let shipped: i64 = store
        .list_orders(
            &OrderFilter {
                status: Some(OrderStatus::Shipped),
                ..Default::default()
            },
            None,
            50,
        )
        .await
        .unwrap()
        .len() as i64;
    assert_eq!(on_hand, 100 - 3 * shipped);
}

/// Orders list newest first with filters, and page by sequence.
pub async fn orders_list_newest_first_with_filters(store: Arc<dyn Store>) {
    shop(&store, &["A", "B"], 100).await;
    store
        .create_customer(customer("D", None, None, false))
        .await
        .unwrap();
    for (i, (c, s)) in [("C", "A"), ("D", "B"), ("C", "B"), ("D", "A")]
        .into_iter()
        .enumerate()
    {
        place(&store, &input(c, &[(s, 1)]), &format!("k{i}"))
            .await
            .unwrap();
    }
    let all = store
        .list_orders(&OrderFilter::default(), None, 10)
        .await
        .unwrap();
    let seqs: Vec<i64> = all.iter().map(|(s, _)| *s).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    let of = |f: OrderFilter| {
        let store = store.clone();
        async move {
            store
                .list_orders(&f, None, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|(_, o)| (o.customer, o.lines[0].sku.clone()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        of(OrderFilter {
            customer: Some("C".into()),
            ..Default::default()
        })
        .await,
        [("C".into(), "B".into()), ("C".into(), "A".into())]
    );
    assert_eq!(
        of(OrderFilter {
            sku: Some(sku("A")),
            ..Default::default()
        })
        .await,
        [("D".into(), "A".into()), ("C".into(), "A".into())]
    );
    assert_eq!(
        of(OrderFilter {
            status: Some(OrderStatus::PendingReview),
            ..Default::default()
        })
        .await
        .len(),
        2
    );
    let number = &all[1].1.number;
    assert_eq!(
        of(OrderFilter {
            q: Some(number.to_lowercase()),
            ..Default::default()
        })
        .await
        .len(),
        1
    );
    let older = store
        .list_orders(&OrderFilter::default(), Some(all[1].0), 10)
        .await
        .unwrap();
    assert_eq!(older.len(), 2);
}

/// Closing a partially shipped order releases what will not ship.
pub async fn closing_a_partly_shipped_order_releases_the_rest(store: Arc<dyn Store>) {
    shop(&store, &["A"], 50).await;
    let o = place(&store, &input("C", &[("A", 10)]), "k")
        .await
        .unwrap()
        .order;
    let o = act(&store, &o.id, ship(&[("A", 4)])).await.unwrap();
    assert_eq!(level(&store, "A").await, (46, 6, 40));
    let closed = act(&store, &o.id, OrderCommand::Close(None)).await.unwrap();
    assert_eq!(
        (
            closed.status,
            closed.lines[0].reserved_qty,
            closed.lines[0].shipped_qty
        ),
        (OrderStatus::Shipped, 0, 4)
    );
    assert_eq!(level(&store, "A").await, (46, 0, 46));
    assert!(matches!(
        refusal(act(&store, &o.id, OrderCommand::Close(None)).await),
        OrderError::InvalidTransition { .. }
    ));
    assert!(store.verify().await.unwrap().ok());
}

/// An edit keeps the price of unchanged lines and re-prices changed ones; an order priced
/// from a tier in another currency than its products stays editable in that currency.
pub async fn edits_reprice_only_changed_lines_and_keep_the_currency(store: Arc<dyn Store>) {
    shop(&store, &["A", "B"], 100).await;
    let usd = PriceListInput {
        name: "Export".into(),
        currency: Some("USD".into()),
        entries: serde_json::from_str(
            r#"[{"sku":"A","unit_price":150},{"sku":"B","unit_price":90}]"#,
        )
        .unwrap(),
    };
    store
        .put_price_list(usd.validate("EXPORT").unwrap())
        .await
        .unwrap();
    store
        .create_customer(customer("X", Some("EXPORT"), None, true))
        .await
        .unwrap();
    let o = place(&store, &input("X", &[("A", 2), ("B", 2)]), "k")
        .await
        .unwrap()
        .order;
    assert_eq!((o.currency.as_str(), o.total), ("USD", 480));
    let cheaper = PriceListInput {
        name: "Export".into(),
        currency: Some("USD".into()),
        entries: serde_json::from_str(
            r#"[{"sku":"A","unit_price":100},{"sku":"B","unit_price":50}]"#,
        )
        .unwrap(),
    };
    store
        .put_price_list(cheaper.validate("EXPORT").unwrap())
        .await
        .unwrap();
    let patch = OrderPatchInput {
        lines: Some(input("X", &[("A", 2), ("B", 3)]).lines),
        ship_to: None,
        note: None,
    };
    let edited = store
        .act_on_order(
            &o.id,
            OrderCommand::Edit(patch.validate().unwrap()),
            Some(1),
            "t",
            Utc::now(),
        )
        .await
        .unwrap();
    let prices: Vec<i64> = edited.lines.iter().map(|l| l.unit_price).collect();
    assert_eq!(
        prices,
        [150, 50],
        "A unchanged keeps 150; B changed gets today's 50"
    );
    assert_eq!((edited.currency.as_str(), edited.total), ("USD", 450));
}

/// Over its credit, a confirmed order may still be reduced, but not raised.
pub async fn an_order_over_credit_can_be_reduced_not_raised(store: Arc<dyn Store>) {
    shop(&store, &["A"], 100).await;
    store
        .create_customer(customer("L", None, Some(10_000), true))
        .await
        .unwrap();
    let o = place(&store, &input("L", &[("A", 9)]), "k1")
        .await
        .unwrap()
        .order;
    place(&store, &input("L", &[("A", 5)]), "k2").await.unwrap();
    let edit = |qty: i64, version: i64| {
        let store = store.clone();
        let id = o.id.clone();
        async move {
            let patch = OrderPatchInput {
                lines: Some(input("L", &[("A", qty)]).lines),
                ship_to: None,
                note: None,
            };
            store
                .act_on_order(
                    &id,
                    OrderCommand::Edit(patch.validate().unwrap()),
                    Some(version),
                    "t",
                    Utc::now(),
                )
                .await
        }
    };
    assert!(matches!(
        refusal(edit(10, 1).await),
        OrderError::CreditLimitExceeded { limit: 10_000, .. }
    ));
    let reduced = edit(8, 1).await.unwrap();
    assert_eq!(
        (reduced.total, reduced.status),
        (8000, OrderStatus::Confirmed)
    );
}

/// Ten orders of one customer at once against a credit limit that covers two: exactly two
/// are confirmed, the others wait for review on credit hold.
pub async fn concurrent_orders_share_one_credit_limit(store: Arc<dyn Store>) {
    shop(&store, &["A"], 1000).await;
    store
        .create_customer(customer("L", None, Some(10_000), true))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                place(&store, &input("L", &[("A", 4)]), &format!("k{i}"))
                    .await
                    .expect("placed")
                    .order
            })
        })
        .collect();
    let mut held = 0;
    for t in futures_util::future::join_all(tasks).await {
        held += usize::from(t.expect("task ran").credit_hold);
    }
    assert_eq!(held, 8, "4,000 each against 10,000: two fit");
}
