-- The learned detector (lib/detection/learned). Written delete-window-then-insert over [start, end).

-- Per platform, category and minute: the anomaly score in [0, 1] (what NAB scores), the
-- standardised rise of the window that scored highest, and the rise over each window
-- (r_<window>: 0/15/60/180 min, against the level before the window), from which the seasonal
-- forecasts of later rows and the per-series error model (when the hour is complete) are made.
CREATE TABLE IF NOT EXISTS learned_scores (
    platform    VARCHAR   NOT NULL,
    category_id VARCHAR   NOT NULL,
    ts          TIMESTAMP NOT NULL,
    viewers     BIGINT    NOT NULL,
    level       DOUBLE,
    score       DOUBLE    NOT NULL,
    z           DOUBLE,
    "window"    SMALLINT  NOT NULL,   -- index of the window that scored highest (-1 = not scored)
    spike       BOOLEAN   NOT NULL,
    r_0 DOUBLE, r_1 DOUBLE, r_2 DOUBLE, r_3 DOUBLE
);

-- The per-series error model at the start of an hour (one row per window and candidate).
CREATE TABLE IF NOT EXISTS learned_state (
    platform    VARCHAR   NOT NULL,
    category_id VARCHAR   NOT NULL,
    hour        TIMESTAMP NOT NULL,
    "window"    SMALLINT  NOT NULL,
    cand        SMALLINT  NOT NULL,
    log_unit    DOUBLE    NOT NULL,
    weight      DOUBLE    NOT NULL,
    n           DOUBLE    NOT NULL,
    n_exc       DOUBLE    NOT NULL,
    sum_exc     DOUBLE    NOT NULL,
    sum_exc2    DOUBLE    NOT NULL
);
