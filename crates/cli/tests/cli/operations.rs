//! Operator commands: verify, backup and restore across backends, CSV import, tokens, demo.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use domain::stock::MovementKind::Receipt;
use store::conformance::{location, movement, product};
use store_sql::testing::TestDatabase;

use crate::helpers::{BIN, Client, run, stderr, stdout};

async fn stocked(db: &TestDatabase) {
    db.store.create_location(location("WH")).await.unwrap();
    for sku in ["A", "B"] {
        db.store
            .create_product(product(sku, 100, &[]))
            .await
            .unwrap();
    }
    db.store
        .apply_movements(vec![
            movement("r1", "WH", "A", Receipt, 10),
            movement("r2", "WH", "B", Receipt, 3),
        ])
        .await
        .unwrap();
}

#[tokio::test]
async fn verify_exits_1_naming_the_level_edited_by_hand() {
    let db = TestDatabase::sqlite("cli_verify").await.unwrap();
    stocked(&db).await;
    let ok = run(&db.url, &["verify"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    db.raw("UPDATE stock_levels SET on_hand = 42 WHERE sku = 'B'")
        .await
        .unwrap();
    let bad = run(&db.url, &["verify"]);
    assert_eq!(bad.status.code(), Some(1));
    let report = stdout(&bad);
    assert!(report.contains("VIOLATION on_hand_matches_ledger: location=WH sku=B: on_hand is 42, the ledger sums to 3"), "{report}");
    let json: serde_json::Value =
        serde_json::from_slice(&run(&db.url, &["verify", "--json"]).stdout).unwrap();
    assert_eq!(json["violations"][0]["sku"], "B");
    db.cleanup().await;
}

/// `backup` from one database, `restore` into another, which then verifies and answers alike.
async fn backup_restore(source: TestDatabase, target: TestDatabase) {
    stocked(&source).await;
    let file = std::env::temp_dir().join(format!(
        "stockbook-backup-{}-{}.jsonl",
        std::process::id(),
        target.store.backend()
    ));
    let out = run(&source.url, &["backup", "--out", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // 1 location, 2 products, 2 levels, 2 movements, and their 5 events.
    assert!(
        stdout(&out).contains("backup of 12 records"),
        "{}",
        stdout(&out)
    );

    let out = run(&target.url, &["restore", "--from", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("restored 12 records") && stdout(&out).contains("verify OK"),
        "{}",
        stdout(&out)
    );
    let a = store_level(&target, "A").await;
    assert_eq!(a, 10);

    let again = run(&target.url, &["restore", "--from", file.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("empty database"),
        "{}",
        stderr(&again)
    );
    let _ = std::fs::remove_file(file);
    source.cleanup().await;
    target.cleanup().await;
}

async fn store_level(db: &TestDatabase, sku: &str) -> i64 {
    let (l, s) = (
        domain::ids::LocationCode::parse("l", "WH").unwrap(),
        domain::ids::Sku::parse("s", sku).unwrap(),
    );
    db.store.get_level(&l, &s).await.unwrap().on_hand
}

#[tokio::test]
async fn backup_and_restore_commands_copy_a_sqlite_database() {
    backup_restore(
        TestDatabase::sqlite("cli_src").await.unwrap(),
        TestDatabase::sqlite("cli_dst").await.unwrap(),
    )
    .await;
}

#[tokio::test]
async fn backup_and_restore_commands_move_sqlite_to_postgres() {
    let Some(target) = TestDatabase::postgres("cli_to_pg").await.unwrap() else {
        return;
    };
    backup_restore(TestDatabase::sqlite("cli_src").await.unwrap(), target).await;
}

#[tokio::test]
async fn restore_refuses_a_truncated_backup_and_changes_nothing() {
    let source = TestDatabase::sqlite("cli_trunc_src").await.unwrap();
    stocked(&source).await;
    let file = std::env::temp_dir().join(format!("stockbook-trunc-{}.jsonl", std::process::id()));
    assert!(
        run(&source.url, &["backup", "--out", file.to_str().unwrap()])
            .status
            .success()
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let cut: Vec<&str> = text.lines().collect();
    std::fs::write(&file, cut[..cut.len() - 2].join("\n")).unwrap();

    let target = TestDatabase::sqlite("cli_trunc_dst").await.unwrap();
    let out = run(&target.url, &["restore", "--from", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("truncated"), "{}", stderr(&out));
    assert!(
        target
            .store
            .list_locations(None, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing restored"
    );
    let _ = std::fs::remove_file(file);
    source.cleanup().await;
    target.cleanup().await;
}

async fn import_story(db: TestDatabase) {
    let dir = std::env::temp_dir().join(format!(
        "stockbook-import-{}-{}",
        std::process::id(),
        db.store.backend()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    db.store.create_location(location("WH")).await.unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();

    std::fs::write(path("bad.csv"), "sku,name,unit,price,gtins\nTEA,Tea,件,1250,6901234567892\nBAD SKU,x,件,1,\nCUP,Cup,个,-5,\nMUG,Mug,个,12.5,\n").unwrap();
    let out = run(&db.url, &["import", "products", &path("bad.csv")]);
    assert_eq!(out.status.code(), Some(1));
    let errors = stderr(&out);
    for expected in ["line 3: sku:", "line 4: price:", "line 5: price:"] {
        assert!(errors.contains(expected), "{expected} in {errors}");
    }
    assert!(
        db.store.list_products(None, 10).await.unwrap().is_empty(),
        "all or nothing"
    );

    std::fs::write(path("good.csv"), "sku,name,unit,price,currency,gtins,active,packs,min_order_qty,order_multiple\nTEA,Tea,件,1250,CNY,6901234567892|96385074,true,箱:12|盒:6,6,6\nCUP,\"Cup, glass\",个,3500,,,false,,,\n").unwrap();
    let out = run(&db.url, &["import", "products", &path("good.csv")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 created, 0 updated"));
    let cup = db
        .store
        .get_product(&domain::ids::Sku::parse("s", "CUP").unwrap())
        .await
        .unwrap();
    assert_eq!((cup.name.as_str(), cup.active), ("Cup, glass", false));
    let tea = db
        .store
        .get_product(&domain::ids::Sku::parse("s", "TEA").unwrap())
        .await
        .unwrap();
    let packs: Vec<(&str, i64)> = tea
        .packs
        .iter()
        .map(|p| (p.unit.as_str(), p.factor))
        .collect();
    assert_eq!(
        (packs, tea.min_order_qty, tea.order_multiple),
        (vec![("箱", 12), ("盒", 6)], 6, 6)
    );

    std::fs::write(path("stock.csv"), "location,sku,qty\nWH,TEA,40\nWH,CUP,7\n").unwrap();
    for round in 0..2 {
        let out = run(&db.url, &["import", "stock", &path("stock.csv")]);
        assert!(out.status.success(), "{}", stderr(&out));
        let expected = if round == 0 {
            "2 levels counted, 0 already imported"
        } else {
            "0 levels counted, 2 already imported"
        };
        assert!(stdout(&out).contains(expected), "{}", stdout(&out));
    }
    std::fs::write(
        path("ghost.csv"),
        "location,sku,qty\nWH,TEA,1\nWH,GHOST,2\n",
    )
    .unwrap();
    let out = run(&db.url, &["import", "stock", &path("ghost.csv")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("line 3: sku: no product GHOST"),
        "{}",
        stderr(&out)
    );
    let (wh, tea) = (
        domain::ids::LocationCode::parse("l", "WH").unwrap(),
        domain::ids::Sku::parse("s", "TEA").unwrap(),
    );
    assert_eq!(
        db.store.get_level(&wh, &tea).await.unwrap().on_hand,
        40,
        "the refused file changed nothing"
    );
    assert!(db.store.verify().await.unwrap().ok());
    let _ = std::fs::remove_dir_all(dir);
    db.cleanup().await;
}

#[tokio::test]
async fn csv_import_is_all_or_nothing_and_idempotent_on_sqlite() {
    import_story(TestDatabase::sqlite("cli_import").await.unwrap()).await;
}

#[tokio::test]
async fn csv_import_is_all_or_nothing_and_idempotent_on_postgres() {
    let Some(db) = TestDatabase::postgres("cli_import").await.unwrap() else {
        return;
    };
    import_story(db).await;
}

#[test]
fn token_issue_refuses_an_unknown_role() {
    let dir = std::env::temp_dir().join(format!("stockbook-token-{}", std::process::id()));
    let db = format!("sqlite://{}/sb.db", dir.display());
    let out = run(&db, &["token", "issue", "--role", "wizard", "--name", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown role 'wizard'"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn serve_demo_loads_data_and_prints_a_working_token() {
    let dir = std::env::temp_dir().join(format!("stockbook-demo-{}", std::process::id()));
    let db = format!("sqlite://{}/stockbook.db", dir.display());
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--db", &db])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout_lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok);
    let token = stdout_lines.find(|l| l.starts_with("sb_")).unwrap();
    let mut stderr_lines = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok);
    let addr = stderr_lines
        .find_map(|l| {
            l.split("addr=")
                .nth(1)
                .map(|a| a.split_whitespace().next().unwrap().to_owned())
        })
        .unwrap();
    // Keep reading the server's output, as a terminal would.
    std::thread::spawn(move || stdout_lines.for_each(drop));
    std::thread::spawn(move || stderr_lines.for_each(drop));
    assert_eq!(
        std::fs::read_to_string(dir.join("demo-admin-token"))
            .unwrap()
            .trim(),
        token
    );
    let (status, products) = Client::new(token)
        .get(format!("http://{addr}/api/v1/products"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(products["items"].as_array().unwrap().len(), 8);
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_closed_log_pipe_does_not_stop_the_server() {
    let db = TestDatabase::sqlite("cli_pipe").await.unwrap();
    let token = crate::helpers::issue_token(&db.url);
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--db", &db.url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split("addr=")
                .nth(1)
                .map(|a| a.split_whitespace().next().unwrap().to_owned())
        })
        .unwrap();
    // The reader is gone: every log line from now on meets a broken pipe.
    let client = Client::new(token);
    for _ in 0..3 {
        let (status, _) = client.get(format!("http://{addr}/api/v1/locations")).await;
        assert_eq!(status, 200);
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server is still running"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    db.cleanup().await;
}

#[test]
fn gs1_and_epc_commands_print_json_and_exit_by_validity() {
    let run = |args: &[&str]| Command::new(BIN).args(args).output().unwrap();
    let ok = run(&["gs1", "parse", "(01)09506000134352(17)201225(10)ABC123"]);
    assert_eq!(ok.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(
        (json["valid"].as_bool(), json["gtin"].as_str()),
        (Some(true), Some("09506000134352"))
    );
    assert_eq!(
        json["elements"][1],
        serde_json::json!({"ai": "17", "value": "201225"})
    );
    let bad = run(&["gs1", "parse", "6901234567893"]);
    assert_eq!(bad.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&bad.stdout).unwrap();
    assert_eq!(
        (json["valid"].as_bool(), json["error"]["code"].as_str()),
        (Some(false), Some("bad_check_digit"))
    );
    let hex = run(&[
        "epc",
        "encode",
        "urn:epc:tag:sgtin-96:3.0614141.812345.6789",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&hex.stdout).trim(),
        "3074257BF7194E4000001A85"
    );
    let decoded = run(&["epc", "decode", "3074257BF7194E4000001A85"]);
    let json: serde_json::Value = serde_json::from_slice(&decoded.stdout).unwrap();
    assert_eq!(
        (json["scheme"].as_str(), json["serial"].as_str()),
        (Some("sgtin-96"), Some("6789"))
    );
    assert_eq!(run(&["epc", "decode", "nonsense"]).status.code(), Some(1));
}

#[tokio::test]
async fn a_revoked_token_is_listed_as_such_and_refused() {
    let db = TestDatabase::sqlite("cli_revoke").await.unwrap();
    let token = crate::helpers::issue_token(&db.url);
    let listed = stdout(&run(&db.url, &["token", "list"]));
    let line = listed
        .lines()
        .find(|l| l.contains("\ttest\t"))
        .unwrap()
        .to_owned();
    let id = line.split('\t').next().unwrap().to_owned();
    assert!(line.ends_with("\t-"), "live: {line}");
    assert!(!listed.contains(&token), "secrets are never shown");
    let out = run(&db.url, &["token", "revoke", &id]);
    assert!(
        out.status.success() && stdout(&out).contains("revoked"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stdout(&run(&db.url, &["token", "list"]))
            .lines()
            .any(|l| l.starts_with(&format!("{id}\t")) && l.ends_with("\t-"))
    );
    let server = crate::helpers::Server::start(&db.url);
    let (status, _) = Client::new(token)
        .get(server.url("/api/v1/locations"))
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        run(&db.url, &["token", "revoke", "999999"]).status.code(),
        Some(2)
    );
    drop(server);
    db.cleanup().await;
}
