"""The last hours of viewers behind each event, for its chart (captured when it is queued).

The analysis and the alerts never read DuckDB (the pipeline holds the single writer), so the
series a spike chart needs travels in the queue row's `evidence` as `series` (contracts.md):
`{"event_ts", "ts": [ISO minutes], "viewers": [...], "rolling": [...], "seasonal": [...]}` over
the `hours` before the event minute (inclusive), one entry per stored minute. `rolling` is the
60-minute median (rolling_baselines.median_60) and `seasonal` the seasonal baseline the detector
trusts (7 days, else 24 hours earlier when their coverage is sufficient, else null); both are
rounded to whole viewers and null where no baseline row exists.
"""

from __future__ import annotations

import pandas as pd

from streampulse_assets.lib.detection.config import DetectionConfig
from streampulse_assets.lib.duck import registered

SERIES_HOURS = 3

_SQL = """
WITH pts AS (
    SELECT e.platform, e.category_id, e.ts AS event_ts, r.ts, max(r.viewers) AS viewers
    FROM series_events e
    JOIN raw_snapshots r
      ON r.platform = e.platform AND r.category_id = e.category_id
     AND r.ts > e.ts - to_minutes($minutes) AND r.ts <= e.ts
    WHERE r.ts > $lo - to_minutes($minutes) AND r.ts <= $hi
    GROUP BY ALL
), keys AS (SELECT DISTINCT platform, category_id, ts FROM pts),
b AS (
    SELECT b.platform, b.category_id, b.ts, any_value(b.median_60) AS median_60
    FROM rolling_baselines b SEMI JOIN keys k
      ON k.platform = b.platform AND k.category_id = b.category_id AND k.ts = b.ts
    WHERE b.ts > $lo - to_minutes($minutes) AND b.ts <= $hi
    GROUP BY ALL
), s AS (
    SELECT s.platform, s.category_id, s.ts,
           any_value(CASE WHEN s.coverage_7d >= $cov THEN s.mean_7d
                          WHEN s.coverage_24h >= $cov THEN s.mean_24h END) AS seasonal
    FROM seasonal_baselines s SEMI JOIN keys k
      ON k.platform = s.platform AND k.category_id = s.category_id AND k.ts = s.ts
    WHERE s.ts > $lo - to_minutes($minutes) AND s.ts <= $hi
    GROUP BY ALL
)
SELECT p.platform, p.category_id, p.event_ts, p.ts, p.viewers,
       round(b.median_60) AS rolling, round(s.seasonal) AS seasonal
FROM pts p
LEFT JOIN b ON b.platform = p.platform AND b.category_id = p.category_id AND b.ts = p.ts
LEFT JOIN s ON s.platform = p.platform AND s.category_id = p.category_id AND s.ts = p.ts
ORDER BY p.platform, p.category_id, p.event_ts, p.ts
"""


def _key(platform, category_id, ts) -> tuple[str, str, pd.Timestamp]:
    return str(platform), str(category_id), pd.Timestamp(ts).tz_localize(None).floor("min")


def series_key(platform, category_id, ts) -> tuple[str, str, pd.Timestamp]:
    """The key `event_series` uses (naive minute timestamp), for looking an event up."""
    ts = pd.Timestamp(ts)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC")
    return _key(platform, category_id, ts)


def _int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def event_series(
    con, events: pd.DataFrame, *, hours: int = SERIES_HOURS, min_coverage: float | None = None
) -> dict[tuple[str, str, pd.Timestamp], dict]:
    """{(platform, category_id, ts): series} for the distinct event keys of `events`, from one
    query over raw_snapshots, rolling_baselines and seasonal_baselines (naive UTC minutes)."""
    if events is None or events.empty:
        return {}
    keys = events[["platform", "category_id", "ts"]].drop_duplicates().copy()
    keys["platform"] = keys["platform"].astype(str)
    keys["category_id"] = keys["category_id"].astype(str)
    keys["ts"] = pd.to_datetime(keys["ts"]).dt.floor("min").astype("datetime64[us]")
    cov = DetectionConfig().min_season_coverage if min_coverage is None else min_coverage
    params = {
        "cov": float(cov),
        "minutes": int(hours * 60),
        "lo": keys["ts"].min().to_pydatetime(),
        "hi": keys["ts"].max().to_pydatetime(),
    }
    with registered(con, "series_events", keys):
        rows = con.execute(_SQL, params).fetchall()
    out: dict[tuple[str, str, pd.Timestamp], dict] = {}
    for platform, category_id, event_ts, ts, viewers, rolling, seasonal in rows:
        key = _key(platform, category_id, event_ts)
        s = out.setdefault(
            key,
            {
                "event_ts": key[2].strftime("%Y-%m-%dT%H:%M"),
                "ts": [],
                "viewers": [],
                "rolling": [],
                "seasonal": [],
            },
        )
        s["ts"].append(ts.strftime("%Y-%m-%dT%H:%M"))
        s["viewers"].append(int(viewers))
        s["rolling"].append(_int(rolling))
        s["seasonal"].append(_int(seasonal))
    return out
