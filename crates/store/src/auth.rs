//! Users, API tokens and the audit trail, as the store keeps them.
//!
//! Passwords and token secrets never reach the store: it keeps an Argon2id PHC string for a
//! password and a SHA-256 hash for a token. The audit trail is a hash chain: each entry's
//! [`AuditEntry::hash`] covers its fields and the previous entry's hash, so `verify` finds
//! an edited entry (its hash no longer matches) and a deleted one (the next entry's
//! `prev_hash` no longer matches, or an id is missing).

use chrono::{DateTime, Utc};
use domain::auth::{Grant, Principal};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A token to store: what it grants and the hash of its secret.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Human label, e.g. `erp-prod` or `login:alice`.
    pub name: String,
    /// What it may do.
    pub grant: Grant,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// The user it was issued to at login, if any; disabling the user kills it.
    pub user_id: Option<i64>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was issued.
    pub now: DateTime<Utc>,
}

impl NewToken {
    /// A token bound to no user and never expiring, e.g. one issued on the command line.
    pub fn new(name: &str, grant: Grant, secret_hash: &str, now: DateTime<Utc>) -> Self {
        Self {
            name: name.to_owned(),
            grant,
            secret_hash: secret_hash.to_owned(),
            user_id: None,
            expires_at: None,
            now,
        }
    }
}

/// A live token, as authentication sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Internal id.
    pub token_id: i64,
    /// Human label given at issue time.
    pub name: String,
    /// The user it belongs to, if it came from a login.
    pub username: Option<String>,
    /// What it may do.
    pub grant: Grant,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

impl TokenInfo {
    /// The principal a request with this token acts as.
    pub fn principal(&self) -> Principal {
        Principal {
            token_id: self.token_id,
            actor: self.username.clone().unwrap_or_else(|| self.name.clone()),
            grant: self.grant.clone(),
        }
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Unique login name.
    pub username: String,
    /// Argon2id PHC string of the password.
    pub password_hash: String,
    /// What the user may do.
    pub grant: Grant,
    /// Creation time.
    pub now: DateTime<Utc>,
}

/// A user as listed (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct User {
    /// Internal id.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// What the user may do.
    #[serde(flatten)]
    pub grant: Grant,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was disabled; a disabled user cannot log in and its tokens stop working.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// What a login checks: the user, its password hash and its recent failures.
#[derive(Debug, Clone)]
pub struct LoginRecord {
    /// The user.
    pub user: User,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Failed attempts since the last success.
    pub failed_logins: i64,
    /// When the last attempt failed.
    pub last_failed_at: Option<DateTime<Utc>>,
}

/// A user in a backup, with its password hash so logins survive a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct UserRecord {
    /// The user.
    #[serde(flatten)]
    pub user: User,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// One mutating request, as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct NewAudit {
    /// When the request finished.
    pub at: DateTime<Utc>,
    /// Who made it: a username, a token name, or `anonymous`.
    pub actor: String,
    /// The role it acted with (empty when unauthenticated).
    pub role: String,
    /// What it did: the method and the route, e.g. `POST /api/v1/orders/{id}/approve`.
    pub action: String,
    /// What it acted on: the request path, e.g. `/api/v1/orders/SO-1/approve`.
    pub target: String,
    /// The request id (also in the logs and in any error body).
    pub request_id: String,
    /// The client's address, when known.
    pub source: String,
    /// The HTTP status answered.
    pub status: u16,
    /// What changed: the request body with secrets masked, shortened.
    pub summary: String,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub struct AuditEntry {
    /// Position in the trail: 1, 2, 3, … with no gaps.
    pub audit_id: i64,
    /// The request.
    #[serde(flatten)]
    pub entry: NewAudit,
    /// The previous entry's hash (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over `prev_hash` and every field of this entry, hex.
    pub hash: String,
}

/// The hash before the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of an entry: SHA-256 over the previous hash and each field, every field
/// length-prefixed so that no two different entries hash the same text.
pub fn audit_hash(audit_id: i64, entry: &NewAudit, prev_hash: &str) -> String {
    let mut hasher = Sha256::new();
    let at = entry
        .at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let status = entry.status.to_string();
    let id = audit_id.to_string();
    for field in [
        prev_hash,
        &id,
        &at,
        &entry.actor,
        &entry.role,
        &entry.action,
        &entry.target,
        &entry.request_id,
        &entry.source,
        &status,
        &entry.summary,
    ] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Filter of an audit listing.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only targets starting with this path.
    pub target: Option<String>,
    /// Only entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only entries before this time.
    pub to: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> NewAudit {
        NewAudit {
            at: Utc::now(),
            actor: "alice".into(),
            role: "admin".into(),
            action: "POST /api/v1/users".into(),
            target: "/api/v1/users".into(),
            request_id: "r1".into(),
            source: "127.0.0.1".into(),
            status: 201,
            summary: "{}".into(),
        }
    }

    #[test]
    fn any_change_to_an_entry_changes_its_hash() {
        let e = entry();
        let h = audit_hash(1, &e, GENESIS_HASH);
        assert_eq!(h.len(), 64);
        assert_eq!(h, audit_hash(1, &e, GENESIS_HASH));
        assert_ne!(h, audit_hash(2, &e, GENESIS_HASH));
        assert_ne!(h, audit_hash(1, &e, &h));
        let mut edited = e.clone();
        edited.status = 200;
        assert_ne!(h, audit_hash(1, &edited, GENESIS_HASH));
        // Moving text between fields must not collide.
        let (mut a, mut b) = (e.clone(), e);
        a.actor = "ab".into();
        a.role = "c".into();
        b.actor = "a".into();
        b.role = "bc".into();
        assert_ne!(
            audit_hash(1, &a, GENESIS_HASH),
            audit_hash(1, &b, GENESIS_HASH)
        );
    }
}
