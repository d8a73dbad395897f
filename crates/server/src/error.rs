//! The one error type of the HTTP layer and how it is shown.
//!
//! Policy: every failure leaves as `application/problem+json` (RFC 9457) with `type`,
//! `title`, `status`, `detail` and a stable `code` that clients branch on; validation
//! failures add `errors: [{field, code, message}]` naming each bad field. 4xx responses say
//! exactly what is wrong with the request and the request changed nothing. 5xx responses are
//! logged with their cause and shown to the client only as a generic message, so no
//! internal detail (SQL, paths) leaks. The status of each error is decided in one `match`,
//! in [`AppError::status_and_code`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::order::OrderError;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use store::StoreError;

/// Why a request failed.
#[derive(Debug)]
pub enum AppError {
    /// The body is not JSON at all, or not JSON of the right media type.
    Malformed {
        /// Stable code: `malformed_json`, `unsupported_media_type`, `payload_too_large`.
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// One or more fields are invalid.
    Validation(Vec<FieldError>),
    /// No valid bearer token.
    Unauthorized,
    /// The caller may not do this (its role, scopes or locations do not allow it).
    Forbidden(domain::auth::Denied),
    /// Too many requests (or failed logins); retry after this many seconds.
    TooManyRequests {
        /// Seconds until a retry may succeed.
        retry_after: u64,
        /// What was limited.
        detail: String,
    },
    /// The thing asked for does not exist.
    NotFound(String),
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// An order operation refused by a business rule; carries what the client needs.
    Order(OrderError),
    /// A change that needs `If-Match` came without it.
    PreconditionRequired,
    /// The request contradicts the stored state.
    Conflict {
        /// Stable code from the store, e.g. `already_exists`.
        code: &'static str,
        /// What conflicts.
        detail: String,
    },
    /// The database cannot be reached; retry later.
    Unavailable(String),
    /// A bug or a broken database; logged, not shown.
    Internal(String),
}

impl AppError {
    /// A validation error on one field.
    pub fn field(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, code, message)])
    }

    /// The stable code the problem body carries.
    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::Malformed {
                code: "unsupported_media_type",
                ..
            } => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            AppError::Malformed {
                code: "payload_too_large",
                ..
            } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AppError::Malformed { code, .. } => (StatusCode::BAD_REQUEST, code),
            AppError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            AppError::PreconditionRequired => {
                (StatusCode::PRECONDITION_REQUIRED, "if_match_required")
            }
            AppError::Order(e) => match e {
                OrderError::InsufficientStock { .. } => {
                    (StatusCode::CONFLICT, "insufficient_stock")
                }
                OrderError::PriceChanged { .. } => (StatusCode::CONFLICT, "price_changed"),
                OrderError::InvalidTransition { .. } => {
                    (StatusCode::CONFLICT, "invalid_transition")
                }
                OrderError::VersionMismatch { .. } => {
                    (StatusCode::PRECONDITION_FAILED, "version_mismatch")
                }
                OrderError::IdempotencyKeyReused => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
                }
                OrderError::CustomerSuspended(_) => (StatusCode::CONFLICT, "customer_suspended"),
                OrderError::CreditLimitExceeded { .. } => {
                    (StatusCode::CONFLICT, "credit_limit_exceeded")
                }
            },
            AppError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what } => AppError::NotFound(format!("{what} not found")),
            StoreError::Conflict { code, message } => AppError::Conflict {
                code,
                detail: message,
            },
            StoreError::Invalid(errors) => AppError::Validation(errors),
            StoreError::Order(e) => AppError::Order(e),
            StoreError::Unavailable(cause) => AppError::Unavailable(cause),
            StoreError::Other(cause) => AppError::Internal(cause),
        }
    }
}

impl From<domain::auth::Denied> for AppError {
    fn from(denied: domain::auth::Denied) -> Self {
        AppError::Forbidden(denied)
    }
}

impl From<FieldError> for AppError {
    fn from(error: FieldError) -> Self {
        AppError::Validation(vec![error])
    }
}

impl From<Vec<FieldError>> for AppError {
    fn from(errors: Vec<FieldError>) -> Self {
        AppError::Validation(errors)
    }
}

/// The problem+json body (RFC 9457).
#[derive(Serialize, JsonSchema)]
pub(crate) struct Problem<'a> {
    /// `urn:stockbook:problem:<code>`.
    #[serde(rename = "type")]
    kind: String,
    /// The HTTP reason phrase.
    title: &'a str,
    /// The HTTP status.
    status: u16,
    /// A message for people; for one invalid field, `field: message`.
    detail: String,
    /// The stable code to branch on, e.g. `validation_failed`, `insufficient_stock`.
    code: &'a str,
    /// Only on `validation_failed`: one entry per invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    /// Members particular to the problem (`shortages`, `prices`, `current_version`, …).
    #[serde(flatten)]
    #[schemars(with = "ProblemMembers")]
    extra: serde_json::Map<String, serde_json::Value>,
}

