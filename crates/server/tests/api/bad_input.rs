//! Bad input of every kind gets a 4xx problem+json naming the field and the reason, and
//! changes nothing.

use serde_json::json;

use crate::helpers::TestApp;

crate::on_both_backends!(
    bad_input_gets_a_named_problem_and_changes_nothing,
    requests_without_a_valid_token_are_refused
);

fn movement(fields: &str) -> String {
    format!(
        r#"{{"movements":[{{"id":"m1","sku":"A","location":"WH","kind":"receipt","qty":5{fields}}}]}}"#
    )
}

fn with(replace: &str, by: &str) -> String {
    movement("").replace(replace, by)
}

struct Case {
    headers: &'static [(&'static str, &'static str)],
    what: &'static str,
    method: &'static str,
    path: &'static str,
    body: Option<String>,
    content_type: &'static str,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

fn case(
    what: &'static str,
    method: &'static str,
    path: &'static str,
    body: Option<String>,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
) -> Case {
    Case {
        headers: &[],
        what,
        method,
        path,
        body,
        content_type: "application/json",
        status,
        code,
        field,
    }
}

fn order_case(what: &'static str, body: &str, code: &'static str, field: &'static str) -> Case {
    case(
        what,
        "POST",
        "/api/v1/orders",
        Some(body.to_owned()),
        422,
        code,
        Some(field),
    )
    .with_key()
}

impl Case {
    fn with_key(self) -> Self {
        Case {
            headers: &[("idempotency-key", "bad-input-test")],
            ..self
        }
    }
}

fn movement_case(
    what: &'static str,
    body: String,
    code: &'static str,
    field: &'static str,
) -> Case {
    case(
        what,
        "POST",
        "/api/v1/stock/movements",
        Some(body),
        422,
        code,
        Some(field),
    )
}

fn product_case(what: &'static str, body: &str, code: &'static str, field: &'static str) -> Case {
    case(
        what,
        "POST",
        "/api/v1/products",
        Some(body.to_owned()),
        422,
        code,
        Some(field),
    )
}

fn cases() -> Vec<Case> {
    let many: Vec<_> = (0..1001).map(|i| json!({"id": format!("m{i}"), "sku": "A", "location": "WH", "kind": "receipt", "qty": 1})).collect();
    let big = format!(
        r#"{{"movements":[{{"id":"{}","sku":"A","location":"WH","kind":"receipt","qty":1}}]}}"#,
        "x".repeat(3 * 1024 * 1024)
    );
    vec![
        case(
            "malformed JSON",
            "POST",
            "/api/v1/stock/movements",
            Some(r#"{"movements": ["#.into()),
            400,
            "malformed_json",
            None,
        ),
        Case {
            content_type: "text/plain",
            ..case(
                "not JSON",
                "POST",
                "/api/v1/stock/movements",
                Some(movement("")),
                415,
                "unsupported_media_type",
                None,
            )
        },
        case(
            "body too large",
            "POST",
            "/api/v1/stock/movements",
            Some(big),
            413,
            "payload_too_large",
            None,
        ),
        movement_case(
            "qty as a string",
            with(r#""qty":5"#, r#""qty":"5""#),
            "wrong_type",
            "movements[0].qty",
        ),
        movement_case(
            "qty null",
            with(r#""qty":5"#, r#""qty":null"#),
            "wrong_type",
            "movements[0].qty",
        ),
        movement_case(
            "zero qty",
            with(r#""qty":5"#, r#""qty":0"#),
            "not_positive",
            "movements[0].qty",
        ),
        movement_case(
            "negative receipt",
            with(r#""qty":5"#, r#""qty":-3"#),
            "not_positive",
            "movements[0].qty",
        ),
        movement_case(
            "huge qty",
            with(r#""qty":5"#, r#""qty":1000000000000"#),
            "out_of_range",
            "movements[0].qty",
        ),
        movement_case(
            "qty past i64",
            with(r#""qty":5"#, r#""qty":99999999999999999999999"#),
            "out_of_range",
            "movements[0].qty",
        ),
        movement_case(
            "fractional qty",
            with(r#""qty":5"#, r#""qty":1.5"#),
            "wrong_type",
            "movements[0].qty",
        ),
        movement_case(
            "unknown sku",
            with(r#""sku":"A""#, r#""sku":"GHOST""#),
            "unknown_sku",
            "movements[0].sku",
        ),
        movement_case(
            "unknown location",
            with(r#""location":"WH""#, r#""location":"MARS""#),
            "unknown_location",
            "movements[0].location",
        ),
        movement_case(
            "unknown kind",
            with("receipt", "theft"),
            "unknown_kind",
            "movements[0].kind",
        ),
        movement_case(
            "unknown field",
            movement(r#","colour":"red""#),
            "unknown_field",
            "movements[0].colour",
        ),
        movement_case(
            "unknown top-level field",
            movement("").replacen('{', r#"{"dry_run":true,"#, 1),
            "unknown_field",
            "dry_run",
        ),
        movement_case(
            "missing id",
            with(r#""id":"m1","#, ""),
            "required",
            "movements[0].id",
        ),
        movement_case(
            "overlong id",
            with(r#""id":"m1""#, &format!(r#""id":"{}""#, "m".repeat(200))),
            "too_long",
            "movements[0].id",
        ),
        movement_case(
            "id with spaces",
            with(r#""id":"m1""#, r#""id":"m 1""#),
            "bad_format",
            "movements[0].id",
        ),
        movement_case(
            "adjustment without reason",
            with("receipt", "adjustment"),
            "required",
            "movements[0].reason",
        ),
        movement_case(
            "overlong reason",
            movement(&format!(r#","reason":"{}""#, "r".repeat(300))),
            "too_long",
            "movements[0].reason",
        ),
        movement_case(
            "unparseable date",
            movement(r#","occurred_at":"yesterday""#),
            "invalid",
            "movements[0].occurred_at",
        ),
        movement_case(
            "date far ahead",
            movement(r#","occurred_at":"2999-01-01T00:00:00Z""#),
            "in_future",
            "movements[0].occurred_at",
        ),
        movement_case(
            "empty batch",
            r#"{"movements":[]}"#.into(),
            "required",
            "movements",
        ),
        movement_case(
            "batch of 1,001",
            json!({"movements": many}).to_string(),
            "too_many",
            "movements",
        ),
        movement_case(
            "movements not a list",
            r#"{"movements":{}}"#.into(),
            "wrong_type",
            "movements",
        ),
        product_case(
            "bad GTIN check digit",
            r#"{"sku":"C","name":"C","unit":"件","price":1,"gtins":["6901234567893"]}"#,
            "bad_check_digit",
            "gtins[0]",
        ),
        product_case(
            "GTIN of 5 digits",
            r#"{"sku":"C","name":"C","unit":"件","price":1,"gtins":["12345"]}"#,
            "bad_format",
            "gtins[0]",
        ),
        product_case(
            "overlong name",
            &format!(
                r#"{{"sku":"C","name":"{}","unit":"件","price":1}}"#,
                "茶".repeat(201)
            ),
            "too_long",
            "name",
        ),
        product_case(
            "control character in name",
            r#"{"sku":"C","name":"a\u0007b","unit":"件","price":1}"#,
            "bad_character",
            "name",
        ),
        product_case(
            "negative price",
            r#"{"sku":"C","name":"C","unit":"件","price":-1}"#,
            "negative",
            "price",
        ),
        product_case(
            "price as text",
            r#"{"sku":"C","name":"C","unit":"件","price":"12.50"}"#,
            "wrong_type",
            "price",
        ),
        product_case(
            "lower-case currency",
            r#"{"sku":"C","name":"C","unit":"件","price":1,"currency":"rmb"}"#,
            "bad_format",
            "currency",
        ),
        product_case(
            "sku with a space",
            r#"{"sku":"C 1","name":"C","unit":"件","price":1}"#,
            "bad_format",
            "sku",
        ),
        product_case(
            "unknown product field",
            r#"{"sku":"C","name":"C","unit":"件","price":1,"cost":1}"#,
            "unknown_field",
            "cost",
        ),
        product_case(
            "missing price",
            r#"{"sku":"C","name":"C","unit":"件"}"#,
            "required",
            "price",
        ),
        case(
            "existing sku",
            "POST",
            "/api/v1/products",
            Some(r#"{"sku":"A","name":"A","unit":"件","price":1}"#.into()),
            409,
            "already_exists",
            None,
        ),
        case(
            "GTIN of another product",
            "POST",
            "/api/v1/products",
            Some(
                r#"{"sku":"C","name":"C","unit":"件","price":1,"gtins":["06901234567892"]}"#.into(),
            ),
            409,
            "gtin_taken",
            None,
        ),
        case(
            "patch of an unknown product",
            "PATCH",
            "/api/v1/products/NOPE",
            Some(r#"{"price":5}"#.into()),
            404,
            "not_found",
            None,
        ),
        case(
            "patch changing the sku",
            "PATCH",
            "/api/v1/products/A",
            Some(r#"{"sku":"Z"}"#.into()),
            422,
            "unknown_field",
            Some("sku"),
        ),
        case(
            "patch with a bad GTIN",
            "PATCH",
            "/api/v1/products/A",
            Some(r#"{"gtins":["1"]}"#.into()),
            422,
            "bad_format",
            Some("gtins[0]"),
        ),
        case(
            "location of unknown kind",
            "POST",
            "/api/v1/locations",
            Some(r#"{"code":"X","name":"X","kind":"shop"}"#.into()),
            422,
            "unknown_kind",
            Some("kind"),
        ),
        case(
            "location with a bad time zone",
            "POST",
            "/api/v1/locations",
            Some(r#"{"code":"X","name":"X","kind":"store","time_zone":"../../etc/passwd"}"#.into()),
            422,
            "bad_format",
            Some("time_zone"),
        ),
        case(
            "existing location",
            "POST",
            "/api/v1/locations",
            Some(r#"{"code":"WH","name":"X","kind":"store"}"#.into()),
            409,
            "already_exists",
            None,
        ),
        case(
            "limit zero",
            "GET",
            "/api/v1/stock?limit=0",
            None,
            422,
            "out_of_range",
            Some("limit"),
        ),
        case(
            "limit not a number",
            "GET",
            "/api/v1/products?limit=ten",
            None,
            422,
            "out_of_range",
            Some("limit"),
        ),
        case(
            "forged cursor",
            "GET",
            "/api/v1/stock?cursor=zz",
            None,
            422,
            "bad_cursor",
            Some("cursor"),
        ),
        case(
            "unknown query parameter",
            "GET",
            "/api/v1/stock?colour=red",
            None,
            422,
            "unknown_field",
            Some("colour"),
        ),
        case(
            "bad sku filter",
            "GET",
            "/api/v1/stock?sku=a%20b",
            None,
            422,
            "bad_format",
            Some("sku"),
        ),
        case(
            "unknown sku level",
            "GET",
            "/api/v1/stock/WH/NOPE",
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "unknown location level",
            "GET",
            "/api/v1/stock/MARS/A",
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "bad sku in path",
            "GET",
            "/api/v1/products/a%20b",
            None,
            422,
            "bad_format",
            Some("sku"),
        ),
        case(
            "edge snapshot without a location",
            "GET",
            "/api/v1/edge/snapshot",
            None,
            422,
            "required",
            Some("location"),
        ),
        case(
            "edge snapshot of a bad location code",
            "GET",
            "/api/v1/edge/snapshot?location=a%20b",
            None,
            422,
            "bad_format",
            Some("location"),
        ),
        case(
            "edge snapshot of an unknown location",
            "GET",
            "/api/v1/edge/snapshot?location=MARS",
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "edge snapshot with an unknown parameter",
            "GET",
            "/api/v1/edge/snapshot?location=WH&store=1",
            None,
            422,
            "unknown_field",
            Some("store"),
        ),
        case(
            "edge status on a node that is not an edge node",
            "GET",
            "/api/v1/edge/status",
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "ledger of an unknown sku",
            "GET",
            "/api/v1/stock/WH/NOPE/movements",
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "unknown route",
            "GET",
            "/api/v1/nothing",
            None,
            404,
            "not_found",
            None,
        ),
        order_case(
            "order of zero",
            r#"{"customer":"ACME","lines":[{"sku":"A","qty":0}]}"#,
            "out_of_range",
            "lines[0].qty",
        ),
        order_case(
            "order of nothing",
            r#"{"customer":"ACME","lines":[]}"#,
            "required",
            "lines",
        ),
        order_case(
            "order for nobody",
            r#"{"customer":"NOBODY","lines":[{"sku":"A","qty":1}]}"#,
            "unknown_customer",
            "customer",
        ),
        order_case(
            "order of a ghost",
            r#"{"customer":"ACME","lines":[{"sku":"GHOST","qty":1}]}"#,
            "unknown_sku",
            "lines[0].sku",
        ),
        order_case(
            "order naming a SKU twice",
            r#"{"customer":"ACME","lines":[{"sku":"A","qty":1},{"sku":"A","qty":2}]}"#,
            "duplicate",
            "lines[1].sku",
        ),
        order_case(
            "order in an unknown unit",
            r#"{"customer":"ACME","lines":[{"sku":"A","qty":1,"unit":"箱"}]}"#,
            "unknown_unit",
            "lines[0].unit",
        ),
        order_case(
            "order from an unknown place",
            r#"{"customer":"ACME","location":"MARS","lines":[{"sku":"A","qty":1}]}"#,
            "unknown_location",
            "location",
        ),
        order_case(
            "order with a bad date",
            r#"{"customer":"ACME","lines":[{"sku":"A","qty":1}],"requested_date":"soon"}"#,
            "invalid",
            "requested_date",
        ),
        order_case(
            "order with an extra field",
            r#"{"customer":"ACME","lines":[{"sku":"A","qty":1,"discount":5}]}"#,
            "unknown_field",
            "lines[0].discount",
        ),
        order_case(
            "order with a negative expected price",
            r#"{"customer":"ACME","lines":[{"sku":"A","qty":1,"expected_unit_price":-5}]}"#,
            "negative",
            "lines[0].expected_unit_price",
        ),
        Case {
            headers: &[("idempotency-key", "two words")],
            ..order_case(
                "order with a bad key",
                r#"{"customer":"ACME","lines":[{"sku":"A","qty":1}]}"#,
                "bad_format",
                "Idempotency-Key",
            )
        },
        Case {
            headers: &[],
            ..order_case(
                "order without a key",
                r#"{"customer":"ACME","lines":[{"sku":"A","qty":1}]}"#,
                "required",
                "Idempotency-Key",
            )
        },
        case(
            "order short of stock",
            "POST",
            "/api/v1/orders",
            Some(r#"{"customer":"ACME","lines":[{"sku":"A","qty":1000}]}"#.into()),
            409,
            "insufficient_stock",
            None,
        )
        .with_key(),
        case(
            "shipping an unknown order",
            "POST",
            "/api/v1/orders/nope/ship",
            Some(r#"{"lines":[{"sku":"A","qty":1}]}"#.into()),
            404,
            "not_found",
            None,
        ),
        case(
            "shipping nothing",
            "POST",
            "/api/v1/orders/nope/ship",
            Some(r#"{"lines":[{"sku":"A","qty":0}]}"#.into()),
            422,
            "out_of_range",
            Some("lines[0].qty"),
        ),
        case(
            "orders in a made-up status",
            "GET",
            "/api/v1/orders?status=lost",
            None,
            422,
            "unknown_status",
            Some("status"),
        ),
        case(
            "orders from a bad date",
            "GET",
            "/api/v1/orders?from=yesterday",
            None,
            422,
            "bad_format",
            Some("from"),
        ),
        case(
            "customer with a bad email",
            "POST",
            "/api/v1/customers",
            Some(r#"{"code":"X","name":"X","contacts":[{"name":"Li","email":"li at x"}]}"#.into()),
            422,
            "bad_format",
            Some("contacts[0].email"),
        ),
        case(
            "customer with negative credit",
            "POST",
            "/api/v1/customers",
            Some(r#"{"code":"X","name":"X","credit_limit":-1}"#.into()),
            422,
            "negative",
            Some("credit_limit"),
        ),
        case(
            "customer twice",
            "POST",
            "/api/v1/customers",
            Some(r#"{"code":"ACME","name":"X"}"#.into()),
            409,
            "already_exists",
            None,
        ),
        case(
            "price list with a negative price",
            "PUT",
            "/api/v1/price-lists/GOLD",
            Some(r#"{"name":"Gold","entries":[{"sku":"A","unit_price":-1}]}"#.into()),
            422,
            "negative",
            Some("entries[0].unit_price"),
        ),
        case(
            "price list of a ghost",
            "PUT",
            "/api/v1/price-lists/GOLD",
            Some(r#"{"name":"Gold","entries":[{"sku":"GHOST","unit_price":1}]}"#.into()),
            422,
            "unknown_sku",
            Some("entries[0].sku"),
        ),
        case(
            "price of an unknown customer",
            "GET",
            "/api/v1/customers/NOBODY/prices?sku=A",
            None,
            404,
            "not_found",
            None,
        ),
    ]
}

async fn bad_input_gets_a_named_problem_and_changes_nothing(app: &TestApp) {
    app.post(
        "/api/v1/stock/movements",
        &movement("").replace("m1", "seed"),
    )
    .await
    .expect(200);
    app.post("/api/v1/customers", r#"{"code":"ACME","name":"Acme"}"#)
        .await
        .expect(201);
    let before = app.snapshot().await;
    for case in cases() {
        let reply = if case.headers.is_empty() {
            app.send(
                case.method,
                case.path,
                case.body.as_deref(),
                Some(&app.token),
                case.content_type,
            )
            .await
        } else {
            app.send_with(case.method, case.path, case.body.as_deref(), case.headers)
                .await
        };
        let what = case.what;
        assert_eq!(
            reply.status.as_u16(),
            case.status,
            "{what}: {:#}",
            reply.body
        );
        assert_eq!(reply.content_type, "application/problem+json", "{what}");
        let body = &reply.body;
        assert_eq!(body["status"], case.status, "{what}");
        assert_eq!(
            body["code"],
            if case.status == 422 {
                "validation_failed"
            } else {
                case.code
            },
            "{what}: {body:#}"
        );
        assert!(
            body["type"]
                .as_str()
                .unwrap()
                .starts_with("urn:stockbook:problem:"),
            "{what}"
        );
        assert!(
            !body["title"].as_str().unwrap().is_empty()
                && !body["detail"].as_str().unwrap().is_empty(),
            "{what}"
        );
        if let Some(field) = case.field {
            let named = body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field && e["code"] == case.code);
            assert!(
                named,
                "{what}: expected field {field} with code {}: {body:#}",
                case.code
            );
        }
    }
    assert!(
        app.snapshot().await == before,
        "a refused request changed the database"
    );
}

async fn requests_without_a_valid_token_are_refused(app: &TestApp) {
    let forged = format!("sb_{}", "0".repeat(64));
    for token in [None, Some("not-a-token"), Some(forged.as_str())] {
        for (method, path) in [
            ("GET", "/api/v1/products"),
            ("POST", "/api/v1/stock/movements"),
            ("GET", "/api/v1/stock/WH/A"),
        ] {
            let reply = app
                .send(
                    method,
                    path,
                    (method == "POST").then(|| movement("")).as_deref(),
                    token,
                    "application/json",
                )
                .await;
            assert_eq!(reply.status.as_u16(), 401, "{method} {path} with {token:?}");
            assert_eq!(reply.body["code"], "unauthorized");
        }
    }
    assert_eq!(
        app.get("/api/v1/stock/WH/A").await.expect(200)["on_hand"],
        0,
        "nothing was applied"
    );
    app.send("GET", "/healthz", None, None, "")
        .await
        .expect(200);
    assert_eq!(
        app.send("GET", "/readyz", None, None, "").await.expect(200)["status"],
        "ready"
    );
}
