//! Users, tokens and the audit trail: the storage side of authentication and accounting.
//!
//! A token's grant (customer, locations, scopes) is kept as JSON beside its role; tokens
//! from before users existed have none and act with their role alone. The audit trail is
//! appended under a lock so that ids are gap-free and each entry chains to the one before.

use chrono::{DateTime, NaiveDate, Utc};
use domain::auth::Grant;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};
use store::auth::{GENESIS_HASH, UserRecord, audit_hash};
use store::backup::TokenRecord;
use store::{
    AuditEntry, AuditFilter, LoginRecord, NewAudit, NewToken, NewUser, StoreError, TokenInfo, User,
    Violation,
};

use crate::core::{Core, Dialect, TxError, placeholders, retry};
use crate::rows::{from_json, to_json};

/// Columns of a token read back.
const TOKEN_COLUMNS: &str =
    "token_id, name, role, secret_hash, created_at, revoked_at, grant_json, user_id, expires_at";
/// Columns of a user read back (no secrets).
const USER_COLUMNS: &str = "user_id, username, grant_json, created_at, disabled_at";
/// Columns of an audit entry.
const AUDIT_COLUMNS: &str = "audit_id, at, actor, role, action, target, request_id, source, status, summary, prev_hash, hash";
/// Audit entries per multi-row `INSERT` (12 parameters each).
const AUDIT_ROWS_PER_INSERT: usize = 100;
/// The lock key serialising audit appends on databases with concurrent writers.
const AUDIT_LOCK: &str = "stockbook:audit_log";

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    token_id: i64,
    name: String,
    role: String,
    secret_hash: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    grant_json: Option<String>,
    user_id: Option<i64>,
    expires_at: Option<DateTime<Utc>>,
}

impl TokenRow {
    fn grant(&self) -> Result<Grant, StoreError> {
        match &self.grant_json {
            Some(json) => from_json("token grant", json),
            None => self
                .role
                .parse()
                .map(Grant::role)
                .map_err(|e: String| StoreError::Other(format!("stored token role: {e}"))),
        }
    }

