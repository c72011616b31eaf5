-- The Postgres analysis queue gets its own name: `signal_events` is the DuckDB detection output.
-- Numbered after every migration that names the old table (030 and 040 reference it), so a fresh
-- database applies them first; later migrations on the queue use `analysis_queue` and a number
-- above 050. Foreign keys (operator_feedback, alert_deliveries) follow the table by oid.
ALTER TABLE signal_events RENAME TO analysis_queue;
ALTER SEQUENCE signal_events_id_seq RENAME TO analysis_queue_id_seq;

-- Constraints (primary key, analysis_queue_once, the CHECKs and, on Postgres 18, the named NOT
-- NULLs; a key's index is renamed with it), then the remaining indexes: signal_events_* ->
-- analysis_queue_*.
DO $$
DECLARE
    old_name text;
BEGIN
    FOR old_name IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'analysis_queue'::regclass AND left(conname, 14) = 'signal_events_'
    LOOP
        EXECUTE format('ALTER TABLE analysis_queue RENAME CONSTRAINT %I TO %I',
                       old_name, 'analysis_queue_' || substr(old_name, 15));
    END LOOP;
    FOR old_name IN
        SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = 'analysis_queue'::regclass AND left(c.relname, 14) = 'signal_events_'
    LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I',
                       old_name, 'analysis_queue_' || substr(old_name, 15));
    END LOOP;
END
$$;
