-- Detection tables (lib/detection). All written delete-window-then-insert over [start, end).

-- Per platform, category and minute: the short-term baseline (previous 60 minutes, current excluded).
CREATE TABLE IF NOT EXISTS rolling_baselines (
    platform       VARCHAR   NOT NULL,
    category_id    VARCHAR   NOT NULL,
    ts             TIMESTAMP NOT NULL,
    viewers        BIGINT    NOT NULL,
    median_60      DOUBLE,             -- median of viewers in [ts - 60 min, ts - 1 min]
    n_60           INTEGER   NOT NULL, -- rows in that window (missing minutes are simply absent)
    prev_ts        TIMESTAMP,          -- newest row in the window (V1's "previous")
    prev_viewers   BIGINT,
    ago_ts         TIMESTAMP,          -- oldest row in the window ("60 minutes ago"); its top
    viewers_60_ago BIGINT,             -- streamers and open lives are raw_snapshots at ago_ts
    noise_sd       DOUBLE,             -- robust deviation: 1.4826 * median |step| / sqrt(2)
    computed_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Per platform, category and minute: mean at the same time of day 24 h and 7 d earlier (+-2 h).
CREATE TABLE IF NOT EXISTS seasonal_baselines (
    platform     VARCHAR   NOT NULL,
    category_id  VARCHAR   NOT NULL,
    ts           TIMESTAMP NOT NULL,
    mean_24h     DOUBLE,
    n_24h        INTEGER   NOT NULL,
    coverage_24h DOUBLE    NOT NULL,   -- share of the window's expected rows that exist
    mean_7d      DOUBLE,
    n_7d         INTEGER   NOT NULL,
    coverage_7d  DOUBLE    NOT NULL,
    computed_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Detector output: one row per emitted event (after cooldown). See .notes/contracts.md.
CREATE TABLE IF NOT EXISTS signal_events (
    detector           VARCHAR   NOT NULL,  -- 'V3' | 'V1'
    platform           VARCHAR   NOT NULL,
    category_id        VARCHAR   NOT NULL,
    ts                 TIMESTAMP NOT NULL,
    category_name      VARCHAR,
    level              VARCHAR   NOT NULL,  -- 'SPIKE' | 'CANDIDATE'
    cause              VARCHAR,             -- PERSON_ISSUE | STRUCTURE_ISSUE | CATEGORY_ADOPTION
    "current"          BIGINT    NOT NULL,
    baseline_short     DOUBLE,
    baseline_season    DOUBLE,
    season_source      VARCHAR,             -- '7d' | '24h' | 'fallback'
    growth_ratio       DOUBLE,
    season_ratio       DOUBLE,
    delta              DOUBLE,
    required_delta     DOUBLE,
    is_major           BOOLEAN,
    contribution_ratio DOUBLE,
    dominance_index    DOUBLE,
    market_proof       BOOLEAN,
    candidate_reasons  VARCHAR,             -- JSON list
    top_streamers      VARCHAR,             -- JSON list with the before/after context
    open_lives         INTEGER,
    open_lives_before  INTEGER,
    profile            VARCHAR   NOT NULL,
    computed_at        TIMESTAMP NOT NULL DEFAULT current_timestamp
);
