-- Stores: pack GTINs, devices, POS sales and returns, RFID tags, cycle counts, transfers
-- (docs/stores.md).

-- A pack's own GTIN (a case of 12): scanning it means `factor` base units.
ALTER TABLE product_packs ADD COLUMN gtin TEXT;
CREATE UNIQUE INDEX product_packs_gtin ON product_packs (gtin);

CREATE TABLE devices (
    device_id   TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('pos', 'rfid')),
    location    TEXT NOT NULL REFERENCES locations (code),
    name        TEXT NOT NULL,
    token_id    INTEGER NOT NULL REFERENCES api_tokens (token_id),
    created_at  TEXT NOT NULL,
    disabled_at TEXT
);
CREATE INDEX devices_location ON devices (location, device_id);

-- A sale or a return, with the receipt first answered (a replay answers it again).
-- original_sale_id has no foreign key, so restore need not order sales.
CREATE TABLE pos_sales (
    sale_id          TEXT PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('sale', 'return')),
    location         TEXT NOT NULL REFERENCES locations (code),
    original_sale_id TEXT,
    request_hash     TEXT NOT NULL,
    occurred_at      TEXT NOT NULL,
    recorded_at      TEXT NOT NULL,
    receipt          TEXT NOT NULL
);
CREATE INDEX pos_sales_original ON pos_sales (original_sale_id);

CREATE TABLE pos_sale_lines (
    sale_id      TEXT NOT NULL REFERENCES pos_sales (sale_id),
    line_no      INTEGER NOT NULL,
    sku          TEXT NOT NULL REFERENCES products (sku),
    qty          INTEGER NOT NULL,
    unit_price   INTEGER NOT NULL,
    line_total   INTEGER NOT NULL,
    returned_qty INTEGER NOT NULL DEFAULT 0 CHECK (returned_qty >= 0 AND returned_qty <= qty),
    PRIMARY KEY (sale_id, line_no)
);

-- Tags seen per location: accepted_at is the last read that counted (the de-duplication
-- window is measured from it).
CREATE TABLE rfid_tags (
    location      TEXT NOT NULL REFERENCES locations (code),
    epc           TEXT NOT NULL,
    gtin          TEXT NOT NULL,
    serial        TEXT NOT NULL,
    reader        TEXT NOT NULL,
    antenna       INTEGER,
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    accepted_at   TEXT,
    PRIMARY KEY (location, epc)
);
CREATE INDEX rfid_tags_gtin ON rfid_tags (location, gtin);

CREATE TABLE counts (
    count_id  TEXT PRIMARY KEY,
    location  TEXT NOT NULL REFERENCES locations (code),
    status    TEXT NOT NULL CHECK (status IN ('open', 'approved', 'cancelled')),
    skus      TEXT,
    opened_by TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    closed_by TEXT,
    closed_at TEXT
);
-- At most one open count per location: reads and scans know which count they feed.
CREATE UNIQUE INDEX counts_one_open ON counts (location) WHERE status = 'open';

CREATE TABLE count_lines (
    count_id         TEXT NOT NULL REFERENCES counts (count_id),
    sku              TEXT NOT NULL REFERENCES products (sku),
    in_scope         BOOLEAN NOT NULL,
    expected_at_open BOOLEAN NOT NULL,
    expected         INTEGER NOT NULL,
    scanned          INTEGER NOT NULL DEFAULT 0,
    rfid             INTEGER NOT NULL DEFAULT 0,
    book             INTEGER,
    counted_at       TEXT,
    correction       INTEGER,
    PRIMARY KEY (count_id, sku)
);

CREATE TABLE count_tags (
    count_id TEXT NOT NULL REFERENCES counts (count_id),
    epc      TEXT NOT NULL,
    gtin     TEXT NOT NULL,
    sku      TEXT REFERENCES products (sku),
    PRIMARY KEY (count_id, epc)
);

CREATE TABLE count_batches (
    count_id TEXT NOT NULL REFERENCES counts (count_id),
    batch_id TEXT NOT NULL,
    PRIMARY KEY (count_id, batch_id)
);

-- Lines are JSON (the transfer row is locked for every change of them); incoming at a
-- location is the sum over transfers in transit to it, which verify checks.
CREATE TABLE transfers (
    transfer_id   TEXT PRIMARY KEY,
    from_location TEXT NOT NULL REFERENCES locations (code),
    to_location   TEXT NOT NULL REFERENCES locations (code),
    status        TEXT NOT NULL CHECK (status IN ('open', 'shipped', 'received')),
    lines         TEXT NOT NULL,
    note          TEXT,
    request_hash  TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    shipped_by    TEXT,
    shipped_at    TEXT,
    received_by   TEXT,
    received_at   TEXT
);
CREATE INDEX transfers_from ON transfers (from_location, transfer_id);
CREATE INDEX transfers_to ON transfers (to_location, transfer_id);
