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
            "a cursor hiding a NUL byte (PostgreSQL refuses NUL in text)",
            "GET",
            "/api/v1/products?cursor=00",
            None,
            422,
            "bad_cursor",
            Some("cursor"),
        ),
        case(
            "a two-part cursor hiding a NUL byte",
            "GET",
            "/api/v1/stock?cursor=000a00",
            None,
            422,
            "bad_cursor",
            Some("cursor"),
        ),
        case(
            "an order id with a NUL byte",
            "GET",
            "/api/v1/orders/a%00b",
            None,
            422,
            "bad_format",
            Some("id"),
        ),
        case(
            "an order command on an id with a NUL byte",
            "POST",
            "/api/v1/orders/a%00b/approve",
            None,
            422,
            "bad_format",
            Some("id"),
        ),
        case(
            "an order search with a NUL byte",
            "GET",
            "/api/v1/orders?q=a%00b",
            None,
            422,
            "bad_character",
            Some("q"),
        ),
        case(
            "an event type with a NUL byte",
            "GET",
            "/api/v1/events?types=order.created,a%00b",
            None,
            422,
            "bad_format",
            Some("types"),
        ),
        case(
            "an event location filter with a NUL byte",
            "GET",
            "/api/v1/events?location=W%00H",
            None,
            422,
            "bad_format",
            Some("location"),
        ),
        case(
            "an event customer filter with a space",
            "GET",
            "/api/v1/events/stream?customer=a%20b",
            None,
            422,
            "bad_format",
            Some("customer"),
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
    .into_iter()
    .chain(webhook_cases())
    .chain(alert_cases())
    .chain(floor_cases())
    .collect()
}

fn webhook_case(what: &'static str, body: &str, code: &'static str, field: &'static str) -> Case {
    case(
        what,
        "POST",
        "/api/v1/webhooks",
        Some(body.to_owned()),
        422,
        code,
        Some(field),
    )
}

