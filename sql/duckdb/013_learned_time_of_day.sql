-- The learned detector's noise unit follows the hour of day (lib/detection/learned/model.py
-- ModelState.hour_unit): per series, the forgetting sums of each UTC hour of day's log mean
-- absolute error of the level forecast on the row alone (tod_log_HH) and their weights
-- (tod_w_HH). One profile per series: stored on its window 0 / candidate 0 row of each hour,
-- NULL on the others. States stored before this migration have no profile: their unit is the
-- all-day one until the hours of day are learned.
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_00 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_01 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_02 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_03 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_04 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_05 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_06 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_07 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_08 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_09 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_10 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_11 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_12 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_13 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_14 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_15 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_16 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_17 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_18 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_19 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_20 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_21 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_22 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_log_23 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_00 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_01 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_02 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_03 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_04 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_05 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_06 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_07 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_08 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_09 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_10 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_11 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_12 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_13 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_14 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_15 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_16 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_17 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_18 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_19 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_20 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_21 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_22 DOUBLE;
ALTER TABLE learned_state ADD COLUMN IF NOT EXISTS tod_w_23 DOUBLE;
