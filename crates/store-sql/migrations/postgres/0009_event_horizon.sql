-- The event log without a global lock through commit (decision 0011, replacing 0005).
--
-- Writers take numbers from the identity sequence in the order they append and may commit
-- in another order. Each appending transaction first takes a SHARED advisory lock on
-- (7415, the events table's oid), held until it ends: appenders never wait for each other, and the lock marks
-- them in pg_locks. A reader asks this function for the horizon, the highest number up to
-- which every event is committed or rolled back, and reads only up to it.
--
-- Why it holds: a transaction holding number s took the lock before taking s. The horizon
-- is the sequence's last value, read first; every transaction holding a number up to it
-- took the lock before that read, so it is among the lock holders listed next, unless it
-- has already ended. Waiting until all of those have released the lock (which happens
-- only after their commit is visible) settles every number up to the horizon. The
-- sequence must keep CACHE 1 (the default), so that its last value is the last number
-- handed out by any session.
--
-- Only appenders are waited for, never other long transactions, and only those of this
-- event log (advisory locks are per database, and the key names the table, so schemas of
-- one database do not wait for each other). Returns NULL when they have not all ended
-- after wait_ms; the caller then has nothing new to read yet.
CREATE FUNCTION stockbook_event_horizon(wait_ms integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    horizon bigint;
    appending text[];
    give_up timestamptz := clock_timestamp() + wait_ms * interval '1 millisecond';
BEGIN
    SELECT CASE WHEN s.is_called THEN s.last_value ELSE s.last_value - 1 END
      INTO horizon FROM events_seq_seq AS s;
    -- A new statement: pg_locks is read after the sequence.
    SELECT array_agg(l.virtualtransaction) INTO appending FROM pg_locks AS l
     WHERE l.locktype = 'advisory' AND l.classid = 7415 AND l.objid = 'events'::regclass AND l.objsubid = 2
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database());
    WHILE appending IS NOT NULL LOOP
        IF clock_timestamp() > give_up THEN
            RETURN NULL;
        END IF;
        PERFORM pg_sleep(0.0005);
        SELECT array_agg(l.virtualtransaction) INTO appending FROM pg_locks AS l
         WHERE l.locktype = 'advisory' AND l.classid = 7415 AND l.objid = 'events'::regclass AND l.objsubid = 2
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.virtualtransaction = ANY (appending);
    END LOOP;
    RETURN horizon;
END
$$;
