-- Catalog, places, the stock ledger and API tokens.
CREATE TABLE locations (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('warehouse', 'store')),
    time_zone  TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE products (
    sku        TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    unit       TEXT NOT NULL,
    price      INTEGER NOT NULL CHECK (price >= 0),
    currency   TEXT NOT NULL,
    active     BOOLEAN NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE product_gtins (
    gtin     TEXT PRIMARY KEY,
    sku      TEXT NOT NULL REFERENCES products (sku),
    position INTEGER NOT NULL
);
CREATE INDEX product_gtins_sku ON product_gtins (sku, position);

CREATE TABLE stock_levels (
    location   TEXT NOT NULL REFERENCES locations (code),
    sku        TEXT NOT NULL REFERENCES products (sku),
    on_hand    INTEGER NOT NULL,
    reserved   INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    incoming   INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT,
    PRIMARY KEY (location, sku)
);
CREATE INDEX stock_levels_sku ON stock_levels (sku, location);

CREATE TABLE stock_movements (
    seq            INTEGER PRIMARY KEY,
    movement_id    TEXT NOT NULL UNIQUE,
    location       TEXT NOT NULL,
    sku            TEXT NOT NULL,
    kind           TEXT NOT NULL,
    qty            INTEGER NOT NULL,
    on_hand_delta  INTEGER NOT NULL,
    reserved_delta INTEGER NOT NULL,
    on_hand_after  INTEGER NOT NULL,
    reason         TEXT,
    occurred_at    TEXT NOT NULL,
    recorded_at    TEXT NOT NULL,
    FOREIGN KEY (location, sku) REFERENCES stock_levels (location, sku)
);
CREATE INDEX stock_movements_level ON stock_movements (location, sku, seq);

-- The ledger is append-only: history is corrected by new movements, never by edits.
CREATE TRIGGER stock_movements_no_update BEFORE UPDATE ON stock_movements
BEGIN SELECT RAISE(ABORT, 'the stock ledger is append-only'); END;
CREATE TRIGGER stock_movements_no_delete BEFORE DELETE ON stock_movements
BEGIN SELECT RAISE(ABORT, 'the stock ledger is append-only'); END;

CREATE TABLE api_tokens (
    token_id    INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
