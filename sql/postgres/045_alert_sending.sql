-- A delivery is recorded before it is sent: status SENDING with the idempotency key the sink gets,
-- committed before the request leaves. A sender killed mid-send leaves the row SENDING; once its
-- lease (sending_at) expires, a later pass sends it again with the SAME stored key, and every
-- crashed attempt counts towards max_attempts.
ALTER TABLE alert_deliveries DROP CONSTRAINT IF EXISTS alert_deliveries_status_check;
ALTER TABLE alert_deliveries ADD CONSTRAINT alert_deliveries_status_check
    CHECK (status IN ('PENDING', 'SENDING', 'SENT', 'FAILED'));
ALTER TABLE alert_deliveries ADD COLUMN IF NOT EXISTS idempotency_key TEXT;
ALTER TABLE alert_deliveries ADD COLUMN IF NOT EXISTS sending_at TIMESTAMPTZ;

CREATE INDEX IF NOT EXISTS alert_deliveries_sending_idx
    ON alert_deliveries (sink, sending_at)
    WHERE status = 'SENDING';
