-- One alert delivery per (analysed event, sink). The unique key makes enqueueing idempotent, so a
-- restart never sends an alert twice nor drops one; rows are claimed with FOR UPDATE SKIP LOCKED.
CREATE TABLE IF NOT EXISTS alert_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    event_id        BIGINT      NOT NULL REFERENCES signal_events (id) ON DELETE CASCADE,
    sink            TEXT        NOT NULL,
    status          TEXT        NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'SENT', 'FAILED')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    last_error      TEXT,
    payload         JSONB       NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ,
    CONSTRAINT alert_deliveries_once UNIQUE (event_id, sink)
);

CREATE INDEX IF NOT EXISTS alert_deliveries_due_idx
    ON alert_deliveries (sink, next_attempt_at)
    WHERE status = 'PENDING';

CREATE INDEX IF NOT EXISTS alert_deliveries_created_idx ON alert_deliveries (created_at);

-- Alert eligibility and retention scan signal_events by time.
CREATE INDEX IF NOT EXISTS signal_events_ts_idx ON signal_events (ts);
