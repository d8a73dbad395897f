//! Every route × every role: who is allowed, who is refused (403), and who is not even
//! told the thing exists (404). The expectations are written out here, route by route,
//! from the issue's rules, independently of the permission table they check.
//!
//! Roles: A admin, M manager, S staff at `WH`, C clerk at `ST-1`, U customer `BJ`,
//! I integration with scopes `catalog:read stock:read orders:read`, D device at `ST-1`.

use domain::auth::{Grant, Role};
use domain::ids::LocationCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

crate::on_both_backends!(every_route_answers_every_role_as_the_rules_say);

const ROLES: [(char, Role); 7] = [
    ('A', Role::Admin),
    ('M', Role::Manager),
    ('S', Role::Staff),
    ('C', Role::Clerk),
    ('U', Role::Customer),
    ('I', Role::Integration),
    ('D', Role::Device),
];

fn at(code: &str) -> Vec<LocationCode> {
    vec![LocationCode::from_trusted(code.to_owned())]
}

fn grant(role: Role) -> Grant {
    let base = Grant::role(role);
    match role {
        Role::Staff => Grant {
            locations: at("WH"),
            ..base
        },
        Role::Clerk | Role::Device => Grant {
            locations: at("ST-1"),
            ..base
        },
        Role::Customer => Grant {
            customer: Some("BJ".into()),
            ..base
        },
        Role::Integration => Grant {
            scopes: vec![
                "catalog:read".into(),
                "stock:read".into(),
                "orders:read".into(),
            ],
            ..base
        },
        Role::Admin | Role::Manager => base,
    }
}

async fn order_for(app: &TestApp, customer: &str, key: &str) -> String {
    let body = json!({"customer": customer, "lines": [{"sku": "A", "qty": 1}]});
    let reply = app
        .send_with(
            "POST",
            "/api/v1/orders",
            Some(&body.to_string()),
            &[("idempotency-key", key)],
        )
        .await
        .expect(201);
    reply["id"].as_str().unwrap().to_owned()
}

/// One route: method, path, body, the roles allowed, and the roles that get 404.
struct Case {
    method: &'static str,
    path: String,
    body: Option<Value>,
    allowed: &'static str,
    hidden: &'static str,
}

fn case(method: &'static str, path: &str, body: Option<Value>, allowed: &'static str) -> Case {
    Case {
        method,
        path: path.to_owned(),
        body,
        allowed,
        hidden: "",
    }
}

fn hiding(mut c: Case, hidden: &'static str) -> Case {
    c.hidden = hidden;
    c
}

