"""Measure V3 vs V1 on simulated history and on the NAB realTweets files (prints numbers).

uv run python bench/detection_quality.py --days 14            # simulator, default seed
uv run python bench/detection_quality.py --nab                # NAB realTweets, scale_aware
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from streampulse_assets.lib.detection.engine import detect_frame
from streampulse_assets.lib.quality.metrics import exposure, score_events

NAB_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "nab"


def report(name: str, events: pd.DataFrame, labels: list[dict], snapshots: pd.DataFrame) -> dict:
    scores = score_events(events, labels, exposure(snapshots).category_days)
    out = {}
    for det, s in scores.items():
        out[det] = {
            "alerts": s.alerts,
            "true": s.true_alerts,
            "windows": s.windows,
            "caught": s.windows_caught,
            "precision": round(s.precision or 0, 3),
            "recall": round(s.recall or 0, 3),
            "f1": round(s.f1 or 0, 3),
            "fa_per_cat_day": round(s.false_alarms_per_category_day or 0, 4),
            "fa_by_kind": s.false_alarms_by_kind,
        }
    print(name, json.dumps(out, indent=1))
    return out


def simulated(days: int, seed: int, categories: int, profile: str) -> None:
    from streampulse_assets.lib.sources.simulator import Simulator

    sim = Simulator(seed=seed, categories_per_platform=categories)
    end = datetime(2025, 3, 1)
    start = end - timedelta(days=days)
    t0 = time.perf_counter()
    frame = sim.frame(start, end)
    t1 = time.perf_counter()
    events = detect_frame(frame, profile)
    t2 = time.perf_counter()
    print(f"rows={len(frame)} simulate={t1 - t0:.1f}s detect={t2 - t1:.1f}s")
    labels = sim.labels(start, end)
    report(f"simulator days={days} seed={seed} profile={profile}", events, labels, frame)


def nab(profile: str) -> None:
    windows = json.loads((NAB_DIR / "combined_windows.json").read_text())
    frames, labels = [], []
    for path in sorted((NAB_DIR / "realTweets").glob("*.csv")):
        raw = pd.read_csv(path)
        frames.append(
            pd.DataFrame(
                {"platform": "NAB", "category_id": path.stem, "ts": raw["timestamp"],
                 "viewers": raw["value"]}
            )
        )  # fmt: skip
        for s, e in windows.get(f"realTweets/{path.name}", []):
            labels.append(
                {"platform": "NAB", "category_id": path.stem, "start": s, "end": e,
                 "kind": "nab_anomaly"}
            )  # fmt: skip
    frame = pd.concat(frames, ignore_index=True)
    events = detect_frame(frame, profile)
    report(f"NAB realTweets profile={profile}", events, labels, frame)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--categories", type=int, default=300)
    parser.add_argument("--profile", default=None)
    parser.add_argument("--nab", action="store_true")
    args = parser.parse_args()
    if args.nab:
        nab(args.profile or "scale_aware")
    else:
        simulated(args.days, args.seed, args.categories, args.profile or "default")
