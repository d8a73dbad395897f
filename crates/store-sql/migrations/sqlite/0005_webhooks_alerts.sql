-- Low-stock thresholds, alerts, webhook subscriptions with their delivery log, and leases
-- (which node works for which subscription). See docs/decisions/0006-webhook-delivery.md.
CREATE TABLE stock_thresholds (
    location   TEXT NOT NULL REFERENCES locations (code),
    sku        TEXT NOT NULL REFERENCES products (sku),
    low_stock  INTEGER NOT NULL CHECK (low_stock >= 0),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (location, sku)
);

CREATE TABLE alerts (
    alert_id        INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    alert_key       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('open', 'acknowledged')),
    location        TEXT,
    sku             TEXT,
    message         TEXT NOT NULL,
    detail          TEXT NOT NULL,
    raised_at       TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT
);
-- At most one open alert per kind and key: raising it again is INSERT … ON CONFLICT DO NOTHING.
CREATE UNIQUE INDEX alerts_open_key ON alerts (kind, alert_key) WHERE state = 'open';
CREATE INDEX alerts_state ON alerts (state, alert_id);

-- AUTOINCREMENT: the id of a deleted subscription is never given to a new one.
CREATE TABLE webhooks (
    webhook_id           INTEGER PRIMARY KEY AUTOINCREMENT,
    url                  TEXT NOT NULL,
    event_types          TEXT NOT NULL,
    description          TEXT,
    secret               TEXT NOT NULL,
    enabled              BOOLEAN NOT NULL,
    disabled_reason      TEXT,
    delivered_seq        INTEGER NOT NULL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing_since        TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    delivery_id  INTEGER PRIMARY KEY,
    webhook_id   INTEGER NOT NULL REFERENCES webhooks (webhook_id) ON DELETE CASCADE,
    event_seq    INTEGER NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    manual       BOOLEAN NOT NULL,
    attempted_at TEXT NOT NULL,
    status_code  INTEGER,
    error        TEXT,
    duration_ms  INTEGER NOT NULL,
    ok           BOOLEAN NOT NULL
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, delivery_id);

-- Who works for what until when: a node holds a lease while it renews it in time.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
