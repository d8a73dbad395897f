//! The ordering figures: 5-line orders through `POST /api/v1/orders` against a
//! New-Order-like transaction issued straight through sqlx, and one hot SKU ordered by 64
//! clients against a one-row conditional decrement. Both are followed by correctness
//! checks, because a fast order path that oversells or refuses a buyer while stock remains
//! is not fast, it is broken.
//!
//! Both sides of a pair order the same lines: a client's random sequence picks the
//! customer, five distinct SKUs of [`ORDER_SKUS`], a quantity of 1–3 per line and, for
//! products that have one, the pack unit half of the time. Stockbook then validates,
//! converts units, prices each line (customer price, tier with quantity breaks or list
//! price), reserves, records the timeline and appends the events; the ceiling inserts a
//! header and five lines and decrements five stock rows, in SKU order as Stockbook does.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::json;

use super::Setup;
use super::db::OrderLine;
use super::load::{Limits, Rng, Sample, drive, http_client, http_load};
use super::pairs::{Ceiling, FigureSpec, RatioOf, Round, interleaved};
use super::report::{Check, Figure};
use super::seed::{
    CUSTOMERS, HOT_SKU, HOT_STOCK, LAST_SKU, LAST_STOCK, ORDER_SKUS, PACK_FACTOR, WAREHOUSE,
    customer_code, has_pack, list_price, order_sku,
};
use super::stock::db_load;

/// Lines of every order of the orders figure.
const LINES: usize = 5;
/// Clients of the hot-SKU figure (and of its ceiling).
pub const HOT_CLIENTS: usize = 64;

/// One order as both sides place it.
struct Pick {
    /// The customer's number.
    number: usize,
    customer: String,
    /// (product number, quantity, whether the quantity is in packs), sorted by SKU.
    lines: Vec<(usize, i64, bool)>,
}

impl Pick {
    /// A random order of [`LINES`] distinct SKUs.
    fn random(rng: &mut Rng) -> Self {
        let number = rng.below(CUSTOMERS as u64) as usize;
        let customer = customer_code(number);
        let mut products: Vec<usize> = Vec::with_capacity(LINES);
        while products.len() < LINES {
            let p = rng.below(ORDER_SKUS as u64) as usize;
            if !products.contains(&p) {
                products.push(p);
            }
        }
        products.sort_unstable();
        let lines = products
            .into_iter()
            .map(|p| {
                let qty = 1 + rng.below(3) as i64;
                (p, qty, has_pack(p) && rng.below(2) == 0)
            })
            .collect();
        Self {
            number,
            customer,
            lines,
        }
    }

    /// The order as a client posts it.
    fn body(&self) -> serde_json::Value {
        let lines: Vec<serde_json::Value> = self
            .lines
            .iter()
            .map(|&(p, qty, packs)| {
                if packs {
                    json!({ "sku": order_sku(p), "qty": qty, "unit": "箱" })
                } else {
                    json!({ "sku": order_sku(p), "qty": qty })
                }
            })
            .collect();
        json!({ "customer": self.customer, "location": WAREHOUSE, "lines": lines })
    }

    /// The order as the ceiling stores it: base units at the list price.
    fn ceiling_lines(&self) -> Vec<OrderLine> {
        self.lines
            .iter()
            .map(|&(p, qty, packs)| OrderLine {
                sku: order_sku(p),
                qty: if packs { qty * PACK_FACTOR } else { qty },
                price: list_price(p),
            })
            .collect()
    }
}

/// 5-line orders from `clients` clients, each placed with its customer's token (`tokens`,
/// by customer number), against the New-Order-like ceiling at the same concurrency.
pub async fn orders(
    setup: &Setup,
    tokens: &[String],
    key: &str,
    clients: usize,
) -> anyhow::Result<Figure> {
    let spec = FigureSpec {
        backend: setup.backend,
        key: key.to_owned(),
        title: format!("orders, {LINES} lines over {ORDER_SKUS} SKUs, {clients} clients"),
        unit: "orders/s",
        clients,
        latency: true,
        ratio_of: RatioOf::Rate,
    };
    let url = setup.server.url("/api/v1/orders");
    let tokens = tokens.to_vec();
    let pairs = interleaved(
        &setup.probe,
        setup.schedule,
        |round: Round| {
            let tag = format!("{key}-c{}", round.tag);
            async move {
                let sample = db_load(setup, clients, round.limits, tag, |scratch, rng, id| {
                    let pick = Pick::random(rng);
                    async move {
                        scratch
                            .new_order(&id, &pick.customer, &pick.ceiling_lines())
                            .await
                    }
                })
                .await;
                Ok(Ceiling::single("sqlx New-Order", sample))
            }
        },
        |round: Round| {
            let (url, tokens) = (url.clone(), tokens.clone());
            let tag = format!("{key}-p{}", round.tag);
            async move {
                http_load(clients, round.limits, tag, move |http, rng, id| {
                    let pick = Pick::random(rng);
                    let body = pick.body();
                    let request = http
                        .post(&url)
                        .bearer_auth(&tokens[pick.number])
                        .header("Idempotency-Key", id)
                        .json(&body);
                    (request, 1)
                })
                .await
            }
        },
    )
    .await?;
    Ok(spec.figure(&pairs))
}

