"""The detection engine: baselines -> V3, V1 and LEARNED -> causes -> cooldown -> signal_events.

Public API (see .notes/contracts.md):
- refresh_rolling_baselines / refresh_seasonal_baselines / refresh_signal_events(con, start, end,
  config) on a DuckDB connection holding raw_snapshots: delete-window-then-insert over [start, end).
- detect_frame(snapshots, config) runs all of it over a canonical snapshot frame in memory.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from streampulse_assets.lib.detection.baselines import (
    refresh_baselines,
    refresh_rolling_baselines,
    refresh_seasonal_baselines,
)
from streampulse_assets.lib.detection.candidates import candidates_sql
from streampulse_assets.lib.detection.causes import (
    add_causes,
    add_levels,
    demote_going_live,
    reclassify_arrivals,
)
from streampulse_assets.lib.detection.config import DetectionConfig, get_config
from streampulse_assets.lib.detection.context import streamer_context
from streampulse_assets.lib.detection.cooldown import apply_cooldown
from streampulse_assets.lib.detection.features import features_sql
from streampulse_assets.lib.detection.frame import infer_step, load_raw, normalise
from streampulse_assets.lib.detection.learned.events import learned_rows
from streampulse_assets.lib.detection.learned.store import (
    ALERT_COLUMNS,
    prepare_learned,
    score_learned,
    score_prepared,
    store_learned,
    stored_alerts,
)
from streampulse_assets.lib.detection.v1 import v1_triggers
from streampulse_assets.lib.detection.v3 import v3_triggers
from streampulse_assets.lib.duck import registered, transaction
from streampulse_assets.lib.schema import migrate_duckdb
from streampulse_assets.lib.snapshots import time_slices

__all__ = [
    "EVENT_COLUMNS",
    "detect_frame",
    "refresh_rolling_baselines",
    "refresh_seasonal_baselines",
    "refresh_signal_events",
    "stored_events",
]

EVENT_COLUMNS = [
    "detector", "platform", "category_id", "ts", "category_name", "level", "cause", "current",
    "baseline_short", "baseline_season", "season_source", "growth_ratio", "season_ratio", "delta",
    "required_delta", "is_major", "contribution_ratio", "dominance_index", "market_proof",
    "candidate_reasons", "top_streamers", "open_lives", "open_lives_before", "profile",
]  # fmt: skip

_CONTEXT_COLUMNS = [
    "category_name", "open_lives", "top_streamers", "open_lives_before", "top_streamers_before",
]  # fmt: skip

_RAW_CONTEXT = """
WITH need AS (
    SELECT platform, category_id, ts FROM _detection_triggered
    UNION SELECT platform, category_id, ago_ts FROM _detection_triggered WHERE ago_ts IS NOT NULL
),
found AS (  -- the needed rows' ids from the key columns alone (`ts IN` lets the scan skip the
            -- other minutes) ...
    SELECT r.rowid AS id FROM raw_snapshots r SEMI JOIN need n
      ON r.ts = n.ts AND r.platform = n.platform AND r.category_id = n.category_id
    WHERE r.ts >= $lo AND r.ts < $hi AND r.ts IN (SELECT ts FROM need)
),
raw AS (  -- ... then only those rows' streamers are fetched, not every row's of those minutes
    SELECT platform, category_id, ts, category_name, open_lives, top_streamers
    FROM raw_snapshots WHERE rowid IN (SELECT id FROM found)
)
SELECT t.row_id, x.category_name, x.open_lives, x.top_streamers,
       a.open_lives AS open_lives_before, a.top_streamers AS top_streamers_before
FROM _detection_triggered t
JOIN raw x ON x.platform = t.platform AND x.category_id = t.category_id AND x.ts = t.ts
LEFT JOIN raw a ON a.platform = t.platform AND a.category_id = t.category_id AND a.ts = t.ago_ts
"""


def _with_raw_context(con, rows: pd.DataFrame, start: datetime, end: datetime) -> pd.DataFrame:
    """Join category name, open lives and top streamers now and 60 minutes ago."""
    rows = rows.reset_index(drop=True)
    rows["row_id"] = np.arange(len(rows))
    keys = rows[["row_id", "platform", "category_id", "ts", "ago_ts"]]
    lo, ago = rows["ts"].min(), rows["ago_ts"].min()  # ago_ts: within the short window
    lo = lo if pd.isna(ago) else min(lo, ago)
    with registered(con, "_detection_triggered", keys):
        extra = con.execute(_RAW_CONTEXT, {"lo": lo, "hi": end}).df()
    return rows.merge(extra, on="row_id", how="left").drop(columns="row_id")


def _seeds(con, start: datetime, cfg: DetectionConfig) -> pd.DataFrame:
    lo = start - timedelta(minutes=cfg.lookback_minutes)
    return con.execute(
        "SELECT detector, platform, category_id, ts, level FROM signal_events "
        "WHERE ts >= ? AND ts < ?",
        [lo, start],
    ).df()


def stored_events(con, detector: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The stored `signal_events` rows of `detector` with start <= ts < end (every column)."""
    return con.execute(
        "SELECT * FROM signal_events WHERE detector = ? AND ts >= ? AND ts < ?",
        [detector, start, end],
    ).df()