async fn every_route_answers_every_role_as_the_rules_say(app: &TestApp) {
    app.post(
        "/api/v1/locations",
        r#"{"code":"ST-1","name":"Store 1","kind":"store"}"#,
    )
    .await
    .expect(201);
    let stock = json!({"movements": [
        {"id": "o1", "sku": "A", "location": "WH", "kind": "receipt", "qty": 1000},
        {"id": "o2", "sku": "A", "location": "ST-1", "kind": "receipt", "qty": 1000},
    ]});
    app.post("/api/v1/stock/movements", &stock.to_string())
        .await
        .expect(200);
    for code in ["BJ", "HZ"] {
        let c = json!({"code": code, "name": code,
            "ship_to": [{"name": "Li", "line1": "1 Rd", "city": "Beijing"}]});
        app.post("/api/v1/customers", &c.to_string())
            .await
            .expect(201);
    }
    app.send_with(
        "PUT",
        "/api/v1/price-lists/GOLD",
        Some(r#"{"name":"Gold","currency":"CNY","entries":[{"sku":"A","unit_price":900}]}"#),
        &[],
    )
    .await
    .expect(200);
    let bj = order_for(app, "BJ", "seed-bj").await;
    let hz = order_for(app, "HZ", "seed-hz").await;
    let spare = server::auth::issue_token(
        app.db.store.as_ref(),
        "spare",
        Grant::role(Role::Manager),
        None,
        None,
    )
    .await
    .unwrap()
    .1
    .token_id;

    let mv = |id: &str, loc: &str| json!({"movements": [{"id": id, "sku": "A", "location": loc, "kind": "receipt", "qty": 1}]});
    let ord = |customer: &str| json!({"customer": customer, "lines": [{"sku": "A", "qty": 1}]});
    let cases = vec![
        case("GET", "/api/v1/locations", None, "AMSCUID"),
        case(
            "POST",
            "/api/v1/locations",
            Some(json!({"code": "X-{n}", "name": "X", "kind": "store"})),
            "AM",
        ),
        case("GET", "/api/v1/products", None, "AMSCUID"),
        case("GET", "/api/v1/products/A", None, "AMSCUID"),
        case(
            "POST",
            "/api/v1/products",
            Some(json!({"sku": "P-{n}", "name": "P", "unit": "件", "price": 100})),
            "AM",
        ),
        case(
            "PATCH",
            "/api/v1/products/A",
            Some(json!({"name": "A"})),
            "AM",
        ),
        case("GET", "/api/v1/scan?code=4006381333931", None, "AMSCUID"),
        case(
            "POST",
            "/api/v1/stock/movements",
            Some(mv("w-{n}", "WH")),
            "AMS",
        ),
        case(
            "POST",
            "/api/v1/stock/movements",
            Some(mv("s-{n}", "ST-1")),
            "AMC",
        ),
        case("GET", "/api/v1/stock", None, "AMSCID"),
        case("GET", "/api/v1/stock/WH/A", None, "AMSI"),
        case("GET", "/api/v1/stock/ST-1/A", None, "AMCID"),
        case("GET", "/api/v1/stock/WH/A/movements", None, "AMSI"),
        case(
            "POST",
            "/api/v1/customers",
            Some(json!({"code": "C-{n}", "name": "C"})),
            "AM",
        ),
        case("GET", "/api/v1/customers", None, "AMSU"),
        case("GET", "/api/v1/customers/BJ", None, "AMSU"),
        hiding(case("GET", "/api/v1/customers/HZ", None, "AMS"), "U"),
        case(
            "PATCH",
            "/api/v1/customers/BJ",
            Some(json!({"name": "BJ"})),
            "AM",
        ),
        case("GET", "/api/v1/customers/BJ/prices", None, "AMSU"),
        hiding(case("GET", "/api/v1/customers/HZ/prices", None, "AMS"), "U"),
        case("GET", "/api/v1/customers/BJ/price-rules", None, "AMSU"),
        case(
            "PUT",
            "/api/v1/customers/BJ/price-rules",
            Some(json!({"entries": [{"sku": "A", "unit_price": 800}]})),
            "AM",
        ),
        case("GET", "/api/v1/price-lists/GOLD", None, "AMS"),
        case(
            "PUT",
            "/api/v1/price-lists/GOLD",
            Some(
                json!({"name": "Gold", "currency": "CNY", "entries": [{"sku": "A", "unit_price": 900}]}),
            ),
            "AM",
        ),
        case("POST", "/api/v1/orders", Some(ord("BJ")), "AMSU"),
        case("POST", "/api/v1/orders", Some(ord("HZ")), "AMS"),
        case("GET", "/api/v1/orders", None, "AMSUI"),
        case("GET", &format!("/api/v1/orders/{bj}"), None, "AMSUI"),
        hiding(
            case("GET", &format!("/api/v1/orders/{hz}"), None, "AMSI"),
            "U",
        ),
        hiding(
            case("POST", &format!("/api/v1/orders/{hz}/cancel"), None, "AMS"),
            "U",
        ),
        case(
            "PATCH",
            &format!("/api/v1/orders/{bj}"),
            Some(json!({"note": "n"})),
            "AMSU",
        ),
        case(
            "POST",
            &format!("/api/v1/orders/{bj}/reorder"),
            None,
            "AMSU",
        ),
        case("POST", &format!("/api/v1/orders/{bj}/approve"), None, "AMS"),
        case("POST", &format!("/api/v1/orders/{bj}/reject"), None, "AMS"),
        case(
            "POST",
            &format!("/api/v1/orders/{bj}/ship"),
            Some(json!({"lines": [{"sku": "A", "qty": 1}]})),
            "AMS",
        ),
        case("POST", &format!("/api/v1/orders/{bj}/deliver"), None, "AMS"),
        case(
            "POST",
            &format!("/api/v1/orders/{bj}/return"),
            Some(json!({"lines": [{"sku": "A", "qty": 1}], "reason": "damaged"})),
            "AMS",
        ),
        case("POST", &format!("/api/v1/orders/{bj}/close"), None, "AMS"),
        case("POST", &format!("/api/v1/orders/{bj}/cancel"), None, "AMSU"),
        case("GET", "/api/v1/events", None, "AMSCUD"),
        case("GET", "/api/v1/events/stream?after=0", None, "AMSCUD"),
        case("GET", "/api/v1/auth/me", None, "AMSCUID"),
        case(
            "POST",
            "/api/v1/users",
            Some(json!({"username": "u-{n}", "password": "long enough pw", "role": "manager"})),
            "A",
        ),
        case("GET", "/api/v1/users", None, "A"),
        case("POST", "/api/v1/users/nobody/disable", None, "A"),
        case(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "t", "role": "manager"})),
            "A",
        ),
        case("GET", "/api/v1/tokens", None, "A"),
        case("POST", &format!("/api/v1/tokens/{spare}/revoke"), None, "A"),
        case("GET", "/api/v1/audit", None, "A"),
        case("GET", "/api/v1/sinks", None, "AM"),
        case("GET", "/api/v1/edge/snapshot?location=ST-1", None, "AMCID"),
        case("GET", "/api/v1/edge/snapshot?location=WH", None, "AMSI"),
        case(
            "POST",
            "/api/v1/devices",
            Some(json!({"id": "pos-{n}", "kind": "pos", "location": "ST-1"})),
            "AM",
        ),
        case("GET", "/api/v1/devices", None, "AM"),
        case(
            "POST",
            "/api/v1/pos/sales",
            Some(
                json!({"sale_id": "sale-{n}", "terminal": "T1", "occurred_at": "2026-11-22T08:00:00Z",
                "location": "ST-1", "lines": [{"sku": "A", "qty": 1}]}),
            ),
            "AMCD",
        ),
        case(
            "POST",
            "/api/v1/rfid/reads",
            Some(json!({"reader": "R1", "location": "ST-1",
                "reads": [{"epc": "3034257BF7194E4000001A85", "seen_at": "2026-11-22T08:00:00Z"}]})),
            "AMCD",
        ),
        case(
            "POST",
            "/api/v1/counts",
            Some(json!({"id": "cnt-{n}", "location": "WH", "skus": ["B"]})),
            "AMS",
        ),
        case(
            "POST",
            "/api/v1/transfers",
            Some(
                json!({"id": "tr-{n}", "from": "WH", "to": "ST-1", "lines": [{"sku": "A", "qty": 1}]}),
            ),
            "AMS",
        ),
        case("GET", "/api/v1/transfers", None, "AMS"),
        case("GET", "/api/v1/alerts?location=WH", None, "AMS"),
        case("GET", "/api/v1/alerts?location=ST-1", None, "AMC"),
        case("GET", "/api/v1/stock/WH/A/threshold", None, "AMS"),
        case(
            "PUT",
            "/api/v1/stock/WH/A/threshold",
            Some(json!({"low_stock": 5})),
            "AMS",
        ),
        case("GET", "/api/v1/webhooks", None, "AM"),
        case(
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/hook"})),
            "AM",
        ),
    ];

    let mut tokens = Vec::new();
    for (letter, role) in ROLES {
        tokens.push((letter, role, app.token_for(grant(role)).await));
    }
    let mut wrong = Vec::new();
    let mut n = 0;
    for c in &cases {
        for (letter, role, token) in &tokens {
            n += 1;
            let status = if c.path.contains("/stream") {
                app.status_of(c.method, &c.path, token).await.as_u16()
            } else {
                // `{n}` makes ids unique per request, so creations do not collide.
                let body = c
                    .body
                    .as_ref()
                    .map(|b| b.to_string().replace("{n}", &n.to_string()));
                let key = format!("perm-{n}");
                let headers: Vec<(&str, &str)> =
                    vec![("idempotency-key", &key), ("if-match", "\"99\"")];
                let reply = app
                    .request_as(c.method, &c.path, body.as_deref(), token, &headers)
                    .await;
                reply.status.as_u16()
            };
            let expected = if c.allowed.contains(*letter) {
                "allowed"
            } else if c.hidden.contains(*letter) {
                "404"
            } else {
                "403"
            };
            let ok = match expected {
                "allowed" => {
                    let hidden_from_customer = status == 404 && *role == Role::Customer;
                    !matches!(status, 401 | 403) && !hidden_from_customer
                }
                "404" => status == 404,
                _ => status == 403,
            };
            if !ok {
                wrong.push(format!(
                    "{} {} as {role}: {status}, expected {expected}",
                    c.method, c.path
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong answers:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // What the allowed ones see is narrowed too.
    let (_, _, customer) = &tokens[4];
    let listed = app
        .request_as("GET", "/api/v1/orders?limit=500", None, customer, &[])
        .await
        .expect(200);
    let customers: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["customer"].as_str().unwrap())
        .collect();
    assert!(
        !customers.is_empty() && customers.iter().all(|c| *c == "BJ"),
        "{customers:?}"
    );
    let other = app
        .request_as("GET", "/api/v1/orders?customer=HZ", None, customer, &[])
        .await
        .expect(200);
    assert_eq!(other["items"], json!([]));
    let events = app
        .request_as("GET", "/api/v1/events?limit=1000", None, customer, &[])
        .await
        .expect(200);
    let seen: Vec<&Value> = events["items"].as_array().unwrap().iter().collect();
    assert!(
        !seen.is_empty() && seen.iter().all(|e| e["customer"] == "BJ"),
        "a customer sees only its own events"
    );
    let (_, _, clerk) = &tokens[3];
    let levels = app
        .request_as("GET", "/api/v1/stock?limit=500", None, clerk, &[])
        .await
        .expect(200);
    assert!(
        levels["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["location"] == "ST-1"),
        "a clerk sees only its store's stock"
    );
}
