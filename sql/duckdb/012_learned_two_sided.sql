-- The learned detector models both sides of its forecast errors (lib/detection/learned/model.py):
-- a tail for rises and one for drops. `alert` marks a row that is an anomaly on either side (what
-- NAB scores); `spike` stays an alert on a rise (what becomes a SPIKE event). States stored
-- before this migration have no drop tail yet: it starts from the prior.
ALTER TABLE learned_scores ADD COLUMN IF NOT EXISTS alert BOOLEAN;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS n_exc_dn DOUBLE DEFAULT 0;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS sum_exc_dn DOUBLE DEFAULT 0;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS sum_exc2_dn DOUBLE DEFAULT 0;