def empty_events() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})


FEATURES_TABLE = "_detection_features"
CANDIDATES_TABLE = "_detection_candidates"
LEARNED_KEYS = "_detection_learned_keys"
LEARNED = "LEARNED"
EVENT_SLICE = timedelta(days=1)


def event_slices(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) in the slices detection runs on: days, except that a start inside an hour
    first gets the rest of that hour alone. The learned detector learns an hour in the window
    that holds all of it, or, from its stored rows, when a later window starts; a window that
    began inside an hour and ran past its end would score the next hour's rows before that hour
    was learned, unlike a backfill (V3 and V1 do not depend on the slicing)."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    if hour < start and hour + timedelta(hours=1) < end:
        first = hour + timedelta(hours=1)
        return [(start, first), *time_slices(first, end, EVENT_SLICE)]
    return list(time_slices(start, end, EVENT_SLICE))


def _events_by_slice(con, slices: list, cfg: DetectionConfig):
    """(lo, hi, emitted events) of each slice in turn, each stored in signal_events.

    The learned detector runs in a worker thread on its own connection to the same database
    (it reads committed rows and writes only its own tables): it scores while the V3 and V1
    rules run on `con`, and stores its scores while the emitted events get their context. Both
    sides spend their time in DuckDB and numpy, which release the GIL, so they overlap. Its
    worker is the longer side, so `con` reads the next slice's raw rows and rises for it
    (prepare_learned: nothing there depends on the learned tables) while it stores this one, and
    the next slice's scoring is queued right behind that store; the rises stored one seasonal lag
    before the next slice are read ahead too when they lie before this slice. The next slice's
    learned inputs take the memory of this one's (fresh memory costs page faults).
    """
    if not slices:
        return
    learned_con = con.cursor()
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="learned") as worker:
            scoring = worker.submit(score_learned, learned_con, *slices[0], cfg.learned)
            for i, (lo, hi) in enumerate(slices):
                parts = _detector_rows(con, lo, hi, cfg, scoring)
                scored = scoring.result()
                storing = worker.submit(store_learned, learned_con, scored)
                spare, scored.spare = scored.spare, None  # its inputs' memory, for the next's
                if i + 1 < len(slices):
                    ahead = prepare_learned(con, *slices[i + 1], cfg.learned, lo, spare)
                    scoring = worker.submit(score_prepared, learned_con, ahead, cfg.learned)
                    del ahead  # memory: the worker holds it until it is scored
                del scored, spare
                events = _emitted(con, parts, lo, hi, cfg)
                storing.result()
                write_events(con, events, lo, hi)
                yield lo, hi, events
    finally:
        learned_con.close()


def _emitted(con, parts: list[pd.DataFrame], start, end, cfg: DetectionConfig) -> pd.DataFrame:
    """The detectors' rows after the cooldown, with their context and causes.

    Only rows meeting the V3 SPIKE rules need their cause before the cooldown (a PERSON_ISSUE
    spike needs more); every other row gets its streamer context after the cooldown, so the
    per-row work is proportional to the few emitted events.
    """
    if not parts:
        return empty_events()
    emitted = apply_cooldown(pd.concat(parts, ignore_index=True), _seeds(con, start, cfg), cfg)
    if emitted.empty:
        return empty_events()
    done = emitted["_ctx"].eq(True) if "_ctx" in emitted else pd.Series(False, emitted.index)
    todo = emitted[~done].drop(columns=_CONTEXT_COLUMNS, errors="ignore")
    if len(todo):  # context (and, for V3 candidates, the cause) of the emitted rows only
        todo = _with_raw_context(con, todo, start, end)
        caused = todo["detector"].isin(["V3", LEARNED])
        if caused.any():
            todo = pd.concat([add_causes(todo[caused], cfg), todo[~caused]], ignore_index=True)
        emitted = pd.concat([emitted[done], todo], ignore_index=True)
    emitted["top_streamers"] = streamer_context(con, emitted)
    emitted["profile"] = cfg.profile
    for col in ("cause", "contribution_ratio", "dominance_index", "market_proof", "is_major"):
        if col not in emitted:
            emitted[col] = None
    # After the cooldown: a going-live row counted as a SPIKE there, while a later tick seeds its
    # cooldown from the stored CANDIDATE. Ticks and a backfill still agree because a LEARNED
    # alert's own quiet period (learned quiet_minutes, 6 h) is longer than the cooldowns (30, 120).
    emitted = demote_going_live(reclassify_arrivals(emitted, cfg), cfg)
    events = emitted[EVENT_COLUMNS].sort_values(["ts", "detector", "platform", "category_id"])
    return events.reset_index(drop=True)


