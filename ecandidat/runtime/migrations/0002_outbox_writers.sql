-- The relay no longer orders by the server's oldest transaction (`txid < pg_snapshot_xmin`), which
-- any long transaction of any database held back, nor is it woken by NOTIFY, whose cluster-wide
-- lock made every commit of the server wait for the previous one to be flushed.
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();
ALTER TABLE outbox DROP COLUMN txid;  -- only the old ordering used it

-- What the relay needs to know which rows are final: the last `seq` handed out, then the
-- transactions still writing to this outbox (an INSERT holds RowExclusiveLock on the table from
-- before it takes its `seq` until its transaction ends). Once every transaction of that list has
-- ended, no row with a `seq` up to `last_seq` can still appear. Read in this order, in one call.
CREATE FUNCTION outbox_writers(OUT last_seq bigint, OUT writers text[]) LANGUAGE plpgsql AS $$
BEGIN
    last_seq := coalesce(pg_sequence_last_value(pg_get_serial_sequence('outbox', 'seq')::regclass), 0);
    SELECT coalesce(array_agg(DISTINCT l.virtualtransaction), '{}') INTO writers
      FROM pg_locks l
     WHERE l.locktype = 'relation'
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.relation = 'outbox'::regclass
       AND l.mode = 'RowExclusiveLock'
       AND l.pid IS DISTINCT FROM pg_backend_pid();
END $$;
