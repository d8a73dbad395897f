//! Passwords and logins: Argon2id hashing, verification and the failed-login throttle.
//!
//! Hashes are PHC strings with Argon2id at the crate's default cost (19 MiB, 2 passes),
//! computed on the blocking pool so a login never stalls the request workers. A username
//! that does not exist costs the same as a wrong password, so timing does not tell which
//! usernames exist.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};

use crate::error::AppError;

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;
/// Longest password accepted (hashing cost grows with it).
pub const MAX_PASSWORD: usize = 256;
/// Failed logins in a row that are free; each further one doubles the wait.
pub const FREE_FAILURES: i64 = 5;
/// Longest wait after failed logins.
pub const MAX_LOCKOUT_SECS: i64 = 15 * 60;
/// How long a login token lives.
pub const SESSION_HOURS: i64 = 12;

/// Checks a new password's length, naming `field`.
pub fn check_password(field: &str, password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD || password.len() > MAX_PASSWORD {
        return Err(AppError::field(
            field,
            "bad_length",
            format!("{field} is {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        ));
    }
    Ok(())
}

/// The Argon2id PHC string of `password`, with a fresh random salt.
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt)
            .map_err(|e| AppError::Internal(format!("no randomness: {e}")))?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::Internal(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| AppError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

/// A PHC string no password matches, verified against when the username is unknown.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3RvY2tib29rZGVjb3k$0b3OJzv6P4Py8ZmMtn7gbd1Jxm7NbB0/5H2yh/BYrgE";

/// Whether `password` matches `hash` (or the decoy, when `hash` is `None`); constant-time in
/// the password, and costs the same either way.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| DECOY.to_owned());
    let matched = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false);
    known && matched
}

/// Seconds a user must wait before the next login attempt, after `failed` failures in a
/// row, the last at `last`; 0 when it may try now.
pub fn lockout(failed: i64, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> u64 {
    let Some(last) = last else { return 0 };
    if failed < FREE_FAILURES {
        return 0;
    }
    let wait = 1i64
        .checked_shl(u32::try_from(failed - FREE_FAILURES).unwrap_or(31).min(30))
        .unwrap_or(MAX_LOCKOUT_SECS)
        .min(MAX_LOCKOUT_SECS);
    let waited = (now - last).num_seconds();
    u64::try_from(wait - waited).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), Some(hash.clone())).await);
        assert!(!verify_password("wrong horse!".into(), Some(hash)).await);
        assert!(!verify_password("correct horse".into(), None).await);
        assert!(
            PasswordHash::new(DECOY).is_ok(),
            "the decoy costs a real verification"
        );
    }

    #[test]
    fn the_wait_doubles_after_five_failures_and_is_capped() {
        let now = Utc::now();
        assert_eq!(lockout(4, Some(now), now), 0);
        assert_eq!(lockout(5, Some(now), now), 1);
        assert_eq!(lockout(7, Some(now), now), 4);
        assert_eq!(lockout(60, Some(now), now), MAX_LOCKOUT_SECS as u64);
        assert_eq!(
            lockout(7, Some(now - chrono::Duration::seconds(10)), now),
            0
        );
    }
}
