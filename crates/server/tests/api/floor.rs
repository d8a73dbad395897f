//! RFID reads, cycle counts, transfers and the shop floor in backups, through the API.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::shop::{TAGGED, device, level, on_hand, post_as, sale, sgtin, shop, stock, verified};

crate::on_both_backends!(
    two_thousand_reads_are_counted_exactly_and_feed_the_count,
    the_window_holds_across_requests_and_ends,
    a_count_with_sales_during_it_is_approved_to_the_right_figure,
    counts_take_scans_once_per_batch_and_close_once,
    a_transfer_ships_and_is_received_with_a_discrepancy,
    the_shop_floor_survives_backup_and_restore,
);

fn reads(reader: &str, location: &str, reads: &[(String, chrono::DateTime<Utc>)]) -> Value {
    let reads: Vec<Value> = reads
        .iter()
        .map(|(epc, at)| json!({"epc": epc, "antenna": 1, "rssi": -61.5, "seen_at": at.to_rfc3339()}))
        .collect();
    json!({"reader": reader, "location": location, "reads": reads})
}

/// 600 tags (520 of four known SKUs, 80 of a GTIN the catalog lacks), 2,000 reads: every
/// tag once, 1,300 repeats within the window, 100 invalid, in four requests, shuffled.
async fn two_thousand_reads_are_counted_exactly_and_feed_the_count(app: &TestApp) {
    shop(app).await;
    let expected = [("R1", 150), ("R2", 160), ("R3", 120), ("R4", 90)];
    for (sku, qty) in expected {
        stock(app, "ST-A", sku, qty).await;
    }
    stock(app, "ST-A", "B", 10).await;
    let count = app
        .post("/api/v1/counts", r#"{"id":"CC-1","location":"ST-A"}"#)
        .await
        .expect(201);
    assert_eq!(count["lines"].as_array().unwrap().len(), 5);

    let found = [
        (TAGGED[0].1, 150),
        (TAGGED[1].1, 150),
        (TAGGED[2].1, 120),
        (TAGGED[3].1, 100),
        ("6901234999990", 80),
    ];
    let t0 = Utc::now() - Duration::minutes(5);
    let mut tags = Vec::new();
    for (gtin, n) in found {
        for serial in 0..n {
            tags.push(sgtin(gtin, 5000 + serial));
        }
    }
    assert_eq!(tags.len(), 600);
    let mut all: Vec<(String, chrono::DateTime<Utc>)> = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        all.push((tag.clone(), t0 + Duration::seconds((i % 7) as i64)));
    }
    for i in 0..1300 {
        let tag = &tags[(i * 7) % 600];
        all.push((tag.clone(), t0 + Duration::seconds(10 + (i % 40) as i64)));
    }
    let invalid = [
        "ZZZZ".to_owned(),
        "3074257BF7194E4000001A8".to_owned(),
        "urn:epc:id:sscc:0614141.1234567890".to_owned(),
        String::new(),
    ];
    for i in 0..100 {
        all.push((invalid[i % 4].clone(), t0));
    }
    // A deterministic shuffle, so repeats come before and after their first read.
    let mut shuffled: Vec<_> = all.into_iter().enumerate().collect();
    shuffled.sort_by_key(|(i, _)| (i * 7919) % 2003);
    let all: Vec<_> = shuffled.into_iter().map(|(_, r)| r).collect();
    assert_eq!(all.len(), 2000);

    let started = Instant::now();
    let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
    let mut unknown_reads = 0;
    let mut invalid_by_code: BTreeMap<String, i64> = BTreeMap::new();
    for chunk in all.chunks(500) {
        let body = reads("RD-1", "ST-A", chunk);
        let summary = app
            .post("/api/v1/rfid/reads", &body.to_string())
            .await
            .expect(200);
        for key in ["received", "accepted", "duplicates"] {
            *totals.entry(key).or_default() += summary[key].as_i64().unwrap();
        }
        for u in summary["unknown"].as_array().unwrap() {
            assert_eq!(u["gtin"], "06901234999990");
            unknown_reads += u["reads"].as_i64().unwrap();
        }
        for bad in summary["invalid"].as_array().unwrap() {
            *invalid_by_code
                .entry(bad["error"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        assert_eq!(summary["count_id"], "CC-1");
    }
    let elapsed = started.elapsed();
    println!(
        "2,000 RFID reads in 4 requests ({}): {:.0} reads/s",
        app.db.store.backend(),
        2000.0 / elapsed.as_secs_f64()
    );
    let known_reads = 2000 - 100 - unknown_reads;
    assert_eq!(totals["received"], 2000);
    assert_eq!(totals["accepted"], 520, "each known tag once");
    assert_eq!(totals["duplicates"], known_reads - 520);
    assert_eq!(
        invalid_by_code.values().sum::<i64>(),
        100,
        "{invalid_by_code:?}"
    );
    assert_eq!(invalid_by_code["not_a_product_tag"], 25);
    assert!(unknown_reads >= 80);

    let count = app.get("/api/v1/counts/CC-1").await.expect(200);
    let lines: Vec<(String, i64, i64, i64)> = count["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap().to_owned(),
                l["expected"].as_i64().unwrap(),
                l["counted"].as_i64().unwrap(),
                l["variance"].as_i64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, i64, i64, i64)> = [
        ("B", 10, 0, -10),
        ("R1", 150, 150, 0),
        ("R2", 160, 150, -10),
        ("R3", 120, 120, 0),
        ("R4", 90, 100, 10),
    ]
    .iter()
    .map(|(s, e, c, v)| ((*s).to_owned(), *e, *c, *v))
    .collect();
    assert_eq!(lines, want);
    assert_eq!(
        count["unknown_tags"],
        json!([{"gtin": "06901234999990", "tags": 80}])
    );
    let approved = app
        .post("/api/v1/counts/CC-1/approve", "")
        .await
        .expect(200);
    assert_eq!(approved["status"], "approved");
    for (sku, _, counted, _) in &want {
        assert_eq!(on_hand(app, "ST-A", sku).await, *counted, "{sku}");
    }
    let first = app
        .get("/api/v1/rfid/tags?location=ST-A&limit=500")
        .await
        .expect(200);
    let next = first["next"].as_str().unwrap();
    let rest = app
        .get(&format!(
            "/api/v1/rfid/tags?location=ST-A&limit=500&cursor={next}"
        ))
        .await
        .expect(200);
    let seen = first["items"].as_array().unwrap().len() + rest["items"].as_array().unwrap().len();
    assert_eq!(seen, 600, "every tag is remembered as seen");
    verified(app).await;
}

async fn the_window_holds_across_requests_and_ends(app: &TestApp) {
    shop(app).await;
    let tag = sgtin(TAGGED[0].1, 1);
    let t0 = Utc::now() - Duration::minutes(10);
    let send = |offset: i64| {
        let body = reads(
            "RD-2",
            "ST-B",
            &[(tag.clone(), t0 + Duration::seconds(offset))],
        );
        async move {
            app.post("/api/v1/rfid/reads", &body.to_string())
                .await
                .expect(200)
        }
    };
    let outcome = |v: Value| {
        (
            v["accepted"].as_i64().unwrap(),
            v["duplicates"].as_i64().unwrap(),
        )
    };
    assert_eq!(outcome(send(0).await), (1, 0));
    assert_eq!(
        outcome(send(30).await),
        (0, 1),
        "within 60 s of the accepted read"
    );
    assert_eq!(
        outcome(send(-20).await),
        (0, 1),
        "a late read from before counts as near too"
    );
    assert_eq!(
        outcome(send(61).await),
        (1, 0),
        "past the window it counts again"
    );
    let hex_and_uri = reads(
        "RD-2",
        "ST-B",
        &[
            (sgtin(TAGGED[1].1, 7), t0),
            ("urn:epc:id:sgtin:6901234.010002.7".to_owned(), t0),
        ],
    );
    let both = app
        .post("/api/v1/rfid/reads", &hex_and_uri.to_string())
        .await
        .expect(200);
    assert!(both.get("count_id").is_none(), "no count is open to feed");
    assert_eq!(outcome(both), (1, 1), "hex and URI of one tag are one tag");
}

async fn a_count_with_sales_during_it_is_approved_to_the_right_figure(app: &TestApp) {
    shop(app).await;
    stock(app, "ST-A", "A", 10).await;
    stock(app, "ST-A", "B", 10).await;
    let count = json!({"id": "CC-2", "location": "ST-A", "skus": ["A", "B"]});
    app.post("/api/v1/counts", &count.to_string())
        .await
        .expect(201);
    // A: 2 sold before anyone counted it; 8 on the shelf are counted. Nothing is missing.
    let s1 = sale("S-before", "ST-A", json!([{"sku": "A", "qty": 2}]));
    app.post("/api/v1/pos/sales", &s1.to_string())
        .await
        .expect(201);
    // B: 9 counted (one is gone), then 3 sold from the counted shelf.
    let scans = json!({"batch_id": "b1", "lines": [{"code": "6901234567892", "qty": 8}, {"sku": "B", "qty": 9}]});
    app.post("/api/v1/counts/CC-2/scans", &scans.to_string())
        .await
        .expect(200);
    let s2 = sale("S-after", "ST-A", json!([{"code": "96385074", "qty": 3}]));
    app.post("/api/v1/pos/sales", &s2.to_string())
        .await
        .expect(201);
    // A scan of something outside the count is reported, never corrected.
    let stray = json!({"lines": [{"code": "6901234200010", "qty": 5}]});
    app.post("/api/v1/counts/CC-2/scans", &stray.to_string())
        .await
        .expect(200);

    let shown = app.get("/api/v1/counts/CC-2").await.expect(200);
    let row = |i: usize, k: &str| shown["lines"][i][k].as_i64().unwrap();
    assert_eq!(
        [
            row(0, "expected"),
            row(0, "moved"),
            row(0, "counted"),
            row(0, "variance")
        ],
        [10, -2, 8, 0]
    );
    assert_eq!(
        [
            row(1, "expected"),
            row(1, "moved"),
            row(1, "counted"),
            row(1, "variance")
        ],
        [10, 0, 9, -1]
    );
    assert_eq!(
        shown["out_of_scope"],
        json!([{"sku": "RICE", "counted": 5}])
    );
    let approved = app
        .post("/api/v1/counts/CC-2/approve", "")
        .await
        .expect(200);
    assert_eq!(approved["totals"]["variance"], -1);
    assert_eq!(on_hand(app, "ST-A", "A").await, 8);
    assert_eq!(
        on_hand(app, "ST-A", "B").await,
        6,
        "10 - 3 sold - 1 missing"
    );
    assert_eq!(on_hand(app, "ST-A", "RICE").await, 0);
    let ledger = app.get("/api/v1/stock/ST-A/B/movements").await.expect(200);
    assert_eq!(ledger["items"][0]["kind"], "count_correction");
    assert_eq!(ledger["items"][0]["qty"], -1);
    let a_ledger = app.get("/api/v1/stock/ST-A/A/movements").await.expect(200);
    assert_ne!(
        a_ledger["items"][0]["kind"], "count_correction",
        "no correction for A"
    );
    verified(app).await;
}

async fn counts_take_scans_once_per_batch_and_close_once(app: &TestApp) {
    shop(app).await;
    stock(app, "ST-B", "A", 5).await;
    app.post("/api/v1/counts", r#"{"id":"CC-3","location":"ST-B"}"#)
        .await
        .expect(201);
    let second = app
        .post("/api/v1/counts", r#"{"id":"CC-4","location":"ST-B"}"#)
        .await
        .expect(409);
    assert_eq!(second["code"], "count_open");
    let scans = json!({"batch_id": "b-1", "lines": [{"code": crate::shop::A_CASE}]});
    let once = app
        .post("/api/v1/counts/CC-3/scans", &scans.to_string())
        .await
        .expect(200);
    let twice = app
        .post("/api/v1/counts/CC-3/scans", &scans.to_string())
        .await
        .expect(200);
    assert_eq!(once["lines"][0]["counted"], 12, "a case is 12");
    assert_eq!(
        twice["lines"][0]["counted"], 12,
        "a batch sent again counts once"
    );
    let miscount = json!({"lines": [{"sku": "A", "qty": -13}]});
    let refused = app
        .post("/api/v1/counts/CC-3/scans", &miscount.to_string())
        .await
        .expect(422);
    assert_eq!(refused["errors"][0]["code"], "below_zero");
    let fix = json!({"lines": [{"sku": "A", "qty": -2}]});
    app.post("/api/v1/counts/CC-3/scans", &fix.to_string())
        .await
        .expect(200);
    app.post("/api/v1/counts/CC-3/cancel", "").await.expect(200);
    app.post("/api/v1/counts/CC-3/cancel", "").await.expect(200);
    let closed = app
        .post("/api/v1/counts/CC-3/approve", "")
        .await
        .expect(409);
    assert_eq!(closed["code"], "count_closed");
    assert_eq!(
        on_hand(app, "ST-B", "A").await,
        5,
        "a cancelled count posts nothing"
    );
    app.post("/api/v1/counts", r#"{"id":"CC-4","location":"ST-B"}"#)
        .await
        .expect(201);
    verified(app).await;
}

async fn a_transfer_ships_and_is_received_with_a_discrepancy(app: &TestApp) {
    shop(app).await;
    stock(app, "WH", "A", 20).await;
    stock(app, "WH", "B", 5).await;
    let body = json!({"id": "TR-1", "from": "WH", "to": "ST-A", "lines": [{"sku": "A", "qty": 10}, {"sku": "B", "qty": 5}]});
    let created = app
        .post("/api/v1/transfers", &body.to_string())
        .await
        .expect(201);
    assert_eq!(created["status"], "open");
    app.post("/api/v1/transfers", &body.to_string())
        .await
        .expect(200);
    let too_much =
        json!({"id": "TR-2", "from": "WH", "to": "ST-B", "lines": [{"sku": "B", "qty": 6}]});
    app.post("/api/v1/transfers", &too_much.to_string())
        .await
        .expect(201);

    let shipped = app
        .post("/api/v1/transfers/TR-1/ship", "")
        .await
        .expect(200);
    assert_eq!(shipped["status"], "shipped");
    app.post("/api/v1/transfers/TR-1/ship", "")
        .await
        .expect(200);
    assert_eq!(on_hand(app, "WH", "A").await, 10);
    assert_eq!(level(app, "ST-A", "A").await["incoming"], 10);
    assert_eq!(level(app, "ST-A", "B").await["incoming"], 5);
    verified(app).await;

    let before = app.snapshot().await;
    let short = app
        .post("/api/v1/transfers/TR-2/ship", "")
        .await
        .expect(409);
    assert_eq!(short["code"], "insufficient_stock");
    assert_eq!(short["shortages"][0]["available"], 0);
    assert_eq!(app.snapshot().await, before, "nothing ships");

    let arrived = json!({"lines": [{"sku": "A", "qty": 9}, {"sku": "B", "qty": 5}, {"sku": "RICE", "qty": 100}]});
    let received = app
        .post("/api/v1/transfers/TR-1/receive", &arrived.to_string())
        .await
        .expect(200);
    let discrepancies: Vec<(&str, i64)> = received["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["sku"].as_str().unwrap(),
                l["discrepancy"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(discrepancies, [("A", -1), ("B", 0), ("RICE", 100)]);
    let a = level(app, "ST-A", "A").await;
    assert_eq!(
        (a["on_hand"].as_i64(), a["incoming"].as_i64()),
        (Some(9), Some(0))
    );
    assert_eq!(on_hand(app, "ST-A", "RICE").await, 100);
    app.post("/api/v1/transfers/TR-1/receive", &arrived.to_string())
        .await
        .expect(200);
    let other = app
        .post("/api/v1/transfers/TR-1/receive", "")
        .await
        .expect(409);
    assert_eq!(other["code"], "already_received");
    let listed = app
        .get("/api/v1/transfers?location=ST-A&status=received")
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let ledger = app.get("/api/v1/stock/WH/A/movements").await.expect(200);
    assert_eq!(ledger["items"][0]["kind"], "transfer_out");
    verified(app).await;
}

async fn the_shop_floor_survives_backup_and_restore(app: &TestApp) {
    shop(app).await;
    stock(app, "ST-A", "A", 5).await;
    let token = device(app, "POS-A1", "ST-A").await;
    let body = sale("S-b", "ST-A", json!([{"sku": "A", "qty": 2}]));
    post_as(app, &token, "/api/v1/pos/sales", &body)
        .await
        .expect(201);
    app.post(
        "/api/v1/counts",
        r#"{"id":"CC-b","location":"ST-A","skus":["A"]}"#,
    )
    .await
    .expect(201);
    let r = reads("RD-b", "ST-A", &[(sgtin("6901234567892", 9), Utc::now())]);
    app.post("/api/v1/rfid/reads", &r.to_string())
        .await
        .expect(200);
    let t = json!({"id": "TR-b", "from": "ST-A", "to": "ST-B", "lines": [{"sku": "A", "qty": 1}]});
    app.post("/api/v1/transfers", &t.to_string())
        .await
        .expect(201);
    app.post("/api/v1/transfers/TR-b/ship", "")
        .await
        .expect(200);

    let records = app.snapshot().await;
    let target = match app.db.store.backend() {
        "sqlite" => store_sql::testing::TestDatabase::sqlite("floor_restore")
            .await
            .unwrap(),
        _ => store_sql::testing::TestDatabase::postgres("floor_restore")
            .await
            .unwrap()
            .unwrap(),
    };
    let mut source = records.clone().into_iter().map(Ok);
    target.store.restore(&mut source).await.unwrap();
    assert_eq!(
        store::export_all(target.store.as_ref()).await.unwrap(),
        records
    );
    let report = target.store.verify().await.unwrap();
    assert!(report.ok(), "{:#?}", report.violations);
    // The device's token works on the restored database, and its sale replays.
    let restored = server::build_app(server::AppState::new(target.store.clone(), None));
    let request = axum::http::Request::post("/api/v1/pos/sales")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let reply = tower::ServiceExt::oneshot(restored, request).await.unwrap();
    assert_eq!(
        reply.status().as_u16(),
        200,
        "the sale replays: it was restored"
    );
    target.cleanup().await;
}
