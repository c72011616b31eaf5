"""Per-streamer before/after context of emitted events (the offline evidence analysis reads).

For every top streamer of an event: `viewers_before` / `title_before` are its numbers in this
category 60 minutes earlier (null if it was not in the category's top 5 then), and
`category_before` is the name of the other category whose top 5 held it then (null otherwise).
Looked up set-wise for all events at once.
"""

from __future__ import annotations

import json

import pandas as pd

from streampulse_assets.lib.detection.causes import parse_streamers
from streampulse_assets.lib.duck import registered

_LOOKUP = """
WITH minutes AS (SELECT DISTINCT platform, ago_ts FROM _detection_need),
raw_at AS (  -- the minutes' rows only (`ts IN` lets the scan skip the others), parsed once
    SELECT r.platform, r.ts, r.category_id,
           coalesce(r.category_name, r.category_id) AS category_name,
           unnest(json_extract_string(r.top_streamers, '$[*].channel_id')) AS channel_id
    FROM raw_snapshots r JOIN minutes m ON r.platform = m.platform AND r.ts = m.ago_ts
    WHERE r.top_streamers IS NOT NULL AND r.ts >= $lo AND r.ts <= $hi
      AND r.ts IN (SELECT ago_ts FROM minutes)
)
SELECT n.event, n.channel_id, min(a.category_name) AS category_before
FROM _detection_need n
JOIN raw_at a ON a.platform = n.platform AND a.ts = n.ago_ts AND a.category_id <> n.category_id
 AND a.channel_id = n.channel_id
GROUP BY ALL
"""


def _lookup_other_categories(con, need: pd.DataFrame) -> dict[tuple[int, str], str]:
    if need.empty:
        return {}
    params = {"lo": need["ago_ts"].min(), "hi": need["ago_ts"].max()}
    with registered(con, "_detection_need", need):
        found = con.execute(_LOOKUP, params).fetchall()
    return {(int(e), str(c)): name for e, c, name in found}


def streamer_context(con, events: pd.DataFrame) -> list[str]:
    """JSON text per event: its top streamers with viewers/title/category before."""
    nows, befores, need = [], [], []
    cols = ["platform", "category_id", "ago_ts", "top_streamers", "top_streamers_before"]
    rows = zip(*(events[c] if c in events else [None] * len(events) for c in cols), strict=True)
    for i, (platform, category_id, ago_ts, streamers, streamers_before) in enumerate(rows):
        now = parse_streamers(streamers)[:5]
        before = {str(s["channel_id"]): s for s in parse_streamers(streamers_before)}
        nows.append(now)
        befores.append(before)
        if pd.isna(ago_ts):
            continue
        for s in now:
            if str(s["channel_id"]) not in before:
                need.append((i, platform, category_id, ago_ts, str(s["channel_id"])))
    columns = ["event", "platform", "category_id", "ago_ts", "channel_id"]
    elsewhere = _lookup_other_categories(con, pd.DataFrame(need, columns=columns))
    out = []
    for i, (now, before) in enumerate(zip(nows, befores, strict=True)):
        items = []
        for s in now:
            cid = str(s["channel_id"])
            prev = before.get(cid)
            items.append(
                {
                    "channel_id": cid,
                    "channel_name": s.get("channel_name"),
                    "title": s.get("title"),
                    "viewers": s["viewers"],
                    "viewers_before": prev["viewers"] if prev else None,
                    "title_before": prev.get("title") if prev else None,
                    "category_before": None if prev else elsewhere.get((i, cid)),
                }
            )
        out.append(json.dumps(items, ensure_ascii=False))
    return out
