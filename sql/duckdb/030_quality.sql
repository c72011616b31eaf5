-- Ground-truth windows per daily partition (`detection_labels`), gathered from the simulator's
-- injected events, replay label files and operator feedback. A label overlapping several days is
-- stored under each of them. Written delete-day-then-insert (idempotent).
CREATE TABLE IF NOT EXISTS detection_labels (
    day         DATE      NOT NULL,
    platform    VARCHAR   NOT NULL,
    category_id VARCHAR   NOT NULL,
    start_ts    TIMESTAMP NOT NULL,
    end_ts      TIMESTAMP NOT NULL,
    kind        VARCHAR   NOT NULL,
    source      VARCHAR   NOT NULL,
    loaded_at   TIMESTAMP NOT NULL DEFAULT current_timestamp
);
