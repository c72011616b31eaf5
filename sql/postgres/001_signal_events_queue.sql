-- Operational queue of detector events awaiting LLM analysis (drained with FOR UPDATE SKIP LOCKED).
CREATE TABLE IF NOT EXISTS signal_events (
    id              BIGSERIAL PRIMARY KEY,
    detector        TEXT        NOT NULL,
    platform        TEXT        NOT NULL,
    category_id     TEXT        NOT NULL,
    category_name   TEXT,
    ts              TIMESTAMPTZ NOT NULL,
    level           TEXT        NOT NULL CHECK (level IN ('SPIKE', 'CANDIDATE')),
    cause           TEXT,
    evidence        JSONB       NOT NULL DEFAULT '{}'::jsonb,
    analysis_status TEXT        NOT NULL DEFAULT 'PENDING'
        CHECK (analysis_status IN ('PENDING', 'SKIPPED', 'IN_PROGRESS', 'DONE', 'FAILED')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    claimed_at      TIMESTAMPTZ,
    worker_id       TEXT,
    last_error      TEXT,
    result          JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    analysed_at     TIMESTAMPTZ,
    CONSTRAINT signal_events_once UNIQUE (detector, platform, category_id, ts)
);

CREATE INDEX IF NOT EXISTS signal_events_open_idx
    ON signal_events (analysis_status, id)
    WHERE analysis_status IN ('PENDING', 'IN_PROGRESS');
