-- The event log (transactional outbox). seq increases in commit order: SQLite has one
-- writer at a time.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    aggregate   TEXT NOT NULL,
    location    TEXT,
    sku         TEXT,
    customer    TEXT,
    occurred_at TEXT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX events_type ON events (type, seq);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
