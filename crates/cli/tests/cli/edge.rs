//! HQ and a store's edge node as two processes: the store sells while HQ is down, and
//! when HQ returns each sale is counted once at HQ, even after a push whose
//! acknowledgement was lost with the node that sent it; HQ's catalog and stock changes
//! reach the node; the node's status tells its link and its backlog.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use store_sql::testing::TestDatabase;

use crate::helpers::{Client, Server, issue_token, run, stdout};

const STORE: &str = "ST-1";
const SKUS: usize = 10;
const OPENING: i64 = 30;

/// HQ's catalog: the store, a warehouse, SKUs P0..P9 with `OPENING` units at the store.
async fn stock_hq(hq: &Server, client: &Client) {
    for (code, kind) in [(STORE, "store"), ("WH", "warehouse")] {
        let (status, body) = client
            .post(
                hq.url("/api/v1/locations"),
                &json!({"code": code, "name": code, "kind": kind}),
            )
            .await
            .unwrap();
        assert_eq!(status, 201, "{body}");
    }
    let mut receipts = Vec::new();
    for i in 0..SKUS {
        let product = json!({"sku": format!("P{i}"), "name": format!("Product {i}"), "unit": "件", "price": 100});
        let (status, body) = client
            .post(hq.url("/api/v1/products"), &product)
            .await
            .unwrap();
        assert_eq!(status, 201, "{body}");
        receipts.push(json!({"id": format!("open-{i}"), "sku": format!("P{i}"), "location": STORE, "kind": "receipt", "qty": OPENING}));
    }
    let (status, body) = client
        .post(
            hq.url("/api/v1/stock/movements"),
            &json!({ "movements": receipts }),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
}

/// `stockbook edge` for the store, on its own database, talking to `hq`.
fn start_edge(hq: &str, token: &str, db: &str, extra: &[&str], envs: &[(&str, &str)]) -> Server {
    let mut args = vec![
        "edge",
        "--hq",
        hq,
        "--token",
        token,
        "--location",
        STORE,
        "--db",
        db,
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Server::spawn(&args, envs)
}

async fn status(edge: &Server, client: &Client) -> Value {
    let (code, body) = client.get(edge.url("/api/v1/edge/status")).await;
    assert_eq!(code, 200, "{body}");
    body
}

/// Polls `check` every 20 ms until it holds; panics naming `what` at the deadline.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

async fn on_hand(server: &Server, client: &Client, sku: &str) -> Option<i64> {
    let (code, body) = client
        .get(server.url(&format!("/api/v1/stock/{STORE}/{sku}")))
        .await;
    (code == 200).then(|| body["on_hand"].as_i64().unwrap())
}

/// Every ledger row of a level at `server`.
async fn ledger(server: &Server, client: &Client, sku: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor = String::new();
    loop {
        let (code, body) = client
            .get(server.url(&format!(
                "/api/v1/stock/{STORE}/{sku}/movements?limit=500{cursor}"
            )))
            .await;
        assert_eq!(code, 200, "{body}");
        rows.extend(body["items"].as_array().unwrap().iter().cloned());
        match body["next"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return rows,
        }
    }
}

/// A counter of the node's `/metrics`, 0 when absent.
async fn metric(edge: &Server, series: &str) -> i64 {
    let text = reqwest::get(edge.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

async fn offline_sales_reach_hq_once(db: TestDatabase) {
    // HQ with stock at the store; the edge node bootstrapped from it.
    let hq_token = issue_token(&db.url);
    let hq_client = Client::new(hq_token.clone());
    let hq = Server::start(&db.url);
    let hq_addr = hq.addr.to_string();
    let hq_url = hq.url("");
    stock_hq(&hq, &hq_client).await;
    let edge_db = TestDatabase::sqlite("edge_node").await.unwrap();
    let edge_client = Client::new(issue_token(&edge_db.url));
    // The node dies right after HQ acknowledges its first push, before saving its cursor.
    let mut edge = start_edge(
        &hq_url,
        &hq_token,
        &edge_db.url,
        &["--batch", "100"],
        &[("STOCKBOOK_EDGE_FAULT", "exit_after_push")],
    );
    eventually(
        "the node copies HQ's figures",
        Duration::from_secs(10),
        || async { on_hand(&edge, &edge_client, "P9").await == Some(OPENING) },
    )
    .await;
    let s = status(&edge, &edge_client).await;
    assert_eq!(
        (&s["online"], &s["pending_movements"], &s["lag_seconds"]),
        (&json!(true), &json!(0), &json!(0)),
        "{s}"
    );

    // HQ goes away; the store sells 500 times, from 4 terminals.
    hq.kill();
    let started = Instant::now();
    let terminals: Vec<_> = (0..4)
        .map(|t| {
            let (client, base) = (Client::new(edge_client.token.clone()), edge.url(""));
            tokio::spawn(async move {
                for n in (t..500).step_by(4) {
                    let sale = json!({"movements": [{"id": format!("pos-st1-{n:04}"), "sku": format!("P{}", n % SKUS), "location": STORE, "kind": "sale", "qty": 1}]});
                    let (code, body) = client
                        .post(format!("{base}/api/v1/stock/movements"), &sale)
                        .await
                        .unwrap();
                    assert_eq!(
                        (code, body["results"][0]["status"].as_str()),
                        (200, Some("applied")),
                        "{body}"
                    );
                }
            })
        })
        .collect();
    for t in terminals {
        t.await.unwrap();
    }
    println!(
        "500 sales at the edge while HQ is down: {:?}",
        started.elapsed()
    );
    let expected = OPENING - (500 / SKUS) as i64;
    assert_eq!(on_hand(&edge, &edge_client, "P0").await, Some(expected));
    eventually(
        "the node reports HQ offline",
        Duration::from_secs(10),
        || async { status(&edge, &edge_client).await["online"] == json!(false) },
    )
    .await;
    let s = status(&edge, &edge_client).await;
    assert_eq!(s["pending_movements"], json!(500), "{s}");

    // HQ returns where the node looks for it. The node pushes its first batch and dies
    // before recording HQ's acknowledgement; restarted, it sends that batch again.
    let hq = Server::start_at(&db.url, &hq_addr);
    let back = Instant::now();
    let code = edge.exited_within(Duration::from_secs(10));
    assert_eq!(
        code,
        Some(3),
        "the node ended at the fault, after HQ's acknowledgement"
    );
    let mut first_batch = 0;
    for i in 0..SKUS {
        first_batch += OPENING - on_hand(&hq, &hq_client, &format!("P{i}")).await.unwrap();
    }
    assert!(
        first_batch > 0 && first_batch <= 100,
        "HQ applied the first batch before the node died: {first_batch} sales"
    );
    // Restarted with the default batch (500): the re-sent batch and the rest in one push.
    let edge = start_edge(&hq_url, &hq_token, &edge_db.url, &[], &[]);
    let converged = eventually(
        "HQ's levels are exact",
        Duration::from_secs(5) - back.elapsed().min(Duration::from_secs(5)),
        || async {
            for i in 0..SKUS {
                if on_hand(&hq, &hq_client, &format!("P{i}")).await != Some(expected) {
                    return false;
                }
            }
            true
        },
    )
    .await;
    println!(
        "HQ back → HQ's levels exact (through a node crash and restart): {:?}",
        back.elapsed()
    );
    println!("  of which after the node's restart: {converged:?}");

    // Each sale once at HQ, driving stock negative as the sales did; the retried batch was
    // answered as duplicates.
    for i in 0..SKUS {
        let rows = ledger(&hq, &hq_client, &format!("P{i}")).await;
        let sales = rows.iter().filter(|r| r["kind"] == "sale").count();
        assert_eq!(sales, 500 / SKUS, "P{i}: each sale counted once");
    }
    assert!(expected < 0, "the offline sales outran the stock");
    // HQ applied facts it would never have promised, and says so.
    let (code, alerts) = hq_client
        .get(hq.url(&format!(
            "/api/v1/alerts?kind=negative_stock&location={STORE}"
        )))
        .await;
    assert_eq!(code, 200, "{alerts}");
    let flagged: Vec<&str> = alerts["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["sku"].as_str())
        .collect();
    assert_eq!(
        flagged.len(),
        SKUS,
        "one negative-stock alert per SKU at HQ: {alerts}"
    );
    assert_eq!(
        metric(&edge, "stockbook_edge_pushed_total{outcome=\"duplicate\"}").await,
        first_batch,
        "the restarted node sent the acknowledged batch again"
    );
    assert_eq!(
        metric(&edge, "stockbook_edge_pushed_total{outcome=\"applied\"}").await,
        500 - first_batch
    );
    eventually(
        "the node reports nothing pending",
        Duration::from_secs(5),
        || async {
            let s = status(&edge, &edge_client).await;
            s["pending_movements"] == json!(0) && s["online"] == json!(true)
        },
    )
    .await;
    let s = status(&edge, &edge_client).await;
    assert_eq!(s["lag_seconds"], json!(0), "{s}");
    assert_eq!(on_hand(&edge, &edge_client, "P0").await, Some(expected));

    drop((edge, hq));
    for out in [run(&db.url, &["verify"]), run(&edge_db.url, &["verify"])] {
        assert!(out.status.success(), "{}", stdout(&out));
        assert!(stdout(&out).contains("verify OK"), "{}", stdout(&out));
    }
    edge_db.cleanup().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_sales_reach_a_sqlite_hq_once_after_a_lost_acknowledgement() {
    offline_sales_reach_hq_once(TestDatabase::sqlite("edge_hq").await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_sales_reach_a_postgres_hq_once_after_a_lost_acknowledgement() {
    let Some(db) = TestDatabase::postgres("edge_hq").await.unwrap() else {
        return;
    };
    offline_sales_reach_hq_once(db).await;
}

async fn hq_changes_reach_the_node(poll: bool) {
    let db = TestDatabase::sqlite("edge_catalog_hq").await.unwrap();
    let hq_token = issue_token(&db.url);
    let hq_client = Client::new(hq_token.clone());
    let hq = Server::start(&db.url);
    let (hq_addr, hq_url) = (hq.addr.to_string(), hq.url(""));
    stock_hq(&hq, &hq_client).await;
    let edge_db = TestDatabase::sqlite("edge_catalog_node").await.unwrap();
    let edge_client = Client::new(issue_token(&edge_db.url));
    let extra: &[&str] = if poll { &["--poll"] } else { &[] };
    let edge = start_edge(&hq_url, &hq_token, &edge_db.url, extra, &[]);
    eventually("the node bootstraps", Duration::from_secs(10), || async {
        on_hand(&edge, &edge_client, "P0").await == Some(OPENING)
    })
    .await;

    // A new product, a price change and a receipt at HQ; a receipt at another location.
    let changed = Instant::now();
    let (code, body) = hq_client
        .post(
            hq.url("/api/v1/products"),
            &json!({"sku": "NEW", "name": "New", "unit": "件", "price": 990, "gtins": ["6901234567892"]}),
        )
        .await
        .unwrap();
    assert_eq!(code, 201, "{body}");
    let patched = hq_client
        .http
        .patch(hq.url("/api/v1/products/P0"))
        .bearer_auth(&hq_client.token)
        .json(&json!({"price": 1234}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let receipts = json!({"movements": [
        {"id": "grn-7", "sku": "NEW", "location": STORE, "kind": "receipt", "qty": 7},
        {"id": "grn-wh", "sku": "P1", "location": "WH", "kind": "receipt", "qty": 99}
    ]});
    let (code, _) = hq_client
        .post(hq.url("/api/v1/stock/movements"), &receipts)
        .await
        .unwrap();
    assert_eq!(code, 200);
    eventually(
        "HQ's changes reach the node",
        Duration::from_secs(5),
        || async {
            let (c1, new) = edge_client.get(edge.url("/api/v1/products/NEW")).await;
            let (_, p0) = edge_client.get(edge.url("/api/v1/products/P0")).await;
            c1 == 200
                && new["price"] == json!(990)
                && p0["price"] == json!(1234)
                && on_hand(&edge, &edge_client, "NEW").await == Some(7)
        },
    )
    .await;
    println!(
        "HQ change → visible at the node ({}): {:?}",
        if poll { "polling" } else { "live stream" },
        changed.elapsed()
    );
    let (code, scan) = edge_client
        .get(edge.url("/api/v1/scan?code=6901234567892"))
        .await;
    assert_eq!(
        (code, &scan["product"]["sku"]),
        (200, &json!("NEW")),
        "{scan}"
    );
    let (code, wh) = edge_client.get(edge.url("/api/v1/stock/WH/P1")).await;
    assert_eq!(
        (code, &wh["on_hand"]),
        (200, &json!(0)),
        "only the node's own store is mirrored"
    );

    // A sale online is pushed at once; offline it waits, and the status says so.
    let sale = |id: &str| json!({"movements": [{"id": id, "sku": "NEW", "location": STORE, "kind": "sale", "qty": 1}]});
    edge_client
        .post(edge.url("/api/v1/stock/movements"), &sale("pos-a"))
        .await
        .unwrap();
    eventually(
        "an online sale reaches HQ",
        Duration::from_secs(5),
        || async { on_hand(&hq, &hq_client, "NEW").await == Some(6) },
    )
    .await;
    hq.kill();
    edge_client
        .post(edge.url("/api/v1/stock/movements"), &sale("pos-b"))
        .await
        .unwrap();
    eventually(
        "the status shows the link down and the sale pending",
        Duration::from_secs(10),
        || async {
            let s = status(&edge, &edge_client).await;
            s["online"] == json!(false) && s["pending_movements"] == json!(1)
        },
    )
    .await;
    let (code, text) = {
        let out = run(&edge_db.url, &["edge", "status"]);
        (out.status.code(), stdout(&out))
    };
    let printed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (code, &printed["pending_movements"], &printed["location"]),
        (Some(0), &json!(1), &json!(STORE)),
        "{text}"
    );
    let hq = Server::start_at(&db.url, &hq_addr);
    eventually(
        "the pending sale reaches HQ when it returns",
        Duration::from_secs(5),
        || async {
            let s = status(&edge, &edge_client).await;
            s["online"] == json!(true) && s["pending_movements"] == json!(0)
        },
    )
    .await;
    assert_eq!(on_hand(&hq, &hq_client, "NEW").await, Some(5));
    assert_eq!(on_hand(&edge, &edge_client, "NEW").await, Some(5));
    drop((edge, hq));
    let out = run(&edge_db.url, &["verify"]);
    assert!(out.status.success(), "{}", stdout(&out));
    edge_db.cleanup().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hq_catalog_and_stock_changes_reach_the_node_by_the_live_stream() {
    hq_changes_reach_the_node(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hq_catalog_and_stock_changes_reach_the_node_by_polling() {
    hq_changes_reach_the_node(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_drains_to_hq_in_ledger_order_and_refused_movements_are_taken_back() {
    let db = TestDatabase::sqlite("edge_backlog_hq").await.unwrap();
    let hq_token = issue_token(&db.url);
    let hq_client = Client::new(hq_token.clone());
    let hq = Server::start(&db.url);
    let (hq_addr, hq_url) = (hq.addr.to_string(), hq.url(""));
    stock_hq(&hq, &hq_client).await;
    let edge_db = TestDatabase::sqlite("edge_backlog_node").await.unwrap();
    let edge_client = Client::new(issue_token(&edge_db.url));
    let edge = start_edge(&hq_url, &hq_token, &edge_db.url, &[], &[]);
    eventually("the node bootstraps", Duration::from_secs(10), || async {
        on_hand(&edge, &edge_client, "P0").await == Some(OPENING)
    })
    .await;
    // A product created at the node only: HQ will not know it.
    let (code, body) = edge_client
        .post(
            edge.url("/api/v1/products"),
            &json!({"sku": "LOCAL", "name": "Local", "unit": "件", "price": 1}),
        )
        .await
        .unwrap();
    assert_eq!(code, 201, "{body}");
    hq.kill();

    // 5,000 sales in requests of 100, one of them of the local product.
    let per_sku = 500;
    for r in 0..50 {
        let mut sales: Vec<Value> = (0..100)
            .map(|k| {
                let n = r * 100 + k;
                json!({"id": format!("q-{n:05}"), "sku": format!("P{}", n % SKUS), "location": STORE, "kind": "sale", "qty": 1})
            })
            .collect();
        if r == 25 {
            sales.push(json!({"id": "local-1", "sku": "LOCAL", "location": STORE, "kind": "sale", "qty": 1}));
        }
        let (code, body) = edge_client
            .post(
                edge.url("/api/v1/stock/movements"),
                &json!({ "movements": sales }),
            )
            .await
            .unwrap();
        assert_eq!(code, 200, "{body}");
    }
    eventually(
        "the backlog is counted",
        Duration::from_secs(10),
        || async {
            let s = status(&edge, &edge_client).await;
            s["pending_movements"] == json!(5001) && s["online"] == json!(false)
        },
    )
    .await;

    let hq = Server::start_at(&db.url, &hq_addr);
    let back = Instant::now();
    let expected = OPENING - per_sku;
    eventually("HQ's levels are exact", Duration::from_secs(20), || async {
        for i in 0..SKUS {
            if on_hand(&hq, &hq_client, &format!("P{i}")).await != Some(expected) {
                return false;
            }
        }
        true
    })
    .await;
    let took = back.elapsed();
    println!(
        "5,001 queued movements pushed in batches of 500: HQ exact {took:?} after it returned ({:.0} movements/s, including reconnecting)",
        5001.0 / took.as_secs_f64()
    );
    eventually(
        "the node has nothing pending",
        Duration::from_secs(5),
        || async { status(&edge, &edge_client).await["pending_movements"] == json!(0) },
    )
    .await;

    // HQ got the sales in the node's ledger order.
    let sale_ids = |rows: Vec<Value>| -> Vec<String> {
        let mut rows: Vec<(i64, String)> = rows
            .into_iter()
            .filter(|r| r["kind"] == "sale")
            .map(|r| {
                (
                    r["seq"].as_i64().unwrap(),
                    r["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        rows.sort();
        rows.into_iter().map(|(_, id)| id).collect()
    };
    let at_hq = sale_ids(ledger(&hq, &hq_client, "P3").await);
    let at_node = sale_ids(ledger(&edge, &edge_client, "P3").await);
    assert_eq!(at_hq.len(), per_sku as usize);
    assert_eq!(at_hq, at_node, "HQ applied the node's sales in its order");

    // HQ refused the sale of a product it does not know; the node took it back and says so.
    let s = status(&edge, &edge_client).await;
    assert_eq!(s["refused_movements"], json!(1), "{s}");
    let error = s["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("local-1") && error.contains("unknown_sku"),
        "{s}"
    );
    assert_eq!(on_hand(&edge, &edge_client, "LOCAL").await, Some(0));
    assert_eq!(
        metric(&edge, "stockbook_edge_pushed_total{outcome=\"applied\"}").await,
        5000
    );
    drop((edge, hq));
    for out in [run(&db.url, &["verify"]), run(&edge_db.url, &["verify"])] {
        assert!(out.status.success(), "{}", stdout(&out));
    }
    edge_db.cleanup().await;
    db.cleanup().await;
}
