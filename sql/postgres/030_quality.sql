-- Operator verdicts on queued detector events (`streampulse label EVENT_ID --true|--false`).
-- One verdict per event: labelling again replaces the verdict and note (upsert on event_id).
CREATE TABLE IF NOT EXISTS operator_feedback (
    id         BIGSERIAL PRIMARY KEY,
    event_id   BIGINT      NOT NULL REFERENCES signal_events (id) ON DELETE CASCADE,
    verdict    BOOLEAN     NOT NULL,
    note       TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT operator_feedback_once UNIQUE (event_id)
);
