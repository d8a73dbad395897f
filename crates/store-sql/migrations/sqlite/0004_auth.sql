-- Users, bound tokens and the hash-chained audit trail (docs/security.md).
CREATE TABLE users (
    user_id        INTEGER PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    grant_json     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    disabled_at    TEXT,
    failed_logins  INTEGER NOT NULL DEFAULT 0,
    last_failed_at TEXT
);

-- What a token is bound to beyond its role (customer, locations, scopes), its owner and
-- its expiry. Tokens from before this migration keep a NULL grant: their role alone.
ALTER TABLE api_tokens ADD COLUMN grant_json TEXT;
ALTER TABLE api_tokens ADD COLUMN user_id INTEGER REFERENCES users (user_id);
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- audit_id is assigned as the previous id + 1 by the single writer, so the trail has no
-- gaps; hash = SHA-256(prev_hash, fields) (store::auth::audit_hash).
CREATE TABLE audit_log (
    audit_id   INTEGER PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    role       TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    request_id TEXT NOT NULL,
    source     TEXT NOT NULL,
    status     INTEGER NOT NULL,
    summary    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, audit_id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