/// Sums and counts over Stockbook's tables, cast so that both databases decode an `i64`.
const RESERVED_AT: &str = "SELECT CAST(COALESCE(SUM(reserved), 0) AS BIGINT) FROM stock_levels \
     WHERE location = $1 AND sku LIKE 'BENCH-O%'";
const ORDERED_AT: &str = "SELECT CAST(COALESCE(SUM(l.base_qty), 0) AS BIGINT) \
     FROM order_lines l JOIN orders o ON o.order_id = l.order_id \
     WHERE o.location = $1 AND l.sku LIKE 'BENCH-O%'";
const BELOW_ZERO_AT: &str = "SELECT CAST(COUNT(*) AS BIGINT) FROM stock_levels \
     WHERE location = $1 AND on_hand - reserved < 0";
const ORDERED_OF: &str =
    "SELECT CAST(COALESCE(SUM(base_qty), 0) AS BIGINT) FROM order_lines WHERE sku = $1";

/// After the orders figures: every unit reserved at the warehouse belongs to an order line
/// (all bench orders stay open), and no level went below zero.
pub async fn check_orders(setup: &Setup) -> anyhow::Result<Check> {
    let reserved: i64 = setup.scratch.scalar(RESERVED_AT, WAREHOUSE).await?;
    let ordered: i64 = setup.scratch.scalar(ORDERED_AT, WAREHOUSE).await?;
    let below: i64 = setup.scratch.scalar(BELOW_ZERO_AT, WAREHOUSE).await?;
    Ok(Check {
        name: "orders".to_owned(),
        passed: reserved == ordered && below == 0,
        detail: format!(
            "{ordered} units on open order lines, {reserved} reserved at {WAREHOUSE}; \
             {below} levels below zero"
        ),
    })
}

/// What the buyers of a SKU were told, across every round of a figure.
#[derive(Debug, Default)]
struct Tally {
    placed: u64,
    refused: u64,
    first_refusal: Option<String>,
}

impl Tally {
    fn add(tally: &Mutex<Tally>, sample: &Sample) {
        let mut t = tally.lock().unwrap_or_else(PoisonError::into_inner);
        t.placed += sample.ops;
        t.refused += sample.errors;
        if t.first_refusal.is_none() {
            t.first_refusal.clone_from(&sample.first_error);
        }
    }
}

/// The level of `sku` at the warehouse as the API shows it: (on_hand, reserved, available).
async fn level(setup: &Setup, sku: &str) -> anyhow::Result<(i64, i64, i64)> {
    let response = http_client()?
        .get(
            setup
                .server
                .url(&format!("/api/v1/stock/{WAREHOUSE}/{sku}")),
        )
        .bearer_auth(&setup.token)
        .send()
        .await?
        .error_for_status()?;
    let level: serde_json::Value = response.json().await?;
    let field = |name: &str| {
        level[name]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("no {name} in the level of {sku}: {level}"))
    };
    Ok((field("on_hand")?, field("reserved")?, field("available")?))
}

