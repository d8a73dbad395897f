//! Users over HTTP: create, log in, use the token, log out, throttle, disable; tokens
//! issued by the API; and the audit trail of it all.

use serde_json::{Value, json};

use crate::helpers::TestApp;

crate::on_both_backends!(
    a_user_logs_in_uses_its_token_and_logs_out,
    failed_logins_are_throttled_and_disabled_users_are_out,
    every_mutating_request_lands_in_the_audit_trail,
    concurrent_requests_each_get_their_own_audit_entry
);

async fn login(app: &TestApp, username: &str, password: &str) -> crate::helpers::Reply {
    let body = json!({"username": username, "password": password}).to_string();
    app.send(
        "POST",
        "/api/v1/auth/login",
        Some(&body),
        None,
        "application/json",
    )
    .await
}

async fn a_user_logs_in_uses_its_token_and_logs_out(app: &TestApp) {
    app.post("/api/v1/customers", r#"{"code":"BJ","name":"Beijing Tea"}"#)
        .await
        .expect(201);
    let user = app
        .post(
            "/api/v1/users",
            r#"{"username":"li.lei","password":"correct horse battery","role":"customer","customer":"BJ"}"#,
        )
        .await
        .expect(201);
    assert_eq!(user["role"], "customer");
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());

    let session = login(app, "li.lei", "correct horse battery")
        .await
        .expect(201);
    let token = session["token"].as_str().unwrap();
    assert!(session["expires_at"].is_string());
    let me = app
        .request_as("GET", "/api/v1/auth/me", None, token, &[])
        .await
        .expect(200);
    assert_eq!(
        (me["actor"].as_str(), me["customer"].as_str()),
        (Some("li.lei"), Some("BJ"))
    );
    let refused = app
        .request_as(
            "POST",
            "/api/v1/users",
            Some(r#"{"username":"eve","password":"a good long password","role":"admin"}"#),
            token,
            &[],
        )
        .await;
    assert_eq!(refused.status.as_u16(), 403, "{:#}", refused.body);
    assert_eq!(refused.body["action"], "users_manage");

    app.request_as("POST", "/api/v1/auth/logout", None, token, &[])
        .await
        .expect(204);
    let after = app
        .request_as("GET", "/api/v1/auth/me", None, token, &[])
        .await;
    assert_eq!(after.status.as_u16(), 401, "a logged-out token is dead");

    let issued = app
        .post(
            "/api/v1/tokens",
            r#"{"name":"erp","role":"integration","scopes":["stock:read"],"expires_in_days":30}"#,
        )
        .await
        .expect(201);
    let erp = issued["token"].as_str().unwrap();
    app.request_as("GET", "/api/v1/stock", None, erp, &[])
        .await
        .expect(200);
    let denied = app
        .request_as("GET", "/api/v1/orders", None, erp, &[])
        .await;
    assert_eq!(denied.status.as_u16(), 403);
    let listed = app.get("/api/v1/tokens").await.expect(200);
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("secret_hash").is_none() && t.get("token").is_none()),
        "token listings never show secrets or hashes"
    );
    let bad = app
        .post(
            "/api/v1/tokens",
            r#"{"name":"x","role":"integration","scopes":["root"]}"#,
        )
        .await
        .expect(422);
    assert_eq!(bad["errors"][0]["field"], "scopes[0]");
    let bad = app
        .post(
            "/api/v1/users",
            r#"{"username":"bob","password":"short","role":"clerk","locations":["NOWHERE"]}"#,
        )
        .await
        .expect(422);
    assert_eq!(bad["errors"][0]["field"], "password");
}

async fn failed_logins_are_throttled_and_disabled_users_are_out(app: &TestApp) {
    app.post(
        "/api/v1/users",
        r#"{"username":"ops","password":"a good long password","role":"manager"}"#,
    )
    .await
    .expect(201);
    let unknown = login(app, "nobody", "a good long password").await;
    let wrong = login(app, "ops", "not the password").await;
    assert_eq!((unknown.status.as_u16(), wrong.status.as_u16()), (401, 401));
    assert_eq!(
        unknown.body["detail"], wrong.body["detail"],
        "no hint which part was wrong"
    );
    for _ in 0..4 {
        login(app, "ops", "not the password").await.expect(401);
    }
    let throttled = login(app, "ops", "a good long password").await;
    assert_eq!(throttled.status.as_u16(), 429, "{:#}", throttled.body);
    assert!(throttled.headers.contains_key("retry-after"));

    app.post("/api/v1/users/ops/disable", "").await.expect(200);
    let users = app.get("/api/v1/users").await.expect(200);
    assert!(users["items"][0]["disabled_at"].is_string());
}

async fn every_mutating_request_lands_in_the_audit_trail(app: &TestApp) {
    let refused = app
        .send(
            "POST",
            "/api/v1/locations",
            Some("{}"),
            Some("sb_bogus"),
            "application/json",
        )
        .await;
    assert_eq!(refused.status.as_u16(), 401);
    app.post(
        "/api/v1/users",
        r#"{"username":"auditor","password":"a good long password","role":"manager"}"#,
    )
    .await
    .expect(201);
    let trail = app
        .get("/api/v1/audit?target=/api/v1/users")
        .await
        .expect(200);
    let entries: Vec<&Value> = trail["items"].as_array().unwrap().iter().collect();
    assert_eq!(entries.len(), 1, "{trail:#}");
    let e = entries[0];
    assert_eq!(
        (
            e["actor"].as_str(),
            e["role"].as_str(),
            e["action"].as_str(),
            e["status"].as_u64()
        ),
        (
            Some("test"),
            Some("admin"),
            Some("POST /api/v1/users"),
            Some(201)
        )
    );
    assert!(
        e["summary"]
            .as_str()
            .unwrap()
            .contains(r#""password":"***""#),
        "{e:#}"
    );
    assert!(!e["request_id"].as_str().unwrap().is_empty());
    let all = app.get("/api/v1/audit?actor=anonymous").await.expect(200);
    let first = &all["items"][0];
    assert_eq!(
        (first["actor"].as_str(), first["status"].as_u64()),
        (Some("anonymous"), Some(401)),
        "refused attempts are recorded too"
    );
    let report = app.db.store.verify().await.unwrap();
    assert!(report.ok() && report.audit_entries >= 2, "{report:?}");
}

/// The audit writer commits entries in groups; under 40 concurrent writes every request
/// still has exactly one entry, with its own request id, and the chain holds.
async fn concurrent_requests_each_get_their_own_audit_entry(app: &TestApp) {
    let requests = (0..40).map(|i| {
        let body = json!({"movements": [
            {"id": format!("audit-{i}"), "sku": "A", "location": "WH", "kind": "receipt", "qty": 1}
        ]})
        .to_string();
        async move { app.post("/api/v1/stock/movements", &body).await.expect(200) }
    });
    futures_util::future::join_all(requests).await;
    let trail = app
        .get("/api/v1/audit?target=/api/v1/stock/movements&limit=100")
        .await
        .expect(200);
    let entries = trail["items"].as_array().unwrap();
    assert_eq!(entries.len(), 40, "{trail:#}");
    let mut ids: Vec<&str> = entries
        .iter()
        .map(|e| e["request_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40, "one entry per request");
    for i in 0..40 {
        let id = format!("\"audit-{i}\"");
        assert_eq!(
            entries
                .iter()
                .filter(|e| e["summary"].as_str().unwrap().contains(&id))
                .count(),
            1,
            "movement {i}"
        );
    }
    let report = app.db.store.verify().await.unwrap();
    assert!(report.ok(), "{report:?}");
}
