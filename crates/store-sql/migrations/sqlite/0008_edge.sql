-- An edge node's sync with HQ (docs/decisions/0009-edge-sync.md). Empty on HQ and on any
-- node that is not an edge node.

-- The one row binding this database to an HQ and a store, with the sync cursors.
CREATE TABLE edge_sync (
    edge_id         INTEGER PRIMARY KEY CHECK (edge_id = 1),
    hq              TEXT NOT NULL,
    location        TEXT NOT NULL,
    push_cursor     INTEGER NOT NULL DEFAULT 0, -- local event seq acknowledged by HQ
    stock_seq       INTEGER NOT NULL DEFAULT 0, -- HQ event seq of the store's stock stream
    catalog_seq     INTEGER NOT NULL DEFAULT 0, -- HQ event seq of the catalog stream
    bootstrapped_at TEXT,
    online          BOOLEAN NOT NULL DEFAULT FALSE,
    last_push_at    TEXT,
    last_pull_at    TEXT,
    last_sync_at    TEXT,
    last_error      TEXT,
    refused         INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL
);

-- HQ's last known on_hand of each level of the store.
CREATE TABLE edge_hq_levels (
    location TEXT NOT NULL,
    sku      TEXT NOT NULL,
    on_hand  INTEGER NOT NULL,
    PRIMARY KEY (location, sku)
);

-- Ledger rows written from HQ's figures: they are HQ's news, never pushed back.
CREATE TABLE edge_mirrored (
    movement_seq INTEGER PRIMARY KEY REFERENCES stock_movements (seq)
);