def _detector_rows(con, start: datetime, end: datetime, cfg: DetectionConfig, scoring):
    """The V3 rows (levels set, SPIKE candidates with their cause), the V1 rows and the LEARNED
    rows (once `scoring`, the future of score_learned, has its SPIKEs), before the cooldown.

    V3 and V1 read the candidates (candidates.py: one aggregate over the day's joined baselines);
    the learned rows join the features of their own few minutes only.
    """
    params = {"start": start, "end": end}
    con.execute(f"CREATE OR REPLACE TEMP TABLE {CANDIDATES_TABLE} AS {candidates_sql(cfg)}", params)
    try:
        v3 = v3_triggers(con, start, end, cfg, CANDIDATES_TABLE)
        v1 = v1_triggers(con, start, end, cfg, CANDIDATES_TABLE)
        con.execute(f"DROP TABLE IF EXISTS {CANDIDATES_TABLE}")
        spiky = v3[v3["spike_ok"]] if len(v3) else v3
        if len(spiky):
            spiky = add_causes(_with_raw_context(con, spiky, start, end), cfg).assign(_ctx=True)
        rest = v3[~v3["spike_ok"]] if len(v3) else v3
        parts = [add_levels(p, cfg).assign(detector="V3") for p in (spiky, rest) if len(p)]
        parts += [v1.assign(detector="V1")] if len(v1) else []
        spikes = scoring.result().spikes
        learned = spikes.iloc[0:0]  # learned_rows' own answer for no spikes (most live ticks)
        if len(spikes):
            with registered(con, LEARNED_KEYS, spikes[["platform", "category_id", "ts"]]):
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {FEATURES_TABLE} AS "
                    f"{features_sql(cfg, keys=LEARNED_KEYS)}",
                    params,
                )
            learned = learned_rows(con, spikes, FEATURES_TABLE)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {CANDIDATES_TABLE}")
        con.execute(f"DROP TABLE IF EXISTS {FEATURES_TABLE}")
    return parts + ([learned.assign(detector=LEARNED)] if len(learned) else [])


def write_events(con, events: pd.DataFrame, start: datetime, end: datetime) -> int:
    """Replace the events of [start, end) in the warehouse table signal_events."""
    cols = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
    with registered(con, "_detection_events", events), transaction(con):
        con.execute("DELETE FROM signal_events WHERE ts >= ? AND ts < ?", [start, end])
        if len(events):
            con.execute(f"INSERT INTO signal_events ({cols}) SELECT {cols} FROM _detection_events")
    return len(events)


def refresh_signal_events(
    con, start: datetime, end: datetime, config: DetectionConfig | str | None = None
) -> pd.DataFrame:
    """Detect over [start, end) from the stored baselines, store and return the emitted events.

    Cooldowns are seeded from events stored before `start`, so refreshing minute by minute and
    refreshing the whole range at once store identical events. A long range is detected a day at
    a time (each day stored before the next is seeded from it), which bounds the memory of the
    baseline join whatever the range; a range that starts inside an hour first detects the rest
    of that hour (event_slices).
    """
    cfg = get_config(config)
    slices = event_slices(start, end)
    parts = [events for _, _, events in _events_by_slice(con, slices, cfg)]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else empty_events()


def refresh_all(con, start: datetime, end: datetime, config=None) -> pd.DataFrame:
    """Both baselines, then the events, for [start, end)."""
    cfg = get_config(config)
    refresh_baselines(con, start, end, cfg)  # both baselines, one read of the raw rows
    return refresh_signal_events(con, start, end, cfg)


def detect_frame(
    snapshots: pd.DataFrame, config: DetectionConfig | str = "default"
) -> pd.DataFrame:
    """Run all three detectors over a canonical snapshot frame (in-memory DuckDB); all events."""
    return detect_frame_with_alerts(snapshots, config)[0]


def detect_frame_with_alerts(
    snapshots: pd.DataFrame, config: DetectionConfig | str = "default"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`detect_frame`, and the learned detector's alerts on either side
    (`learned/store.stored_alerts`), which NAB scores."""
    cfg = get_config(config)
    frame = normalise(snapshots)
    if frame.empty:
        return empty_events(), pd.DataFrame(columns=ALERT_COLUMNS)
    if cfg.step_minutes is None:
        cfg = get_config(cfg, step_minutes=infer_step(frame))
    con = duckdb.connect()
    try:
        migrate_duckdb(con)
        load_raw(con, frame)
        start = frame["ts"].min().to_pydatetime()
        end = frame["ts"].max().to_pydatetime() + timedelta(minutes=1)
        return refresh_all(con, start, end, cfg), stored_alerts(con)
    finally:
        con.close()
