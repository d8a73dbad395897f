//! `/audit`: the audit trail, for admins only.

use axum::Json;
use axum::extract::State;
use domain::auth::Action;
use serde::Deserialize;
use store::{AuditEntry, AuditFilter};

use super::orders::bound;
use crate::AppState;
use crate::auth::Caller;
use crate::error::AppError;
use crate::extract::Query;
use crate::openapi::Routes;
use crate::page::{Page, PageQuery};

pub(super) fn routes() -> Routes {
    Routes::new().op("listAudit", list)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Only entries by this actor (a username or a token's name).
    #[schemars(length(max = 500))]
    actor: Option<String>,
    /// Only entries whose path starts with this.
    #[schemars(length(max = 500))]
    target: Option<String>,
    /// From this time (RFC 3339) or date.
    from: Option<String>,
    /// Up to this time (RFC 3339) or date (inclusive).
    to: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[schemars(with = "Option<i64>", range(min = 1, max = 500))]
    limit: Option<String>,
    /// The `next` of the previous page.
    cursor: Option<String>,
}

/// Entries oldest first: `?actor=` exactly, `?target=` a path prefix, `?from=&to=` times
/// (RFC 3339 or dates).
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, AppError> {
    caller.may(Action::AuditRead)?;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    };
    let limit = page.limit()?;
    let after = match page.cursor(1)? {
        Some(key) => Some(key[0].parse::<i64>().map_err(|_| {
            AppError::field(
                "cursor",
                "bad_cursor",
                "cursor is not one this API returned",
            )
        })?),
        None => None,
    };
    let short = |field: &str, v: Option<String>| -> Result<Option<String>, AppError> {
        match v {
            Some(v) if v.len() > 500 => Err(AppError::field(
                field,
                "too_long",
                format!("{field} is at most 500 characters"),
            )),
            other => Ok(other.filter(|v| !v.is_empty())),
        }
    };
    let filter = AuditFilter {
        actor: short("actor", q.actor)?,
        target: short("target", q.target)?,
        from: q
            .from
            .as_deref()
            .map(|t| bound("from", t, false))
            .transpose()?,
        to: q.to.as_deref().map(|t| bound("to", t, true)).transpose()?,
    };
    let items = state.store.list_audit(&filter, after, limit + 1).await?;
    Ok(Json(Page::from_overfetch(items, limit, |e| {
        vec![e.audit_id.to_string()]
    })))
}
