//! `/users`, `/auth` and `/tokens`: who may log in, logging in and out, and API tokens.
//!
//! Only `admin` manages users and tokens (the permission table says so). A login returns a
//! token that expires after [`login::SESSION_HOURS`]; logout revokes it. Token secrets are
//! shown once, in the response that creates them, and stored only as hashes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use domain::auth::{Action, Grant, Role};
use domain::ids::LocationCode;
use domain::validation::{self, Errors};
use serde::{Deserialize, Serialize};
use store::User;
use store::backup::TokenRecord;

use super::param;
use crate::AppState;
use crate::auth::{Caller, issue_token};
use crate::error::AppError;
use crate::extract::{self, Query};
use crate::login;
use crate::openapi::Routes;
use crate::page::{Page, PageQuery};

pub(super) fn routes() -> Routes {
    Routes::new()
        .op("createUser", create_user)
        .op("listUsers", list_users)
        .op("disableUser", disable_user)
        .op("logIn", log_in)
        .op("logOut", log_out)
        .op("getMe", me)
        .op("createToken", create_token)
        .op("listTokens", list_tokens)
        .op("revokeToken", revoke_token)
}

/// A role and its bindings as a request names them.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantInput {
    /// `admin`, `manager`, `staff`, `clerk`, `customer`, `integration` or `device`.
    #[schemars(with = "Role")]
    role: String,
    /// The customer a `customer` user acts for.
    #[schemars(with = "Option<domain::schema::Code<32>>")]
    customer: Option<String>,
    /// The locations a `staff`, `clerk` or `device` is bound to.
    #[schemars(with = "Vec<domain::schema::Code<32>>")]
    #[serde(default)]
    locations: Vec<String>,
    /// An integration's scopes, e.g. `stock:write`.
    #[serde(default)]
    scopes: Vec<String>,
}

