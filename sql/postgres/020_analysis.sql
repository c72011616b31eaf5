-- Analysis worker queue: retry back-off, claim order and per-streamer history lookups.
ALTER TABLE signal_events ADD COLUMN IF NOT EXISTS next_attempt_at TIMESTAMPTZ;

-- Lead streamer of an analysed event (written with the result); earlier analyses of the same
-- streamer are offline context for the next one.
ALTER TABLE signal_events ADD COLUMN IF NOT EXISTS lead_channel_id TEXT;

CREATE INDEX IF NOT EXISTS signal_events_streamer_idx
    ON signal_events (platform, lead_channel_id, analysed_at DESC)
    WHERE analysis_status = 'DONE' AND lead_channel_id IS NOT NULL;

-- Incremental copy into the warehouse reads rows finished after a watermark.
CREATE INDEX IF NOT EXISTS signal_events_analysed_at_idx
    ON signal_events (analysed_at)
    WHERE analysed_at IS NOT NULL;