    fn record(self) -> Result<TokenRecord, StoreError> {
        let grant = self.grant()?;
        Ok(TokenRecord {
            token_id: self.token_id,
            name: self.name,
            role: self.role,
            secret_hash: self.secret_hash,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
            customer: grant.customer,
            locations: grant.locations.iter().map(ToString::to_string).collect(),
            scopes: grant.scopes,
            user_id: self.user_id,
            expires_at: self.expires_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    user_id: i64,
    username: String,
    grant_json: String,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            user_id: r.user_id,
            username: r.username,
            grant: from_json("user grant", &r.grant_json)?,
            created_at: r.created_at,
            disabled_at: r.disabled_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    audit_id: i64,
    at: DateTime<Utc>,
    actor: String,
    role: String,
    action: String,
    target: String,
    request_id: String,
    source: String,
    status: i64,
    summary: String,
    prev_hash: String,
    hash: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            audit_id: r.audit_id,
            entry: NewAudit {
                at: r.at,
                actor: r.actor,
                role: r.role,
                action: r.action,
                target: r.target,
                request_id: r.request_id,
                source: r.source,
                status: u16::try_from(r.status).unwrap_or(u16::MAX),
                summary: r.summary,
            },
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

impl<DB: Dialect> Core<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> DateTime<Utc>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<DateTime<Utc>>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> NaiveDate: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<NaiveDate>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    pub(crate) async fn insert_token(&self, token: NewToken) -> Result<TokenInfo, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let (token_id,): (i64,) = sqlx::query_as(
                "INSERT INTO api_tokens (name, role, secret_hash, created_at, grant_json, user_id, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING token_id",
            )
            .bind(token.name.as_str())
            .bind(token.grant.role.as_str())
            .bind(token.secret_hash.as_str())
            .bind(crate::core::micros(token.now))
            .bind(to_json(&token.grant))
            .bind(token.user_id)
            .bind(token.expires_at.map(crate::core::micros))
            .fetch_one(&mut *tx)
            .await?;
            let username = match token.user_id {
                Some(id) => sqlx::query_as::<DB, (String,)>("SELECT username FROM users WHERE user_id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|(name,)| name),
                None => None,
            };
            tx.commit().await?;
            Ok(TokenInfo {
                token_id,
                name: token.name.clone(),
                username,
                grant: token.grant.clone(),
                expires_at: token.expires_at.map(crate::core::micros),
            })
        })
        .await
    }

    pub(crate) async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows: Vec<TokenRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY token_id"
            ))
            .fetch_all(&self.reader)
            .await?)
        })
        .await?;
        rows.into_iter().map(TokenRow::record).collect()
    }

    pub(crate) async fn revoke_token(
        &self,
        token_id: i64,
        at: DateTime<Utc>,
    ) -> Result<TokenRecord, StoreError> {
        let row = retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE token_id = $1 AND revoked_at IS NULL",
            )
            .bind(token_id)
            .bind(crate::core::micros(at))
            .execute(&mut *tx)
            .await?;
            let row: Option<TokenRow> = sqlx::query_as(&format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_id = $1"
            ))
            .bind(token_id)
            .fetch_optional(&mut *tx)
            .await?;
            let row = row.ok_or_else(|| StoreError::not_found(format!("token {token_id}")))?;
            tx.commit().await?;
            Ok(row)
        })
        .await?;
        row.record()
    }

    pub(crate) async fn find_token(
        &self,
        secret_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenInfo>, StoreError> {
        let found: Option<(TokenRow, Option<String>)> = retry::<DB, _, _, _>(|| async {
            let row: Option<TokenRow> = sqlx::query_as(
                "SELECT t.token_id, t.name, t.role, t.secret_hash, t.created_at, t.revoked_at, t.grant_json, t.user_id, t.expires_at \
                 FROM api_tokens t WHERE t.secret_hash = $1 AND t.revoked_at IS NULL",
            )
            .bind(secret_hash)
            .fetch_optional(&self.reader)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let username = match row.user_id {
                None => None,
                Some(id) => {
                    let user: Option<(String, Option<DateTime<Utc>>)> =
                        sqlx::query_as("SELECT username, disabled_at FROM users WHERE user_id = $1")
                            .bind(id)
                            .fetch_optional(&self.reader)
                            .await?;
                    match user {
                        Some((name, None)) => Some(name),
                        // A disabled (or vanished) user's tokens are dead.
                        _ => return Ok(None),
                    }
                }
            };
            Ok(Some((row, username)))
        })
        .await?;
        let Some((row, username)) = found else {
            return Ok(None);
        };
        if row.expires_at.is_some_and(|at| at <= now) {
            return Ok(None);
        }
        Ok(Some(TokenInfo {
            token_id: row.token_id,
            grant: row.grant()?,
            name: row.name,
            username,
            expires_at: row.expires_at,
        }))
    }

    pub(crate) async fn create_user(&self, user: NewUser) -> Result<User, StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let taken: Option<(i64,)> =
                sqlx::query_as("SELECT user_id FROM users WHERE username = $1")
                    .bind(user.username.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if taken.is_some() {
                return Err(StoreError::conflict(
                    "already_exists",
                    format!("user '{}' already exists", user.username),
                )
                .into());
            }
            let (user_id,): (i64,) = sqlx::query_as(
                "INSERT INTO users (username, password_hash, role, grant_json, created_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING user_id",
            )
            .bind(user.username.as_str())
            .bind(user.password_hash.as_str())
            .bind(user.grant.role.as_str())
            .bind(to_json(&user.grant))
            .bind(crate::core::micros(user.now))
            .fetch_one(&mut *tx)
            .await
            .map_err(unique_is_retry)?;
            tx.commit().await?;
            Ok(User {
                user_id,
                username: user.username.clone(),
                grant: user.grant.clone(),
                created_at: crate::core::micros(user.now),
                disabled_at: None,
            })
        })
        .await
    }

    pub(crate) async fn list_users(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<User>, StoreError> {
        let rows: Vec<UserRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE $1 IS NULL OR username > $1 ORDER BY username LIMIT $2"
            ))
            .bind(after)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
        })
        .await?;
        rows.into_iter().map(User::try_from).collect()
    }

    pub(crate) async fn disable_user(
        &self,
        username: &str,
        now: DateTime<Utc>,
    ) -> Result<User, StoreError> {
        let row: UserRow = retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let now = crate::core::micros(now);
            sqlx::query(
                "UPDATE users SET disabled_at = $2 WHERE username = $1 AND disabled_at IS NULL",
            )
            .bind(username)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let row: Option<UserRow> = sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
            ))
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
            let row = row.ok_or_else(|| StoreError::not_found(format!("user {username}")))?;
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            )
            .bind(row.user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(row)
        })
        .await?;
        User::try_from(row)
    }

    pub(crate) async fn login_record(
        &self,
        username: &str,
    ) -> Result<Option<LoginRecord>, StoreError> {
        let row: Option<(UserRow, String, i64, Option<DateTime<Utc>>)> =
            retry::<DB, _, _, _>(|| async {
                let secret: Option<(String, i64, Option<DateTime<Utc>>)> = sqlx::query_as(
                    "SELECT password_hash, failed_logins, last_failed_at FROM users WHERE username = $1",
                )
                .bind(username)
                .fetch_optional(&self.reader)
                .await?;
                let Some((hash, failed, last)) = secret else {
                    return Ok(None);
                };
                let user: UserRow = sqlx::query_as(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
                ))
                .bind(username)
                .fetch_one(&self.reader)
                .await?;
                Ok(Some((user, hash, failed, last)))
            })
            .await?;
        row.map(|(user, password_hash, failed_logins, last_failed_at)| {
            Ok(LoginRecord {
                user: User::try_from(user)?,
                password_hash,
                failed_logins,
                last_failed_at,
            })
        })
        .transpose()
    }

    pub(crate) async fn note_login(
        &self,
        username: &str,
        succeeded: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            let sql = if succeeded {
                "UPDATE users SET failed_logins = 0, last_failed_at = NULL WHERE username = $1 AND $2 IS NOT NULL"
            } else {
                "UPDATE users SET failed_logins = failed_logins + 1, last_failed_at = $2 WHERE username = $1"
            };
            sqlx::query(sql)
                .bind(username)
                .bind(crate::core::micros(now))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn append_audits(
        &self,
        entries: Vec<NewAudit>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let entries: Vec<NewAudit> = entries
            .into_iter()
            .map(|e| NewAudit {
                at: crate::core::micros(e.at),
                ..e
            })
            .collect();
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        retry::<DB, _, _, _>(|| async {
            let mut tx = DB::begin_write(&self.writer).await?;
            DB::lock_key(&mut tx, AUDIT_LOCK).await?;
            let last: Option<(i64, String)> = sqlx::query_as(
                "SELECT audit_id, hash FROM audit_log ORDER BY audit_id DESC LIMIT 1",
            )
            .fetch_optional(&mut *tx)
            .await?;
            let (mut audit_id, mut prev_hash) = match last {
                Some((id, hash)) => (id, hash),
                None => (0, GENESIS_HASH.to_owned()),
            };
            let mut stored = Vec::with_capacity(entries.len());
            for entry in &entries {
                audit_id += 1;
                let hash = audit_hash(audit_id, entry, &prev_hash);
                stored.push(AuditEntry {
                    audit_id,
                    entry: entry.clone(),
                    prev_hash: std::mem::replace(&mut prev_hash, hash.clone()),
                    hash,
                });
            }
            for chunk in stored.chunks(AUDIT_ROWS_PER_INSERT) {
                Self::insert_audits(&mut tx, chunk)
                    .await
                    .map_err(unique_is_retry)?;
            }
            tx.commit().await?;
            Ok(stored)
        })
        .await
    }

    /// Inserts audit entries with one multi-row `INSERT`.
    async fn insert_audits(
        tx: &mut Transaction<'static, DB>,
        entries: &[AuditEntry],
    ) -> Result<(), sqlx::Error> {
        let rows: Vec<String> = (0..entries.len())
            .map(|i| format!("({})", placeholders(1 + i * 12, 12)))
            .collect();
        let sql = format!(
            "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for e in entries {
            query = query
                .bind(e.audit_id)
                .bind(e.entry.at)
                .bind(e.entry.actor.as_str())
                .bind(e.entry.role.as_str())
                .bind(e.entry.action.as_str())
                .bind(e.entry.target.as_str())
                .bind(e.entry.request_id.as_str())
                .bind(e.entry.source.as_str())
                .bind(i64::from(e.entry.status))
                .bind(e.entry.summary.as_str())
                .bind(e.prev_hash.as_str())
                .bind(e.hash.as_str());
        }
        query.execute(&mut **tx).await.map(drop)
    }

    pub(crate) async fn list_audit(
        &self,
        filter: &AuditFilter,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<AuditRow> = retry::<DB, _, _, _>(|| async {
            Ok(sqlx::query_as(&format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log \
                 WHERE audit_id > $1 AND ($2 IS NULL OR actor = $2) \
                   AND ($3 IS NULL OR substr(target, 1, length($3)) = $3) \
                   AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5) \
                 ORDER BY audit_id LIMIT $6"
            ))
            .bind(after.unwrap_or(0))
            .bind(filter.actor.as_deref())
            .bind(filter.target.as_deref())
            .bind(filter.from.map(crate::core::micros))
            .bind(filter.to.map(crate::core::micros))
            .bind(limit)
            .fetch_all(&self.reader)
            .await?)
        })
        .await?;
        Ok(rows.into_iter().map(AuditEntry::from).collect())
    }

    /// Walks the audit trail checking ids, links and hashes; part of `verify`.
    pub(crate) async fn verify_audit(
        tx: &mut Transaction<'static, DB>,
        violations: &mut Vec<Violation>,
    ) -> Result<i64, TxError> {
        let rows: Vec<AuditRow> = sqlx::query_as(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY audit_id"
        ))
        .fetch_all(&mut **tx)
        .await?;
        let mut violation = |id: i64, detail: String| {
            violations.push(Violation {
                check: "audit_chain_intact",
                sku: None,
                location: None,
                detail: format!("audit entry {id}: {detail}"),
            });
        };
        let (mut expected_id, mut prev) = (1, GENESIS_HASH.to_owned());
        let count = rows.len() as i64;
        for row in rows {
            let e = AuditEntry::from(row);
            if e.audit_id != expected_id {
                violation(
                    e.audit_id,
                    format!("entries {expected_id}..{} are missing", e.audit_id - 1),
                );
            }
            if e.prev_hash != prev {
                violation(
                    e.audit_id,
                    "does not link to the entry before it (an entry was deleted or edited)"
                        .to_owned(),
                );
            }
            if audit_hash(e.audit_id, &e.entry, &e.prev_hash) != e.hash {
                violation(
                    e.audit_id,
                    "its content does not match its hash (it was edited)".to_owned(),
                );
            }
            expected_id = e.audit_id + 1;
            prev = e.hash;
        }
        Ok(count)
    }

    /// Users, tokens and the audit trail into a backup.
    pub(crate) async fn export_auth(
        tx: &mut Transaction<'static, DB>,
        write: &mut (dyn FnMut(store::BackupRecord) -> Result<(), StoreError> + Send),
    ) -> Result<(), TxError> {
        use store::BackupRecord;
        let users: Vec<(UserRow, String)> = {
            let rows: Vec<UserRow> = sqlx::query_as(&format!(
                "SELECT {USER_COLUMNS} FROM users ORDER BY user_id"
            ))
            .fetch_all(&mut **tx)
            .await?;
            let hashes: Vec<(String,)> =
                sqlx::query_as("SELECT password_hash FROM users ORDER BY user_id")
                    .fetch_all(&mut **tx)
                    .await?;
            rows.into_iter()
                .zip(hashes.into_iter().map(|(h,)| h))
                .collect()
        };
        for (row, password_hash) in users {
            write(BackupRecord::User(UserRecord {
                user: User::try_from(row)?,
                password_hash,
            }))?;
        }
        let tokens: Vec<TokenRow> = sqlx::query_as(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY token_id"
        ))
        .fetch_all(&mut **tx)
        .await?;
        for row in tokens {
            write(BackupRecord::Token(row.record()?))?;
        }
        let audit: Vec<AuditRow> = sqlx::query_as(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY audit_id"
        ))
        .fetch_all(&mut **tx)
        .await?;
        for row in audit {
            write(BackupRecord::Audit(AuditEntry::from(row)))?;
        }
        Ok(())
    }

    pub(crate) async fn restore_user(
        tx: &mut Transaction<'static, DB>,
        u: UserRecord,
    ) -> Result<(), TxError> {
        sqlx::query(
            "INSERT INTO users (user_id, username, password_hash, role, grant_json, created_at, disabled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(u.user.user_id)
        .bind(u.user.username.as_str())
        .bind(u.password_hash.as_str())
        .bind(u.user.grant.role.as_str())
        .bind(to_json(&u.user.grant))
        .bind(u.user.created_at)
        .bind(u.user.disabled_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub(crate) async fn restore_token(
        tx: &mut Transaction<'static, DB>,
        t: TokenRecord,
    ) -> Result<(), TxError> {
        let role = t
            .role
            .parse()
            .map_err(|e: String| StoreError::Other(format!("backup token role: {e}")))?;
        let grant = Grant {
            role,
            customer: t.customer,
            locations: t
                .locations
                .into_iter()
                .map(domain::ids::LocationCode::from_trusted)
                .collect(),
            scopes: t.scopes,
        };
        sqlx::query(&format!(
            "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(t.token_id)
        .bind(t.name)
        .bind(t.role)
        .bind(t.secret_hash)
        .bind(t.created_at)
        .bind(t.revoked_at)
        .bind(to_json(&grant))
        .bind(t.user_id)
        .bind(t.expires_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub(crate) async fn restore_audit(
        tx: &mut Transaction<'static, DB>,
        e: AuditEntry,
    ) -> Result<(), TxError> {
        Ok(Self::insert_audits(tx, std::slice::from_ref(&e)).await?)
    }
}

/// A racing insert of the same unique key: a fresh attempt sees the winner.
fn unique_is_retry(e: sqlx::Error) -> TxError {
    match e.as_database_error() {
        Some(db) if db.is_unique_violation() => TxError::Retry(e),
        _ => TxError::Sql(e),
    }
}
