//! Request ids, security headers, and the token cache's limits.

use tower::ServiceExt;

use crate::helpers::TestApp;

crate::on_both_backends!(
    rate_limits_answer_429_and_cors_answers_allowed_origins_only,
    every_response_carries_a_request_id_and_security_headers,
    metrics_count_what_happened
);

async fn every_response_carries_a_request_id_and_security_headers(app: &TestApp) {
    let ok = app
        .send_with(
            "GET",
            "/api/v1/products",
            None,
            &[("x-request-id", "client-123")],
        )
        .await;
    assert_eq!(ok.status.as_u16(), 200);
    assert_eq!(
        ok.headers["x-request-id"], "client-123",
        "a tame id from the client is kept"
    );
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(ok.headers[name], value, "{name}");
    }
    let problem = app
        .send_with(
            "GET",
            "/api/v1/products/a%20b",
            None,
            &[("x-request-id", "bad id with spaces")],
        )
        .await;
    let id = problem.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "bad id with spaces", "an unsafe id is replaced");
    assert_eq!(id.len(), 24);
    assert_eq!(
        problem.body["request_id"],
        id.as_str(),
        "problem bodies quote the request id"
    );
    assert_eq!(
        problem.body["code"], "validation_failed",
        "and stay problems"
    );
}

async fn metrics_count_what_happened(app: &TestApp) {
    let batch = r#"{"movements":[{"id":"m1","sku":"A","location":"WH","kind":"receipt","qty":2},{"id":"m1","sku":"A","location":"WH","kind":"receipt","qty":2}]}"#;
    app.post("/api/v1/stock/movements", batch).await.expect(200);
    app.post("/api/v1/customers", r#"{"code":"C","name":"C"}"#)
        .await
        .expect(201);
    let short = r#"{"customer":"C","lines":[{"sku":"A","qty":5}]}"#;
    assert_eq!(
        app.send_with(
            "POST",
            "/api/v1/orders",
            Some(short),
            &[("idempotency-key", "k1")]
        )
        .await
        .status
        .as_u16(),
        409
    );
    let fine = r#"{"customer":"C","lines":[{"sku":"A","qty":1}]}"#;
    assert_eq!(
        app.send_with(
            "POST",
            "/api/v1/orders",
            Some(fine),
            &[("idempotency-key", "k2")]
        )
        .await
        .status
        .as_u16(),
        201
    );
    let reply = app.send("GET", "/metrics", None, None, "").await;
    assert_eq!(reply.status.as_u16(), 200, "no token needed");
    let response = app
        .app
        .clone()
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let text = String::from_utf8(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    for line in [
        r#"stockbook_movements_total{status="applied"} 1"#,
        r#"stockbook_movements_total{status="duplicate"} 1"#,
        r#"stockbook_orders_refused_total{reason="insufficient_stock"} 1"#,
        "stockbook_orders_placed_total 1",
        r#"stockbook_http_request_duration_seconds_count{method="POST",route="/api/v1/orders",status="201"} 1"#,
        "stockbook_sse_subscribers 0",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    assert!(
        !text.contains("stockbook_event_log_head 0"),
        "the head moved"
    );
}

async fn rate_limits_answer_429_and_cors_answers_allowed_origins_only(app: &TestApp) {
    use axum::body::Body;
    use axum::http::Request;
    let state = server::AppState::new(app.db.store.clone(), None)
        .with_rate_limit(2)
        .with_cors(vec!["https://portal.example".into()]);
    let router = server::build_app(state);
    let send = |request: Request<Body>| router.clone().oneshot(request);
    let get = || {
        Request::get("/api/v1/products")
            .header("authorization", format!("Bearer {}", app.token))
            .header("origin", "https://portal.example")
            .body(Body::empty())
            .unwrap()
    };
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = send(get()).await.unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
        }
    }
    assert_eq!(
        &statuses[..4],
        [200, 200, 200, 200],
        "a burst of twice the rate"
    );
    assert!(statuses[4..].contains(&429), "{statuses:?}");

    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/api/v1/orders")
        .header("origin", "https://portal.example")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .unwrap();
    let response = send(preflight).await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://portal.example"
    );
    assert!(
        response.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("idempotency-key")
    );
    let foreign = Request::get("/healthz")
        .header("origin", "https://evil.example")
        .body(Body::empty())
        .unwrap();
    let response = send(foreign).await.unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}
