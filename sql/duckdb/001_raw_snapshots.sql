-- One row per platform, category and UTC minute. Written delete-window-then-insert (idempotent).
CREATE TABLE IF NOT EXISTS raw_snapshots (
    platform      VARCHAR   NOT NULL,
    category_id   VARCHAR   NOT NULL,
    ts            TIMESTAMP NOT NULL,
    category_name VARCHAR,
    viewers       BIGINT    NOT NULL,
    open_lives    INTEGER,
    top_streamers VARCHAR,
    source        VARCHAR   NOT NULL,
    ingested_at   TIMESTAMP NOT NULL DEFAULT current_timestamp
);
