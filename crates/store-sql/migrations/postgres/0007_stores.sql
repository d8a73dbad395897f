-- Stores: pack GTINs, devices, POS sales and returns, RFID tags, cycle counts, transfers
-- (docs/stores.md).

-- A pack's own GTIN (a case of 12): scanning it means `factor` base units.
ALTER TABLE product_packs ADD COLUMN gtin TEXT COLLATE "C";
CREATE UNIQUE INDEX product_packs_gtin ON product_packs (gtin);

CREATE TABLE devices (
    device_id   TEXT COLLATE "C" PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('pos', 'rfid')),
    location    TEXT COLLATE "C" NOT NULL REFERENCES locations (code),
    name        TEXT NOT NULL,
    token_id    BIGINT NOT NULL REFERENCES api_tokens (token_id),
    created_at  TIMESTAMPTZ NOT NULL,
    disabled_at TIMESTAMPTZ
);
CREATE INDEX devices_location ON devices (location, device_id);

-- A sale or a return, with the receipt first answered (a replay answers it again).
-- original_sale_id has no foreign key, so restore need not order sales.
CREATE TABLE pos_sales (
    sale_id          TEXT COLLATE "C" PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('sale', 'return')),
    location         TEXT COLLATE "C" NOT NULL REFERENCES locations (code),
    original_sale_id TEXT COLLATE "C",
    request_hash     TEXT NOT NULL,
    occurred_at      TIMESTAMPTZ NOT NULL,
    recorded_at      TIMESTAMPTZ NOT NULL,
    receipt          TEXT NOT NULL
);
CREATE INDEX pos_sales_original ON pos_sales (original_sale_id);

CREATE TABLE pos_sale_lines (
    sale_id      TEXT COLLATE "C" NOT NULL REFERENCES pos_sales (sale_id),
    line_no      BIGINT NOT NULL,
    sku          TEXT COLLATE "C" NOT NULL REFERENCES products (sku),
    qty          BIGINT NOT NULL,
    unit_price   BIGINT NOT NULL,
    line_total   BIGINT NOT NULL,
    returned_qty BIGINT NOT NULL DEFAULT 0 CHECK (returned_qty >= 0 AND returned_qty <= qty),
    PRIMARY KEY (sale_id, line_no)
);

-- Tags seen per location: accepted_at is the last read that counted (the de-duplication
-- window is measured from it).
CREATE TABLE rfid_tags (
    location      TEXT COLLATE "C" NOT NULL REFERENCES locations (code),
    epc           TEXT COLLATE "C" NOT NULL,
    gtin          TEXT COLLATE "C" NOT NULL,
    serial        TEXT COLLATE "C" NOT NULL,
    reader        TEXT COLLATE "C" NOT NULL,
    antenna       BIGINT,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    accepted_at   TIMESTAMPTZ,
    PRIMARY KEY (location, epc)
);
CREATE INDEX rfid_tags_gtin ON rfid_tags (location, gtin);

CREATE TABLE counts (
    count_id  TEXT COLLATE "C" PRIMARY KEY,
    location  TEXT COLLATE "C" NOT NULL REFERENCES locations (code),
    status    TEXT NOT NULL CHECK (status IN ('open', 'approved', 'cancelled')),
    skus      TEXT,
    opened_by TEXT NOT NULL,
    opened_at TIMESTAMPTZ NOT NULL,
    closed_by TEXT,
    closed_at TIMESTAMPTZ
);
-- At most one open count per location: reads and scans know which count they feed.
CREATE UNIQUE INDEX counts_one_open ON counts (location) WHERE status = 'open';

CREATE TABLE count_lines (
    count_id         TEXT COLLATE "C" NOT NULL REFERENCES counts (count_id),
    sku              TEXT COLLATE "C" NOT NULL REFERENCES products (sku),
    in_scope         BOOLEAN NOT NULL,
    expected_at_open BOOLEAN NOT NULL,
    expected         BIGINT NOT NULL,
    scanned          BIGINT NOT NULL DEFAULT 0,
    rfid             BIGINT NOT NULL DEFAULT 0,
    book             BIGINT,
    counted_at       TIMESTAMPTZ,
    correction       BIGINT,
    PRIMARY KEY (count_id, sku)
);

CREATE TABLE count_tags (
    count_id TEXT COLLATE "C" NOT NULL REFERENCES counts (count_id),
    epc      TEXT COLLATE "C" NOT NULL,
    gtin     TEXT COLLATE "C" NOT NULL,
    sku      TEXT COLLATE "C" REFERENCES products (sku),
    PRIMARY KEY (count_id, epc)
);

CREATE TABLE count_batches (
    count_id TEXT COLLATE "C" NOT NULL REFERENCES counts (count_id),
    batch_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (count_id, batch_id)
);

-- Lines are JSON (the transfer row is locked for every change of them); incoming at a
-- location is the sum over transfers in transit to it, which verify checks.
CREATE TABLE transfers (
    transfer_id   TEXT COLLATE "C" PRIMARY KEY,
    from_location TEXT COLLATE "C" NOT NULL REFERENCES locations (code),
    to_location   TEXT COLLATE "C" NOT NULL REFERENCES locations (code),
    status        TEXT NOT NULL CHECK (status IN ('open', 'shipped', 'received')),
    lines         TEXT NOT NULL,
    note          TEXT,
    request_hash  TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    shipped_by    TEXT,
    shipped_at    TIMESTAMPTZ,
    received_by   TEXT,
    received_at   TIMESTAMPTZ
);
CREATE INDEX transfers_from ON transfers (from_location, transfer_id);
CREATE INDEX transfers_to ON transfers (to_location, transfer_id);
