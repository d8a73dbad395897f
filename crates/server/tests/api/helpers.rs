//! `TestApp`: the app on a fresh database with an admin token, a location `WH` and products
//! `A` and `B`, spoken to through typed helpers.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use server::{AppState, build_app};
use store::BackupRecord;
use store_sql::testing::TestDatabase;
use tower::ServiceExt;

pub struct TestApp {
    pub app: Router,
    pub token: String,
    pub db: TestDatabase,
    /// The app's state, to start workers beside it (webhooks).
    pub state: AppState,
}

/// A response: status, content type, headers and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub async fn sqlite(name: &str) -> Self {
        Self::on(TestDatabase::sqlite(name).await.unwrap()).await
    }

    pub async fn postgres(name: &str) -> Option<Self> {
        Some(Self::on(TestDatabase::postgres(name).await.unwrap()?).await)
    }

    async fn on(db: TestDatabase) -> Self {
        let admin = domain::auth::Grant::role(domain::auth::Role::Admin);
        let (token, _) = server::auth::issue_token(db.store.as_ref(), "test", admin, None, None)
            .await
            .unwrap();
        let default_location = Some(domain::ids::LocationCode::parse("location", "WH").unwrap());
        let state = AppState::new(db.store.clone(), default_location);
        let app = build_app(state.clone());
        let this = Self {
            app,
            token,
            db,
            state,
        };
        this.post(
            "/api/v1/locations",
            r#"{"code":"WH","name":"Main warehouse","kind":"warehouse"}"#,
        )
        .await
        .expect(201);
        for (sku, gtin) in [("A", "6901234567892"), ("B", "96385074")] {
            let body = format!(
                r#"{{"sku":"{sku}","name":"Product {sku}","unit":"件","price":1250,"gtins":["{gtin}"]}}"#
            );
            this.post("/api/v1/products", &body).await.expect(201);
        }
        this
    }

    pub async fn cleanup(self) {
        self.db.cleanup().await;
    }

    /// Sends a request; `body` is sent as JSON unless `content_type` says otherwise.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
        content_type: &str,
    ) -> Reply {
        self.request(method, path, body, token, content_type, &[])
            .await
    }

    /// Sends a JSON request with the admin token and extra headers.
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.request(
            method,
            path,
            body,
            Some(&self.token),
            "application/json",
            headers,
        )
        .await
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
        content_type: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            headers,
            body,
        }
    }

    /// Sends a JSON request with `token` and extra headers.
    pub async fn request_as(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        token: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.request(method, path, body, Some(token), "application/json", headers)
            .await
    }

    /// The status of a request whose body is not read (an endless stream, say).
    pub async fn status_of(&self, method: &str, path: &str, token: &str) -> StatusCode {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        self.app.clone().oneshot(request).await.unwrap().status()
    }

    /// Issues a token with this grant straight in the store.
    pub async fn token_for(&self, grant: domain::auth::Grant) -> String {
        let name = format!("{}-token", grant.role);
        server::auth::issue_token(self.db.store.as_ref(), &name, grant, None, None)
            .await
            .unwrap()
            .0
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, Some(&self.token), "").await
    }

    pub async fn post(&self, path: &str, body: &str) -> Reply {
        self.send(
            "POST",
            path,
            Some(body),
            Some(&self.token),
            "application/json",
        )
        .await
    }

    pub async fn put(&self, path: &str, body: &str) -> Reply {
        self.send(
            "PUT",
            path,
            Some(body),
            Some(&self.token),
            "application/json",
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None, Some(&self.token), "").await
    }

    pub async fn patch(&self, path: &str, body: &str) -> Reply {
        self.send(
            "PATCH",
            path,
            Some(body),
            Some(&self.token),
            "application/json",
        )
        .await
    }

    /// Everything in the database but the audit trail, which records refused requests too.
    pub async fn snapshot(&self) -> Vec<BackupRecord> {
        let mut records = store::export_all(self.db.store.as_ref()).await.unwrap();
        records.retain(|r| !matches!(r, BackupRecord::Audit(_)));
        records
    }
}

impl Reply {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        self.body
    }
}