impl GrantInput {
    /// The grant, checked against the role and against what exists.
    async fn validate(self, state: &AppState) -> Result<Grant, AppError> {
        let mut errors = Errors::default();
        let role = errors.take(
            self.role
                .parse::<Role>()
                .map_err(|message| domain::FieldError::new("role", "unknown_role", message)),
        );
        let customer = self
            .customer
            .as_deref()
            .and_then(|c| errors.take(validation::code("customer", c, 32)));
        let locations: Vec<LocationCode> = self
            .locations
            .iter()
            .enumerate()
            .filter_map(|(i, l)| errors.take(LocationCode::parse(&format!("locations[{i}]"), l)))
            .collect();
        let (role, customer, locations) = errors.finish(|| Some((role?, customer, locations)))?;
        let grant = Grant {
            role,
            customer,
            locations,
            scopes: self.scopes,
        }
        .validate()?;
        if let Some(customer) = &grant.customer {
            state
                .store
                .get_customer(customer)
                .await
                .map_err(|e| match e {
                    store::StoreError::NotFound { .. } => {
                        AppError::field("customer", "unknown", format!("no customer {customer}"))
                    }
                    other => other.into(),
                })?;
        }
        let known = if grant.locations.is_empty() {
            Vec::new()
        } else {
            state.store.list_locations(None, 10_000).await?
        };
        for (i, location) in grant.locations.iter().enumerate() {
            if !known.iter().any(|l| &l.code == location) {
                return Err(AppError::field(
                    &format!("locations[{i}]"),
                    "unknown",
                    format!("no location {location}"),
                ));
            }
        }
        Ok(grant)
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUserInput {
    /// 3 to 64 letters, digits, `.`, `_`, `-` or `@`.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._@-]{3,64}$"))]
    username: String,
    /// 10 to 256 characters (at most 256 bytes).
    #[schemars(length(min = 10, max = 64))]
    password: String,
    #[serde(flatten)]
    grant: GrantInput,
}

/// Checks a username: 3 to 64 letters, digits, `.`, `_`, `-` or `@`.
fn username(field: &str, value: &str) -> Result<String, AppError> {
    let ok = (3..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(AppError::field(
            field,
            "bad_format",
            format!("{field} is 3 to 64 letters, digits, '.', '_', '-' or '@'"),
        ))
    }
}

async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    extract::Json(input): extract::Json<NewUserInput>,
) -> Result<(StatusCode, Json<User>), AppError> {
    caller.may(Action::UsersManage)?;
    let name = username("username", &input.username)?;
    login::check_password("password", &input.password)?;
    let grant = input.grant.validate(&state).await?;
    let password_hash = login::hash_password(input.password).await?;
    let user = state
        .store
        .create_user(store::NewUser {
            username: name,
            password_hash,
            grant,
            now: Utc::now(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<User>>, AppError> {
    caller.may(Action::UsersManage)?;
    let limit = page.limit()?;
    let after = page.cursor(1)?.map(|mut key| key.remove(0));
    let items = state.store.list_users(after.as_deref(), limit + 1).await?;
    Ok(Json(Page::from_overfetch(items, limit, |u| {
        vec![u.username.clone()]
    })))
}

async fn disable_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<User>, AppError> {
    caller.may(Action::UsersManage)?;
    let name = username("username", &name)?;
    let user = state.store.disable_user(&name, Utc::now()).await?;
    state.tokens.forget_all();
    Ok(Json(user))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginInput {
    /// The user's name.
    username: String,
    /// The password.
    password: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Session {
    token: String,
    expires_at: DateTime<Utc>,
    user: User,
}

/// Logs in with a username and password. Wrong credentials answer 401 without saying
/// which part was wrong; after [`login::FREE_FAILURES`] failures in a row the user must
/// wait (429 with `Retry-After`), doubling each time.
async fn log_in(
    State(state): State<AppState>,
    extract::Json(input): extract::Json<LoginInput>,
) -> Result<(StatusCode, Json<Session>), AppError> {
    if input.username.len() > 64 || input.password.len() > login::MAX_PASSWORD {
        return Err(AppError::Unauthorized);
    }
    let now = Utc::now();
    let record = state.store.login_record(&input.username).await?;
    if let Some(r) = &record {
        let wait = login::lockout(r.failed_logins, r.last_failed_at, now);
        if wait > 0 {
            return Err(AppError::TooManyRequests {
                retry_after: wait,
                detail: "too many failed logins; wait before trying again".to_owned(),
            });
        }
    }
    let hash = record.as_ref().map(|r| r.password_hash.clone());
    let matched = login::verify_password(input.password, hash).await;
    let Some(record) = record.filter(|r| matched && r.user.disabled_at.is_none()) else {
        if let Ok(Some(_)) = state.store.login_record(&input.username).await {
            state.store.note_login(&input.username, false, now).await?;
        }
        return Err(AppError::Unauthorized);
    };
    state.store.note_login(&input.username, true, now).await?;
    let user = record.user;
    let expires_at = now + Duration::hours(login::SESSION_HOURS);
    let (token, info) = issue_token(
        state.store.as_ref(),
        &format!("login:{}", user.username),
        user.grant.clone(),
        Some(user.user_id),
        Some(expires_at),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Session {
            token,
            expires_at: info.expires_at.unwrap_or(expires_at),
            user,
        }),
    ))
}

/// Revokes the token the request carries.
async fn log_out(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, AppError> {
    state
        .store
        .revoke_token(caller.0.token_id, Utc::now())
        .await?;
    state.tokens.forget_all();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct Me {
    actor: String,
    token_id: i64,
    #[serde(flatten)]
    grant: Grant,
}

/// Who the token is and what it is granted.
async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        actor: caller.0.actor,
        token_id: caller.0.token_id,
        grant: caller.0.grant,
    })
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewTokenInput {
    /// What the token is for, 1 to 100 characters.
    #[schemars(with = "domain::schema::Text<100>")]
    name: String,
    /// Days until it expires, 1 to 3650; never when absent.
    #[schemars(range(min = 1, max = 3650))]
    expires_in_days: Option<i64>,
    #[serde(flatten)]
    grant: GrantInput,
}

#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct IssuedToken {
    /// The secret: shown this once, never again.
    token: String,
    token_id: i64,
    name: String,
    expires_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    grant: Grant,
}

/// Issues an API token (for an integration, a device, a script).
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    extract::Json(input): extract::Json<NewTokenInput>,
) -> Result<(StatusCode, Json<IssuedToken>), AppError> {
    caller.may(Action::TokensManage)?;
    let name = validation::text("name", &input.name, 100)?;
    let expires_at = match input.expires_in_days {
        None => None,
        Some(days) if (1..=3650).contains(&days) => Some(Utc::now() + Duration::days(days)),
        Some(_) => {
            return Err(AppError::field(
                "expires_in_days",
                "out_of_range",
                "expires_in_days is 1 to 3650",
            ));
        }
    };
    let grant = input.grant.validate(&state).await?;
    let (token, info) = issue_token(state.store.as_ref(), &name, grant, None, expires_at).await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            token,
            token_id: info.token_id,
            name: info.name,
            expires_at: info.expires_at,
            grant: info.grant,
        }),
    ))
}

/// A token as listed: everything but its hash.
#[derive(Serialize, schemars::JsonSchema)]
pub(crate) struct TokenView {
    token_id: i64,
    name: String,
    role: String,
    customer: Option<String>,
    locations: Vec<String>,
    scopes: Vec<String>,
    user_id: Option<i64>,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<TokenRecord> for TokenView {
    fn from(t: TokenRecord) -> Self {
        TokenView {
            token_id: t.token_id,
            name: t.name,
            role: t.role,
            customer: t.customer,
            locations: t.locations,
            scopes: t.scopes,
            user_id: t.user_id,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        }
    }
}

async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Page<TokenView>>, AppError> {
    caller.may(Action::TokensManage)?;
    let items = state.store.list_tokens().await?;
    Ok(Json(Page {
        items: items.into_iter().map(TokenView::from).collect(),
        next: None,
    }))
}

async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, AppError> {
    caller.may(Action::TokensManage)?;
    let id = param(
        |field, v| {
            v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                domain::FieldError::new(field, "bad_format", "id is a token id, 1 or more")
            })
        },
        "id",
        &id,
    )?;
    let token = state.store.revoke_token(id, Utc::now()).await?;
    state.tokens.forget_all();
    Ok(Json(TokenView::from(token)))
}
