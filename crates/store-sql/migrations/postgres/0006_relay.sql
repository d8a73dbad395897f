-- Broker relays (RabbitMQ, NATS): one row per sink with its cursor in the event log and the
-- lease that lets one node at a time publish to it (docs/decisions/0007-broker-relay.md).
-- lease_until is in milliseconds since the epoch on the database's clock, so nodes with
-- skewed clocks still agree on who holds a lease.
CREATE TABLE relay_sinks (
    sink          TEXT COLLATE "C" PRIMARY KEY,
    kind          TEXT COLLATE "C" NOT NULL,
    last_seq      BIGINT NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    holder        TEXT COLLATE "C",
    lease_until   BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT,
    last_error_at TIMESTAMPTZ,
    updated_at    TIMESTAMPTZ NOT NULL
);