/// Webhook subscriptions; webhook 1 exists (seeded), nothing else does.
fn webhook_cases() -> Vec<Case> {
    let many: Vec<String> = (0..65).map(|i| format!("t{i}.x")).collect();
    vec![
        webhook_case("webhook without url", "{}", "required", "url"),
        webhook_case(
            "ftp webhook",
            r#"{"url":"ftp://erp.example.com/in"}"#,
            "unsupported_scheme",
            "url",
        ),
        webhook_case(
            "webhook url not a url",
            r#"{"url":"erp at port 80"}"#,
            "bad_url",
            "url",
        ),
        webhook_case(
            "webhook url with a password",
            r#"{"url":"https://erp:pw@erp.example.com/in"}"#,
            "credentials_in_url",
            "url",
        ),
        webhook_case(
            "webhook url as a number",
            r#"{"url":42}"#,
            "wrong_type",
            "url",
        ),
        webhook_case(
            "badly formed event type",
            r#"{"url":"http://h/x","event_types":["stock.changed","Order Created"]}"#,
            "bad_format",
            "event_types[1]",
        ),
        webhook_case(
            "event types not a list",
            r#"{"url":"http://h/x","event_types":"stock.changed"}"#,
            "wrong_type",
            "event_types",
        ),
        webhook_case(
            "65 event types",
            &serde_json::json!({"url": "http://h/x", "event_types": many}).to_string(),
            "too_many",
            "event_types",
        ),
        webhook_case(
            "a secret chosen by the client",
            r#"{"url":"http://h/x","secret":"whsec_mine"}"#,
            "unknown_field",
            "secret",
        ),
        webhook_case(
            "overlong description",
            &format!(
                r#"{{"url":"http://h/x","description":"{}"}}"#,
                "d".repeat(501)
            ),
            "too_long",
            "description",
        ),
        case(
            "webhook enabled as text",
            "PATCH",
            "/api/v1/webhooks/1",
            Some(r#"{"enabled":"yes"}"#.into()),
            422,
            "wrong_type",
            Some("enabled"),
        ),
        case(
            "webhook patched to gopher",
            "PATCH",
            "/api/v1/webhooks/1",
            Some(r#"{"url":"gopher://h/x"}"#.into()),
            422,
            "unsupported_scheme",
            Some("url"),
        ),
        case(
            "webhook patch of an unknown field",
            "PATCH",
            "/api/v1/webhooks/1",
            Some(r#"{"delivered_seq":0}"#.into()),
            422,
            "unknown_field",
            Some("delivered_seq"),
        ),
        case(
            "webhook id not a number",
            "GET",
            "/api/v1/webhooks/abc",
            None,
            422,
            "bad_format",
            Some("id"),
        ),
        case(
            "unknown webhook",
            "GET",
            "/api/v1/webhooks/999",
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "patch of an unknown webhook",
            "PATCH",
            "/api/v1/webhooks/999",
            Some("{}".into()),
            404,
            "not_found",
            None,
        ),
        case(
            "delete of an unknown webhook",
            "DELETE",
            "/api/v1/webhooks/999",
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "replay without from_seq",
            "POST",
            "/api/v1/webhooks/1/replay",
            None,
            422,
            "required",
            Some("from_seq"),
        ),
        case(
            "replay from text",
            "POST",
            "/api/v1/webhooks/1/replay?from_seq=start",
            None,
            422,
            "bad_format",
            Some("from_seq"),
        ),
        case(
            "replay from 0",
            "POST",
            "/api/v1/webhooks/1/replay?from_seq=0",
            None,
            422,
            "out_of_range",
            Some("from_seq"),
        ),
        case(
            "replay into the future",
            "POST",
            "/api/v1/webhooks/1/replay?from_seq=99999",
            None,
            422,
            "out_of_range",
            Some("from_seq"),
        ),
        case(
            "replay with an unknown parameter",
            "POST",
            "/api/v1/webhooks/1/replay?from=3",
            None,
            422,
            "unknown_field",
            Some("from"),
        ),
        case(
            "replay of an unknown webhook",
            "POST",
            "/api/v1/webhooks/999/replay?from_seq=1",
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "deliveries page of 0",
            "GET",
            "/api/v1/webhooks/1/deliveries?limit=0",
            None,
            422,
            "out_of_range",
            Some("limit"),
        ),
        case(
            "deliveries of an unknown webhook",
            "GET",
            "/api/v1/webhooks/999/deliveries",
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "redelivery of an unknown delivery",
            "POST",
            "/api/v1/webhooks/1/deliveries/999/redeliver",
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "redelivery id not a number",
            "POST",
            "/api/v1/webhooks/1/deliveries/x/redeliver",
            None,
            422,
            "bad_format",
            Some("delivery_id"),
        ),
        case(
            "webhooks cursor not ours",
            "GET",
            "/api/v1/webhooks?cursor=zz",
            None,
            422,
            "bad_cursor",
            Some("cursor"),
        ),
    ]
}

fn threshold_case(what: &'static str, body: &str, code: &'static str, field: &'static str) -> Case {
    case(
        what,
        "PUT",
        "/api/v1/stock/WH/A/threshold",
        Some(body.to_owned()),
        422,
        code,
        Some(field),
    )
}

/// Alerts and low-stock thresholds.
fn alert_cases() -> Vec<Case> {
    vec![
        case(
            "alerts in an unknown state",
            "GET",
            "/api/v1/alerts?state=closed",
            None,
            422,
            "unknown_state",
            Some("state"),
        ),
        case(
            "alerts of a badly formed kind",
            "GET",
            "/api/v1/alerts?kind=Low-Stock",
            None,
            422,
            "bad_format",
            Some("kind"),
        ),
        case(
            "alerts at a badly formed location",
            "GET",
            "/api/v1/alerts?location=W%20H",
            None,
            422,
            "bad_format",
            Some("location"),
        ),
        case(
            "alerts with an unknown parameter",
            "GET",
            "/api/v1/alerts?colour=red",
            None,
            422,
            "unknown_field",
            Some("colour"),
        ),
        case(
            "alerts cursor not ours",
            "GET",
            "/api/v1/alerts?cursor=7a7a",
            None,
            422,
            "bad_cursor",
            Some("cursor"),
        ),
        case(
            "acknowledging alert abc",
            "POST",
            "/api/v1/alerts/abc/acknowledge",
            None,
            422,
            "bad_format",
            Some("id"),
        ),
        case(
            "acknowledging an unknown alert",
            "POST",
            "/api/v1/alerts/999/acknowledge",
            None,
            404,
            "not_found",
            None,
        ),
        threshold_case(
            "negative threshold",
            r#"{"low_stock":-1}"#,
            "out_of_range",
            "low_stock",
        ),
        threshold_case(
            "huge threshold",
            r#"{"low_stock":1000000000001}"#,
            "out_of_range",
            "low_stock",
        ),
        threshold_case(
            "threshold as text",
            r#"{"low_stock":"5"}"#,
            "wrong_type",
            "low_stock",
        ),
        threshold_case(
            "fractional threshold",
            r#"{"low_stock":1.5}"#,
            "wrong_type",
            "low_stock",
        ),
        threshold_case("threshold missing", "{}", "required", "low_stock"),
        threshold_case(
            "threshold with an unknown field",
            r#"{"low_stock":5,"high":9}"#,
            "unknown_field",
            "high",
        ),
        case(
            "threshold of an unknown product",
            "PUT",
            "/api/v1/stock/WH/GHOST/threshold",
            Some(r#"{"low_stock":5}"#.into()),
            404,
            "not_found",
            None,
        ),
        case(
            "threshold of a badly formed sku",
            "PUT",
            "/api/v1/stock/WH/A%20B/threshold",
            Some(r#"{"low_stock":5}"#.into()),
            422,
            "bad_format",
            Some("sku"),
        ),
        case(
            "removing a threshold never set",
            "DELETE",
            "/api/v1/stock/WH/A/threshold",
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "thresholds at a badly formed location",
            "GET",
            "/api/v1/stock/thresholds?location=W%20H",
            None,
            422,
            "bad_format",
            Some("location"),
        ),
    ]
}

fn sale_body(fields: &str, lines: &str) -> String {
    format!(
        r#"{{"sale_id":"S1","terminal":"T1","occurred_at":"{}","location":"WH","lines":{lines}{fields}}}"#,
        chrono::Utc::now().to_rfc3339()
    )
}

fn floor_case(
    what: &'static str,
    path: &'static str,
    body: String,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
) -> Case {
    case(what, "POST", path, Some(body), status, code, field)
}

/// Devices, POS, RFID, counts and transfers (docs/stores.md).
fn floor_cases() -> Vec<Case> {
    let sale = |what, fields: &str, lines: &str, code, field| {
        floor_case(
            what,
            "/api/v1/pos/sales",
            sale_body(fields, lines),
            422,
            code,
            Some(field),
        )
    };
    let a = r#"[{"sku":"A"}]"#;
    let ret = |what, body: &str, code, field| {
        let body = body.replace("NOW", &chrono::Utc::now().to_rfc3339());
        floor_case(what, "/api/v1/pos/returns", body, 422, code, Some(field))
    };
    let reads = |what, body: &str, code, field| {
        floor_case(
            what,
            "/api/v1/rfid/reads",
            body.to_owned(),
            422,
            code,
            Some(field),
        )
    };
    let count = |what, body: &str, code, field| {
        floor_case(
            what,
            "/api/v1/counts",
            body.to_owned(),
            422,
            code,
            Some(field),
        )
    };
    let transfer = |what, lines: &str, from: &str, to: &str, code, field| {
        let body = format!(r#"{{"from":"{from}","to":"{to}","lines":{lines}}}"#);
        floor_case(what, "/api/v1/transfers", body, 422, code, Some(field))
    };
    let device = |what, body: &str, code, field| {
        floor_case(
            what,
            "/api/v1/devices",
            body.to_owned(),
            422,
            code,
            Some(field),
        )
    };
    let missing = |what, method, path| case(what, method, path, None, 404, "not_found", None);
    vec![
        sale("sale without lines", "", "[]", "required", "lines"),
        sale(
            "sale line with code and sku",
            "",
            r#"[{"sku":"A","code":"6901234567892"}]"#,
            "not_allowed",
            "lines[0].sku",
        ),
        sale(
            "sale line naming nothing",
            "",
            r#"[{"qty":1}]"#,
            "required",
            "lines[0].code",
        ),
        sale(
            "sale of zero",
            "",
            r#"[{"sku":"A","qty":0}]"#,
            "out_of_range",
            "lines[0].qty",
        ),
        sale(
            "sale with a bad check digit",
            "",
            r#"[{"code":"6901234567893"}]"#,
            "invalid_code",
            "lines[0].code",
        ),
        sale(
            "sale of an unknown code",
            "",
            r#"[{"sku":"A"},{"code":"6901234999990"}]"#,
            "unknown_code",
            "lines[1].code",
        ),
        sale(
            "sale of a ghost",
            "",
            r#"[{"sku":"GHOST"}]"#,
            "unknown_sku",
            "lines[0].sku",
        ),
        sale(
            "sale at a negative price",
            "",
            r#"[{"sku":"A","unit_price":-1}]"#,
            "negative",
            "lines[0].unit_price",
        ),
        sale(
            "sale paid short",
            r#","payments":[{"method":"cash","amount":100}]"#,
            a,
            "underpaid",
            "payments",
        ),
        sale(
            "sale paid in a bad way",
            r#","payments":[{"method":"Cash!","amount":100}]"#,
            a,
            "bad_format",
            "payments[0].method",
        ),
        sale(
            "sale with a discount field",
            r#","discount":5"#,
            a,
            "unknown_field",
            "discount",
        ),
        floor_case(
            "sale without an id",
            "/api/v1/pos/sales",
            sale_body("", a).replace(r#""sale_id":"S1","#, ""),
            422,
            "required",
            Some("sale_id"),
        ),
        floor_case(
            "sale id with a space",
            "/api/v1/pos/sales",
            sale_body("", a).replace("S1", "S 1"),
            422,
            "bad_format",
            Some("sale_id"),
        ),
        floor_case(
            "sale at an unknown store",
            "/api/v1/pos/sales",
            sale_body("", a).replace(r#""WH""#, r#""MARS""#),
            422,
            "unknown_location",
            Some("location"),
        ),
        floor_case(
            "sale by a caller of no one store, naming none",
            "/api/v1/pos/sales",
            sale_body("", a).replace(r#""location":"WH","#, ""),
            422,
            "required",
            Some("location"),
        ),
        floor_case(
            "sale from the future",
            "/api/v1/pos/sales",
            sale_body(r#","location":"WH""#, a)
                .replacen(r#""location":"WH","#, "", 1)
                .replace(&chrono::Utc::now().to_rfc3339()[..4], "2999"),
            422,
            "in_future",
            Some("occurred_at"),
        ),
        ret(
            "return of a known sale at another price",
            r#"{"return_id":"R1","terminal":"T1","occurred_at":"NOW","location":"WH","original_sale_id":"S0","lines":[{"sku":"A","unit_price":1}]}"#,
            "not_allowed",
            "lines[0].unit_price",
        ),
        ret(
            "return of an unknown sale",
            r#"{"return_id":"R1","terminal":"T1","occurred_at":"NOW","location":"WH","original_sale_id":"S0","lines":[{"sku":"A"}]}"#,
            "unknown_sale",
            "original_sale_id",
        ),
        missing(
            "receipt of an unknown sale",
            "GET",
            "/api/v1/pos/sales/NOPE",
        ),
        reads(
            "no reads",
            r#"{"reader":"R1","location":"WH","reads":[]}"#,
            "required",
            "reads",
        ),
        reads(
            "antenna 300",
            r#"{"reader":"R1","location":"WH","reads":[{"epc":"x","antenna":300,"seen_at":"2026-01-01T00:00:00Z"}]}"#,
            "out_of_range",
            "reads[0].antenna",
        ),
        reads(
            "read at no time",
            r#"{"reader":"R1","location":"WH","reads":[{"epc":"x","seen_at":"noon"}]}"#,
            "invalid",
            "reads[0].seen_at",
        ),
        reads(
            "reader with a slash",
            r#"{"reader":"R/1","location":"WH","reads":[{"epc":"x","seen_at":"2026-01-01T00:00:00Z"}]}"#,
            "bad_format",
            "reader",
        ),
        reads(
            "reads at an unknown store",
            r#"{"reader":"R1","location":"MARS","reads":[{"epc":"x","seen_at":"2026-01-01T00:00:00Z"}]}"#,
            "unknown_location",
            "location",
        ),
        count(
            "count at an unknown place",
            r#"{"location":"MARS"}"#,
            "unknown_location",
            "location",
        ),
        count(
            "count of a ghost",
            r#"{"location":"WH","skus":["GHOST"]}"#,
            "unknown_sku",
            "skus[0]",
        ),
        count(
            "count naming a SKU twice",
            r#"{"location":"WH","skus":["A","A"]}"#,
            "duplicate",
            "skus[1]",
        ),
        count(
            "count of no SKUs",
            r#"{"location":"WH","skus":[]}"#,
            "out_of_range",
            "skus",
        ),
        missing("an unknown count", "GET", "/api/v1/counts/NOPE"),
        floor_case(
            "scans for an unknown count",
            "/api/v1/counts/NOPE/scans",
            r#"{"lines":[{"sku":"A","qty":1}]}"#.into(),
            404,
            "not_found",
            None,
        ),
        missing(
            "approving an unknown count",
            "POST",
            "/api/v1/counts/NOPE/approve",
        ),
        transfer(
            "transfer to where it is",
            r#"[{"sku":"A","qty":1}]"#,
            "WH",
            "WH",
            "same_location",
            "to",
        ),
        transfer(
            "transfer of nothing",
            r#"[{"sku":"A","qty":0}]"#,
            "WH",
            "X",
            "out_of_range",
            "lines[0].qty",
        ),
        transfer(
            "transfer from nowhere",
            r#"[{"sku":"A","qty":1}]"#,
            "MARS",
            "WH",
            "unknown_location",
            "from",
        ),
        transfer(
            "transfer to nowhere",
            r#"[{"sku":"A","qty":1}]"#,
            "WH",
            "MARS",
            "unknown_location",
            "to",
        ),
        transfer(
            "transfer naming a SKU twice",
            r#"[{"sku":"A","qty":1},{"sku":"A","qty":1}]"#,
            "WH",
            "X",
            "duplicate",
            "lines[1].sku",
        ),
        missing(
            "shipping an unknown transfer",
            "POST",
            "/api/v1/transfers/NOPE/ship",
        ),
        floor_case(
            "receiving less than nothing",
            "/api/v1/transfers/NOPE/receive",
            r#"{"lines":[{"sku":"A","qty":-1}]}"#.into(),
            422,
            "out_of_range",
            Some("lines[0].qty"),
        ),
        case(
            "transfers in a made-up status",
            "GET",
            "/api/v1/transfers?status=lost",
            None,
            422,
            "unknown_status",
            Some("status"),
        ),
        device(
            "device of an unknown kind",
            r#"{"id":"D1","kind":"printer","location":"WH"}"#,
            "unknown_kind",
            "kind",
        ),
        device(
            "device at an unknown place",
            r#"{"id":"D1","kind":"pos","location":"MARS"}"#,
            "unknown_location",
            "location",
        ),
        device(
            "device id with a space",
            r#"{"id":"D 1","kind":"pos","location":"WH"}"#,
            "bad_format",
            "id",
        ),
        missing(
            "disabling an unknown device",
            "POST",
            "/api/v1/devices/NOPE/disable",
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
    let seeded = app
        .post("/api/v1/webhooks", r#"{"url":"http://127.0.0.1:9/seed"}"#)
        .await
        .expect(201);
    assert_eq!(seeded["id"], 1);
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
            ("GET", "/api/v1/sinks"),
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
