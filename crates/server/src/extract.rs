//! Extractors that refuse bad input the way the rest of the API does: problem+json naming
//! the field, never axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// A JSON body, deserialised strictly (unknown fields refused) with errors naming the field
/// by its path, e.g. `movements[3].qty`.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        if !is_json(&req) {
            return Err(not_json());
        }
        parse_json(&body(req, state).await?).map(Json)
    }
}

/// An optional JSON body: an empty body is `None`, anything else must be valid JSON as for
/// [`Json`]. Decided by reading the body, not by trusting `Content-Length`.
pub struct OptionalJson<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        let json = is_json(&req);
        let bytes = body(req, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalJson(None));
        }
        if !json {
            return Err(not_json());
        }
        parse_json(&bytes).map(|value| OptionalJson(Some(value)))
    }
}

/// True when the request says its body is JSON (`application/json` or `application/*+json`).
fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

fn not_json() -> AppError {
    AppError::Malformed {
        code: "unsupported_media_type",
        detail: "send the body as Content-Type: application/json".to_owned(),
    }
}

/// The whole body, within the body limit.
async fn body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, AppError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|e| AppError::Malformed {
            code: if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                "payload_too_large"
            } else {
                "malformed_body"
            },
            detail: e.body_text(),
        })
}

/// Deserialises JSON, mapping syntax errors to 400 and shape errors to 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            return AppError::Malformed {
                code: "malformed_json",
                detail: format!("the body is not valid JSON: {inner}"),
            };
        }
        let message = inner.to_string();
        let (field, code) = classify(&path, &message);
        AppError::field(&field, code, message)
    })
}

/// Names the field and reason of a serde data error. serde reports an unknown or missing
/// field at its parent's path, with the field's name in backticks in the message.
fn classify(path: &str, message: &str) -> (String, &'static str) {
    let named = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(|name| {
                if path.is_empty() || path == "." {
                    name.to_owned()
                } else if path == name || path.ends_with(&format!(".{name}")) {
                    path.to_owned()
                } else {
                    format!("{path}.{name}")
                }
            })
    };
    if let Some(field) = named("unknown field `") {
        (field, "unknown_field")
    } else if let Some(field) = named("missing field `") {
        (field, "required")
    } else {
        let field = if path == "." {
            String::new()
        } else {
            path.to_owned()
        };
        // serde_json reads an integer too large for i64 as a float: report it as out of range,
        // and keep wrong_type for real fractions and other types.
        let expects_integer = message.rsplit(", expected ").next().is_some_and(|e| {
            [
                "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "integer",
            ]
            .iter()
            .any(|t| e.contains(t))
        });
        let huge = expects_integer
            && message
                .strip_prefix("invalid type: floating point `")
                .and_then(|rest| rest.split('`').next())
                .and_then(|n| n.parse::<f64>().ok())
                .is_some_and(|n| n.abs() >= 9.2e18);
        let code = if huge {
            "out_of_range"
        } else if message.starts_with("invalid type") {
            "wrong_type"
        } else if message.contains("out of range") || message.starts_with("invalid value") {
            "out_of_range"
        } else {
            "invalid"
        };
        (field, code)
    }
}

/// A query string, deserialised strictly into a struct whose fields are all `Option<String>`
/// (handlers parse numbers themselves, so every error can name its field).
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        parse_query(parts.uri.query().unwrap_or_default()).map(Query)
    }
}

/// Deserialises a query string, with errors naming the parameter (or `query` as a whole).
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let (field, code) = classify(&path, &message);
        AppError::field(
            if field.is_empty() { "query" } else { &field },
            code,
            message,
        )
    })
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[expect(dead_code, reason = "only deserialised")]
        lines: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[expect(dead_code, reason = "only deserialised")]
        qty: i64,
    }

    fn field_of(body: &str) -> (String, &'static str) {
        match parse_json::<Outer>(body.as_bytes()) {
            Err(AppError::Validation(errors)) => (errors[0].field.clone(), errors[0].code),
            Err(AppError::Malformed { code, .. }) => (String::new(), code),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn shape_errors_name_the_field_by_path() {
        assert_eq!(
            field_of(r#"{"lines":[{"qty":1},{"qty":"x"}]}"#),
            ("lines[1].qty".into(), "wrong_type")
        );
        assert_eq!(
            field_of(r#"{"lines":[{"qty":1,"extra":2}]}"#),
            ("lines[0].extra".into(), "unknown_field")
        );
        assert_eq!(
            field_of(r#"{"lines":[{}]}"#),
            ("lines[0].qty".into(), "required")
        );
        assert_eq!(field_of(r#"{}"#), ("lines".into(), "required"));
        assert_eq!(
            field_of(r#"{"lines":[{"qty":99999999999999999999}]}"#).0,
            "lines[0].qty"
        );
        assert_eq!(
            field_of(r#"{"lines":[{"qty":1.5}]}"#),
            ("lines[0].qty".into(), "wrong_type")
        );
        assert_eq!(field_of(r#"{"lines":["#), (String::new(), "malformed_json"));
        // A huge number where an object belongs is of the wrong type, not out of range.
        assert_eq!(field_of("-4.8e19"), (String::new(), "wrong_type"));
    }
}
