"""Two tiny categories whose count rises by the same viewers at the same minute: in `live` a new
streamer goes live (one more open live), in `raid` the viewers join a streamer who was live and
listed an hour before. The learned detector scores both alike; only the streamer context tells
the going-live (a CANDIDATE) from the spike."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from streampulse_assets_tests.unit.test_learned import T0, noisy

DAYS, START, LENGTH, GAIN = 4, 3 * 1440 + 600, 90, 25  # minutes from T0; viewers


def _streamers(pairs) -> str:
    return json.dumps(
        [{"channel_id": c, "channel_name": c, "title": "t", "viewers": v} for c, v in pairs]
    )


def going_live_frame() -> tuple[pd.DataFrame, datetime, datetime]:
    """(snapshots, first and last minute of the rise)."""
    base = noisy(DAYS, 20.0, seed=1).astype(np.int64)  # about 20 viewers
    parts = []
    for name in ("live", "raid"):
        values = base.copy()
        values[START : START + LENGTH] += GAIN
        tops, lives = [], []
        for i, v in enumerate(base):
            s1, s2 = int(v) // 2, int(v) * 3 // 10
            listed = [("s1", s1), ("s2", s2), ("s3", int(v) - s1 - s2)]
            rising = START <= i < START + LENGTH
            if rising and name == "live":
                listed = [("new", GAIN), *listed]
            elif rising:
                listed = [("s1", s1 + GAIN), *listed[1:]]
            tops.append(_streamers(listed))
            lives.append(4 if rising and name == "live" else 3)
        parts.append(
            pd.DataFrame(
                {
                    "platform": "chzzk",
                    "category_id": name,
                    "ts": [T0 + timedelta(minutes=i) for i in range(len(values))],
                    "category_name": f"Category {name}",
                    "viewers": values,
                    "open_lives": lives,
                    "top_streamers": tops,
                }
            )
        )
    first = T0 + timedelta(minutes=START)
    return pd.concat(parts, ignore_index=True), first, first + timedelta(minutes=LENGTH)