/// The members a problem may carry besides the standard ones, as the OpenAPI document shows
/// them: the order members that [`order_members`] adds, and `request_id`, which
/// [`crate::hardening`] adds to every problem.
#[derive(JsonSchema)]
#[expect(dead_code, reason = "only describes members that are built as JSON")]
struct ProblemMembers {
    /// The id of the request, to quote to an operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    /// `insufficient_stock`: one entry per short line.
    #[serde(skip_serializing_if = "Option::is_none")]
    shortages: Option<Vec<domain::order::Shortage>>,
    /// `price_changed`: the current prices of the lines whose expected price failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    prices: Option<Vec<domain::order::PriceChange>>,
    /// `invalid_transition`: the order's status.
    #[serde(skip_serializing_if = "Option::is_none")]
    order_status: Option<domain::order::OrderStatus>,
    /// `invalid_transition`: what was attempted.
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<domain::order::Action>,
    /// `version_mismatch`: the order's version now.
    #[serde(skip_serializing_if = "Option::is_none")]
    current_version: Option<i64>,
    /// `credit_limit_exceeded`: the customer's credit limit, minor units.
    #[serde(skip_serializing_if = "Option::is_none")]
    credit_limit: Option<i64>,
    /// `credit_limit_exceeded`: open order value including this order, minor units.
    #[serde(skip_serializing_if = "Option::is_none")]
    open_order_value: Option<i64>,
}

/// The data an order refusal carries, as problem members.
fn order_members(e: &OrderError) -> serde_json::Map<String, serde_json::Value> {
    let value = match e {
        OrderError::InsufficientStock { shortages } => json!({ "shortages": shortages }),
        OrderError::PriceChanged { prices } => json!({ "prices": prices }),
        OrderError::InvalidTransition { status, action } => {
            json!({ "order_status": status, "action": action })
        }
        OrderError::VersionMismatch { current } => json!({ "current_version": current }),
        OrderError::CreditLimitExceeded { limit, open } => {
            json!({ "credit_limit": limit, "open_order_value": open })
        }
        OrderError::CustomerSuspended(_) | OrderError::IdempotencyKeyReused => json!({}),
    };
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// What a refusal names: the action, and the location it was refused at.
fn denied_members(denied: &domain::auth::Denied) -> serde_json::Map<String, serde_json::Value> {
    use domain::auth::Denied;
    let mut map = serde_json::Map::new();
    match denied {
        Denied::Action { role, action } => {
            map.insert("role".into(), json!(role));
            map.insert("action".into(), json!(action));
        }
        Denied::Location { location } => {
            map.insert("location".into(), json!(location));
        }
        Denied::Customer => {}
    }
    map
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let detail = match &self {
            AppError::Malformed { detail, .. }
            | AppError::TooManyRequests { detail, .. }
            | AppError::NotFound(detail)
            | AppError::Conflict { detail, .. } => detail.clone(),
            AppError::Validation(errors) => match errors.as_slice() {
                [one] => format!("{}: {}", one.field, one.message),
                many => format!("{} fields are invalid", many.len()),
            },
            AppError::Unauthorized => "a valid bearer token is required".to_owned(),
            AppError::Forbidden(denied) => denied.to_string(),
            AppError::MethodNotAllowed => "this route does not accept that method".to_owned(),
            AppError::PreconditionRequired => "send the order's version in If-Match".to_owned(),
            AppError::Order(e) => e.to_string(),
            AppError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                "the database is unavailable; retry later".to_owned()
            }
            AppError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                "an internal error occurred; it has been logged".to_owned()
            }
        };
        let errors = match &self {
            AppError::Validation(errors) => Some(errors.as_slice()),
            _ => None,
        };
        let problem = Problem {
            kind: format!("urn:stockbook:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            code,
            errors,
            extra: match &self {
                AppError::Order(e) => order_members(e),
                AppError::Forbidden(denied) => denied_members(denied),
                _ => serde_json::Map::new(),
            },
        };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let AppError::TooManyRequests { retry_after, .. } = &self
            && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if matches!(self, AppError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Answer for a path no route matches.
pub async fn not_found_route() -> AppError {
    AppError::NotFound("no such route".to_owned())
}

/// Answer for a route called with a method it does not have.
pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
