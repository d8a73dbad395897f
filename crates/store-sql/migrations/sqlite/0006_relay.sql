-- Broker relays (RabbitMQ, NATS): one row per sink with its cursor in the event log and the
-- lease that lets one process at a time publish to it (docs/decisions/0007-broker-relay.md).
-- lease_until is in milliseconds since the epoch on the database's clock.
CREATE TABLE relay_sinks (
    sink          TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    last_seq      INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    holder        TEXT,
    lease_until   INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    last_error_at TEXT,
    updated_at    TEXT NOT NULL
);
