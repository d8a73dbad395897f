//! The OpenAPI document and the router agree: every documented operation is routed with
//! the documented authentication and query parameters, every route is built from the route
//! table, and the document and the docs page are served without a token.

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use server::openapi::{self, Auth, OPERATIONS, Operation, Verb};
use tower::ServiceExt;

use crate::helpers::TestApp;

/// A concrete path for the operation, with plausible values for its path parameters.
fn concrete(op: &Operation) -> String {
    op.path
        .replace("{sku}", "A")
        .replace("{location}", "WH")
        .replace("{code}", "C1")
        .replace("{id}", "no-such-order")
}

/// Sends a request and returns the status and, unless it is a live event stream, the body.
async fn call(app: &TestApp, method: Verb, uri: &str, token: bool) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method.as_str()).uri(uri);
    if token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {}", app.token));
    }
    let response = app
        .app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let streaming = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if streaming {
        return (status, Value::Null);
    }
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_asks_for_the_documented_token() {
    let app = TestApp::sqlite("openapi_routed").await;
    for op in OPERATIONS {
        let uri = concrete(op);
        let (status, body) = call(&app, op.method, &uri, false).await;
        let what = format!("{} {uri} ({})", op.method.as_str(), op.id);
        assert!(
            body["detail"] != "no such route" && status != StatusCode::METHOD_NOT_ALLOWED,
            "{what} is documented but not routed: {status} {body}"
        );
        match op.auth {
            Auth::Bearer => assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}"),
            // A public route with a body (logging in) refuses the missing body, not the
            // missing token.
            Auth::Public if !matches!(op.body, openapi::Body::None) => {
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
            }
            Auth::Public => assert!(status.is_success(), "{what}: {status} {body}"),
        }
    }
    app.cleanup().await;
}

#[test]
fn every_route_is_built_from_the_route_table() {
    // `openapi::Routes::op` takes each route's method and path from the table; a route added
    // to an axum `Router` directly would bypass it, so no other source file may add one.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src];
    let mut offenders = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("openapi.rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
                if text.contains(call) {
                    offenders.push(format!("{} calls {call}", path.display()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "add routes with openapi::Routes::op and an entry in the route table: {offenders:?}"
    );
}

/// A value a query parameter of this schema accepts.
fn sample(schema: &Value) -> String {
    if let Some(first) = schema["oneOf"][0]["const"].as_str() {
        return first.to_owned();
    }
    match schema["type"].as_str() {
        Some("integer") => schema["minimum"].as_i64().unwrap_or(1).max(1).to_string(),
        _ => "A".to_owned(),
    }
}

#[tokio::test]
async fn every_documented_query_parameter_is_accepted_and_no_other() {
    let app = TestApp::sqlite("openapi_query").await;
    let (_, document) = call(&app, Verb::Get, "/api/v1/openapi.json", false).await;
    for op in OPERATIONS.iter().filter(|op| op.query.is_some()) {
        let item = &document["paths"][op.path][op.method.as_str().to_ascii_lowercase()];
        let parameters = item["parameters"].as_array().unwrap();
        let query: Vec<&Value> = parameters.iter().filter(|p| p["in"] == "query").collect();
        assert!(!query.is_empty(), "{}", op.id);
        for parameter in query {
            let name = parameter["name"].as_str().unwrap();
            let uri = format!("{}?{name}={}", concrete(op), sample(&parameter["schema"]));
            let (status, body) = call(&app, op.method, &uri, true).await;
            assert!(
                body["errors"][0]["code"] != "unknown_field",
                "{uri}: documented but refused: {status} {body}"
            );
        }
        let uri = format!("{}?undocumented=1", concrete(op));
        let (status, body) = call(&app, op.method, &uri, true).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}: {body}");
        assert_eq!(body["errors"][0]["field"], "undocumented", "{uri}: {body}");
    }
    app.cleanup().await;
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v.as_str()) {
                    ("$ref", Some(target)) => out.push(target),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_describes_every_operation() {
    let app = TestApp::sqlite("openapi_document").await;
    let (status, document) = call(&app, Verb::Get, "/api/v1/openapi.json", false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    let documented: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(documented, OPERATIONS.len());
    for op in OPERATIONS {
        let item = &document["paths"][op.path][op.method.as_str().to_ascii_lowercase()];
        assert_eq!(item["operationId"], op.id);
        let security = item["security"].as_array().unwrap();
        assert_eq!(security.is_empty(), op.auth == Auth::Public, "{}", op.id);
        let responses = item["responses"].as_object().unwrap();
        assert!(responses.contains_key("default"), "{}", op.id);
        if op.auth == Auth::Bearer {
            assert!(responses.contains_key("401"), "{}", op.id);
        }
        for name in op.path_params() {
            let described = item["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["in"] == "path" && p["name"] == name);
            assert!(described, "{}: path parameter {name}", op.id);
        }
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let problem = &schemas["Problem"]["properties"];
    for member in [
        "type",
        "title",
        "status",
        "detail",
        "code",
        "errors",
        "request_id",
    ] {
        assert!(problem.get(member).is_some(), "Problem.{member}");
    }
    let mut targets = Vec::new();
    refs(&document, &mut targets);
    assert!(targets.len() > 100);
    for target in targets {
        let name = target.strip_prefix("#/components/schemas/").unwrap();
        assert!(schemas.contains_key(name), "dangling $ref {target}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn the_docs_page_loads_nothing_from_elsewhere() {
    let app = TestApp::sqlite("openapi_page").await;
    let response = app
        .app
        .clone()
        .oneshot(Request::get("/api/docs").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        policy.starts_with("default-src 'none'; script-src 'sha256-"),
        "{policy}"
    );
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let html = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(html.contains("/api/v1/openapi.json"));
    for foreign in ["http://", "https://", "<script src", "<link", "style=\""] {
        assert!(!html.contains(foreign), "the page contains {foreign}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_role_without_the_routes_action_is_refused_before_its_input_is_read() {
    let app = TestApp::sqlite("openapi_action_first").await;
    let customer = app
        .token_for(domain::auth::Grant {
            customer: Some("BJ".into()),
            ..domain::auth::Grant::role(domain::auth::Role::Customer)
        })
        .await;
    // A customer may not create locations, register devices or read the audit trail:
    // a malformed body, a bad path parameter or a bad query is not even looked at.
    for (method, path, body) in [
        ("POST", "/api/v1/locations", Some("{not json")),
        ("POST", "/api/v1/devices", Some("[]")),
        (
            "POST",
            "/api/v1/webhooks/not-a-number/replay?from_seq=x",
            None,
        ),
        ("GET", "/api/v1/audit?limit=0&bogus=1", None),
    ] {
        let reply = app.request_as(method, path, body, &customer, &[]).await;
        assert_eq!(reply.status, 403, "{method} {path}: {:?}", reply.body);
        assert_eq!(reply.body["code"], "forbidden", "{method} {path}");
        assert!(reply.body["action"].is_string(), "{method} {path}");
    }
    // Allowed the action, the same caller's bad input is a 422 as before.
    let reply = app
        .request_as("GET", "/api/v1/orders?limit=0", None, &customer, &[])
        .await;
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    app.cleanup().await;
}
