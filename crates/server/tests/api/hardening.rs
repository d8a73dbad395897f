//! Request ids, security headers, and the token cache's limits.

use crate::helpers::TestApp;

crate::on_both_backends!(every_response_carries_a_request_id_and_security_headers);

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