/// One hot SKU ordered (1 unit per order) by [`HOT_CLIENTS`] clients, against the
/// one-row conditional decrement at the same concurrency; then the check that the stock
/// adds up and that no buyer was refused (there is always stock left).
pub async fn hot_sku(setup: &Setup, tokens: &[String]) -> anyhow::Result<(Figure, Check)> {
    let spec = FigureSpec {
        backend: setup.backend,
        key: "hot_sku".to_owned(),
        title: format!("hot SKU, 1-line orders of one SKU, {HOT_CLIENTS} clients"),
        unit: "orders/s",
        clients: HOT_CLIENTS,
        latency: true,
        ratio_of: RatioOf::Rate,
    };
    let tally = Arc::new(Mutex::new(Tally::default()));
    let pairs = interleaved(
        &setup.probe,
        setup.schedule,
        |round: Round| async move {
            let sample = db_load(
                setup,
                HOT_CLIENTS,
                round.limits,
                round.tag,
                |scratch, _, _| async move { scratch.decrement(HOT_SKU, 1).await },
            )
            .await;
            Ok(Ceiling::single("sqlx conditional decrement", sample))
        },
        |round: Round| {
            let (url, tokens, tally) = (
                setup.server.url("/api/v1/orders"),
                tokens.to_vec(),
                Arc::clone(&tally),
            );
            async move {
                let tag = format!("hot-p{}", round.tag);
                let sample = http_load(HOT_CLIENTS, round.limits, tag, move |http, rng, id| {
                    let number = rng.below(CUSTOMERS as u64) as usize;
                    let body = json!({
                        "customer": customer_code(number), "location": WAREHOUSE,
                        "lines": [{ "sku": HOT_SKU, "qty": 1 }],
                    });
                    let request = http
                        .post(&url)
                        .bearer_auth(&tokens[number])
                        .header("Idempotency-Key", id)
                        .json(&body);
                    (request, 1)
                })
                .await?;
                Tally::add(&tally, &sample);
                Ok(sample)
            }
        },
    )
    .await?;
    let mut figure = spec.figure(&pairs);
    let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(PoisonError::into_inner));
    let ordered: i64 = setup.scratch.scalar(ORDERED_OF, HOT_SKU).await?;
    let (on_hand, reserved, available) = level(setup, HOT_SKU).await?;
    let passed = tally.refused == 0
        && on_hand == HOT_STOCK
        && reserved == ordered
        && available == HOT_STOCK - ordered
        && available >= 0
        && u64::try_from(ordered).is_ok_and(|o| o == tally.placed);
    let mut detail = format!(
        "{} orders placed (clients saw {} placed, {} refused); initial {HOT_STOCK} − ordered \
         {ordered} = {}, the API shows available {available} (on_hand {on_hand}, reserved \
         {reserved})",
        ordered,
        tally.placed,
        tally.refused,
        HOT_STOCK - ordered
    );
    if let Some(first) = &tally.first_refusal {
        detail.push_str(&format!("; first refusal while stock remained: {first}"));
    }
    figure.notes.push(format!(
        "{} orders of {HOT_SKU} in all rounds, warm-up included",
        tally.placed
    ));
    Ok((
        figure,
        Check {
            name: "hot_sku".to_owned(),
            passed,
            detail,
        },
    ))
}

/// How the sell-out went, as the buyers saw it.
#[derive(Debug, Default)]
struct SellOut {
    /// 409s that said stock was still there.
    refused_with_stock: u64,
    first: Option<String>,
}

/// [`HOT_CLIENTS`] clients order [`LAST_SKU`] one unit at a time until it is gone, with
/// exactly enough calls for every unit plus one refusal each: every unit must be sold, not
/// one more, and no refusal may say that stock remained.
pub async fn sell_out(setup: &Setup, tokens: &[String]) -> anyhow::Result<Check> {
    let calls = LAST_STOCK as u64 + HOT_CLIENTS as u64;
    let limits = Limits {
        duration: Duration::from_secs(60),
        max_calls: calls,
    };
    let seen = Arc::new(Mutex::new(SellOut::default()));
    let connections = (0..HOT_CLIENTS)
        .map(|_| http_client())
        .collect::<anyhow::Result<Vec<_>>>()?;
    let url = setup.server.url("/api/v1/orders");
    let sample = drive(HOT_CLIENTS, limits, |client| {
        let token = tokens[client % CUSTOMERS].clone();
        let (http, url) = (connections[client].clone(), url.clone());
        let seen = Arc::clone(&seen);
        let body = json!({
            "customer": customer_code(client % CUSTOMERS), "location": WAREHOUSE,
            "lines": [{ "sku": LAST_SKU, "qty": 1 }],
        });
        move |call| {
            let request = http
                .post(&url)
                .bearer_auth(&token)
                .header("Idempotency-Key", format!("last-{client}-{call}"))
                .json(&body);
            let seen = Arc::clone(&seen);
            async move {
                let response = request.send().await?;
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                if status.is_success() {
                    return Ok(1);
                }
                let left = body["shortages"][0]["available"].as_i64();
                if status.as_u16() != 409 || left.is_none_or(|a| a >= 1) {
                    let mut s = seen.lock().unwrap_or_else(PoisonError::into_inner);
                    s.refused_with_stock += 1;
                    s.first
                        .get_or_insert_with(|| format!("HTTP {status}: {body}"));
                }
                anyhow::bail!("refused: HTTP {status}")
            }
        }
    })
    .await;
    let sold: i64 = setup.scratch.scalar(ORDERED_OF, LAST_SKU).await?;
    let (on_hand, reserved, available) = level(setup, LAST_SKU).await?;
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
    let passed = seen.refused_with_stock == 0
        && sold == LAST_STOCK
        && u64::try_from(sold).is_ok_and(|s| s == sample.ops)
        && on_hand == LAST_STOCK
        && reserved == LAST_STOCK
        && available == 0;
    let mut detail = format!(
        "{HOT_CLIENTS} clients, {calls} calls for {LAST_STOCK} units of {LAST_SKU}: {sold} sold \
         ({} placed as the clients saw it), {} refused, {} of them while stock remained; \
         available now {available} (on_hand {on_hand}, reserved {reserved})",
        sample.ops, sample.errors, seen.refused_with_stock
    );
    if let Some(first) = seen.first {
        detail.push_str(&format!("; first refusal while stock remained: {first}"));
    }
    Ok(Check {
        name: "sell_out".to_owned(),
        passed,
        detail,
    })
}
