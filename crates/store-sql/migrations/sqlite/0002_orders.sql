-- Ordering: pack units, customers, prices, orders with their lines, timeline, shipments
-- and idempotency keys.
ALTER TABLE products ADD COLUMN min_order_qty INTEGER NOT NULL DEFAULT 1;
ALTER TABLE products ADD COLUMN order_multiple INTEGER NOT NULL DEFAULT 1;

CREATE TABLE product_packs (
    sku      TEXT NOT NULL REFERENCES products (sku),
    unit     TEXT NOT NULL,
    factor   INTEGER NOT NULL CHECK (factor >= 2),
    position INTEGER NOT NULL,
    PRIMARY KEY (sku, unit)
);

CREATE TABLE price_lists (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    currency   TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE customers (
    code         TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    price_tier   TEXT,
    credit_limit INTEGER CHECK (credit_limit >= 0),
    auto_confirm BOOLEAN NOT NULL,
    contacts     TEXT NOT NULL,
    ship_to      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- A rule belongs either to a price list (tier) or to one customer.
CREATE TABLE price_rules (
    price_rule_id INTEGER PRIMARY KEY,
    price_list    TEXT REFERENCES price_lists (code),
    customer      TEXT REFERENCES customers (code),
    sku           TEXT NOT NULL REFERENCES products (sku),
    min_qty       INTEGER NOT NULL CHECK (min_qty >= 1),
    unit_price    INTEGER NOT NULL CHECK (unit_price >= 0),
    valid_from    TEXT,
    valid_to      TEXT,
    CHECK ((price_list IS NULL) <> (customer IS NULL))
);
CREATE INDEX price_rules_list ON price_rules (price_list, sku);
CREATE INDEX price_rules_customer ON price_rules (customer, sku);

-- SQLite has no sequences; order numbers come from this counter (writers are serial).
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('order_number', 0);

CREATE TABLE orders (
    order_id       TEXT PRIMARY KEY,
    order_seq      INTEGER NOT NULL UNIQUE,
    number         TEXT NOT NULL UNIQUE,
    customer       TEXT NOT NULL REFERENCES customers (code),
    location       TEXT NOT NULL REFERENCES locations (code),
    status         TEXT NOT NULL,
    version        INTEGER NOT NULL,
    credit_hold    BOOLEAN NOT NULL,
    currency       TEXT NOT NULL,
    total          INTEGER NOT NULL,
    ship_to        TEXT,
    note           TEXT,
    requested_date TEXT,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX orders_customer ON orders (customer, order_seq);
CREATE INDEX orders_status ON orders (status, order_seq);

CREATE TABLE order_lines (
    order_id        TEXT NOT NULL REFERENCES orders (order_id),
    line_no         INTEGER NOT NULL,
    sku             TEXT NOT NULL REFERENCES products (sku),
    unit            TEXT NOT NULL,
    unit_factor     INTEGER NOT NULL,
    qty             INTEGER NOT NULL,
    base_qty        INTEGER NOT NULL,
    unit_price      INTEGER NOT NULL,
    base_unit_price INTEGER NOT NULL,
    price_source    TEXT NOT NULL,
    line_total      INTEGER NOT NULL,
    reserved_qty    INTEGER NOT NULL CHECK (reserved_qty >= 0),
    shipped_qty     INTEGER NOT NULL CHECK (shipped_qty >= 0),
    returned_qty    INTEGER NOT NULL CHECK (returned_qty >= 0),
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_sku ON order_lines (sku, order_id);

CREATE TABLE order_events (
    order_id    TEXT NOT NULL REFERENCES orders (order_id),
    event_no    INTEGER NOT NULL,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT,
    detail      TEXT,
    PRIMARY KEY (order_id, event_no)
);

CREATE TABLE shipments (
    order_id        TEXT NOT NULL REFERENCES orders (order_id),
    shipment_no     INTEGER NOT NULL,
    carrier         TEXT,
    tracking_number TEXT,
    shipped_at      TEXT NOT NULL,
    lines           TEXT NOT NULL,
    PRIMARY KEY (order_id, shipment_no)
);

CREATE TABLE idempotency_keys (
    idempotency_key TEXT PRIMARY KEY,
    request_hash    TEXT NOT NULL,
    order_id        TEXT NOT NULL REFERENCES orders (order_id),
    created_at      TEXT NOT NULL
);
