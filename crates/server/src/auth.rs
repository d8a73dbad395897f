//! Bearer tokens: generated here, shown once, stored only as a SHA-256 hash.
//!
//! A token is 32 random bytes, so a fast hash is enough (there is nothing to brute-force that
//! a slow hash would protect); lookups go by hash, so the secret never sits in the database.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use domain::auth::{Action, Denied, Grant, Principal, Reach, Target, Visible};
use domain::ids::LocationCode;
use domain::order::Order;
use sha2::{Digest, Sha256};
use store::{NewToken, TokenInfo};

use crate::AppState;
use crate::error::AppError;

/// Prefix of every token, so a leaked one is recognisable in logs and secret scanners.
pub const TOKEN_PREFIX: &str = "sb_";

/// A new random token secret.
pub fn generate_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", hex(&bytes)))
}

/// Issues a token: a fresh secret, stored by its hash. Returns the secret (shown once, never
/// stored) and what was stored.
pub async fn issue_token(
    store: &dyn store::Store,
    name: &str,
    grant: Grant,
    user_id: Option<i64>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(String, TokenInfo), store::StoreError> {
    let secret =
        generate_token().map_err(|e| store::StoreError::Other(format!("no randomness: {e}")))?;
    let info = store
        .insert_token(NewToken {
            user_id,
            expires_at,
            ..NewToken::new(name, grant, &hash_token(&secret), Utc::now())
        })
        .await?;
    Ok((secret, info))
}

/// The hash a token is stored and looked up by.
pub fn hash_token(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How long a looked-up token is trusted without asking the database again. A revoked
/// token stops working within this time.
pub const TOKEN_TTL: Duration = Duration::from_secs(10);
/// Most tokens kept; past this the cache starts over (it is only a shortcut).
const MAX_CACHED: usize = 10_000;

/// Recently seen tokens, so that a request does not cost a database query to
/// authenticate. Only known tokens are kept; an unknown one is asked about every time.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (TokenInfo, Instant)>>,
}

impl TokenCache {
    /// The token with this hash: from the cache while fresh, else from the store.
    pub async fn lookup(
        &self,
        store: &dyn store::Store,
        hash: &str,
    ) -> Result<Option<TokenInfo>, store::StoreError> {
        let now = Utc::now();
        if let Some((info, at)) = self.lock().get(hash)
            && at.elapsed() < TOKEN_TTL
            && info.expires_at.is_none_or(|expiry| expiry > now)
        {
            return Ok(Some(info.clone()));
        }
        let found = store.find_token(hash, now).await?;
        let mut entries = self.lock();
        match &found {
            Some(info) => {
                if entries.len() >= MAX_CACHED {
                    entries.clear();
                }
                entries.insert(hash.to_owned(), (info.clone(), Instant::now()));
            }
            None => {
                entries.remove(hash);
            }
        }
        Ok(found)
    }

    /// Forgets every cached token, so a revocation on this node takes effect at once (other
    /// nodes notice within [`TOKEN_TTL`]).
    pub fn forget_all(&self) {
        self.lock().clear();
    }

    /// Forgets a token at once (it was just revoked), so this node stops accepting it
    /// without waiting for [`TOKEN_TTL`]; other nodes still may until then.
    pub fn forget(&self, token_id: i64) {
        self.lock().retain(|_, (info, _)| info.token_id != token_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (TokenInfo, Instant)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The caller, authenticated by `Authorization: Bearer <token>`.
///
/// Handlers ask it what the caller may do; every answer comes from the permission table
/// in [`domain::auth::permission`]. A refusal is a 403 naming the action or the location,
/// except that another customer's resource answers 404, as if it did not exist.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Caller {
    /// The caller may do `action` somewhere (a list is then narrowed with [`Self::visible`]).
    pub fn may(&self, action: Action) -> Result<(), AppError> {
        self.0.reach(action).map(drop).map_err(AppError::from)
    }

    /// The caller may do `action` everywhere, not only at its locations or for its customer.
    pub fn everywhere(&self, action: Action) -> Result<(), AppError> {
        match self.0.reach(action)? {
            Reach::All => Ok(()),
            _ => Err(AppError::Forbidden(Denied::Action {
                role: self.0.grant.role,
                action,
            })),
        }
    }

    /// The caller may do `action` at `location`.
    pub fn at(&self, action: Action, location: &LocationCode) -> Result<(), AppError> {
        Ok(self.0.check(action, Target::Location(location))?)
    }

    /// The caller may do `action` on `customer`'s resources; another customer's are not
    /// found (`what` names the resource in the 404).
    pub fn for_customer(&self, action: Action, customer: &str, what: &str) -> Result<(), AppError> {
        self.0
            .check(action, Target::Customer(customer))
            .map_err(|denied| hide_other_customer(denied, what))
    }

    /// The caller may do `action` on `order`.
    pub fn on_order(&self, action: Action, order: &Order) -> Result<(), AppError> {
        self.0
            .check(
                action,
                Target::Order {
                    customer: &order.customer,
                    location: &order.location,
                },
            )
            .map_err(|denied| hide_other_customer(denied, &format!("order {}", order.id)))
    }

    /// What of a list the caller may see.
    pub fn visible(&self, action: Action) -> Result<Visible<'_>, AppError> {
        Ok(self.0.visible(action)?)
    }
}

fn hide_other_customer(denied: Denied, what: &str) -> AppError {
    match denied {
        Denied::Customer => AppError::NotFound(format!("{what} not found")),
        other => AppError::Forbidden(other),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        // Already authenticated by the route's guard (`openapi::Routes::op`).
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| t.starts_with(TOKEN_PREFIX) && t.len() < 256)
            .ok_or(AppError::Unauthorized)?;
        let token = state
            .tokens
            .lookup(state.store.as_ref(), &hash_token(secret))
            .await?
            .ok_or(AppError::Unauthorized)?;
        state.limits.take(token.token_id)?;
        let principal = token.principal();
        if let Some(slot) = parts.extensions.get::<crate::audit::AuditSlot>() {
            slot.set(&principal);
        }
        Ok(Caller(principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hash_stably() {
        let (a, b) = (generate_token().unwrap(), generate_token().unwrap());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
    }
}
