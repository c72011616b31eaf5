"""A labelled world from outside the simulator's family, to check that detector numbers carry over.

Written apart from `lib/sources/simulator` (no code, catalogue or effect shared with it), from the
issue's list of what real platforms have: each series has its own scale (10 to 100,000 viewers),
daily cycle, weekend factor, slowly wandering noise (AR(1) in log space) and Poisson counts.
Labelled spikes (`category_surge`: the whole category x1.8-4 within 1-4 minutes, for 15-90
minutes) come about every `spike_every_days` per series. Look-alikes that are not spikes:
borderline rises (x1.2-1.6 over 10-30 minutes, about every 2 days), event days (x1.3-1.7 built
up over 2 hours, about weekly) and slow organic growth (up to +40 % over the rest of the span,
3 series in 10).

uv run python bench/outside_world.py                      # 80 series x 14 days, 3 spike rates
uv run python bench/outside_world.py --series 40 --seed 3 --every 4
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from detection_quality import rounded, table  # bench/ is the script's folder
from scipy.signal import lfilter

from streampulse_assets.lib.detection.engine import detect_frame
from streampulse_assets.lib.quality.exposure import scored_exposure, series_spans, warmup_from_spans
from streampulse_assets.lib.quality.metrics import score_events

DAY = 1440
START = datetime(2025, 1, 1)
VIEWERS_PER_LIVE = 40.0


def _envelope(up: int, hold: int, down: int) -> np.ndarray:
    """0 -> 1 over `up` minutes, 1 for `hold`, 1 -> 0 over `down`."""
    rise = np.linspace(0.0, 1.0, up + 1)[1:]
    fall = np.linspace(1.0, 0.0, down + 1)[1:]
    return np.concatenate([rise, np.ones(hold), fall])


def _series(rng: np.random.Generator, n: int, spike_every_days: float):
    """One series' expected viewers per minute and its labels (kind, start, end minute)."""
    t = np.arange(n)
    base = 10 ** rng.uniform(1.0, 5.0)
    daily = 1 + rng.uniform(0.3, 0.8) * np.sin(2 * np.pi * (t / DAY - rng.uniform()))
    weekend = np.where((t // DAY) % 7 >= 5, 1 + rng.uniform(-0.15, 0.15), 1.0)
    wander = lfilter([1.0], [1.0, -0.985], rng.normal(0.0, 0.015, n))
    mult = np.ones(n)
    labels = []
    days = n / DAY
    plans = [
        ("category_surge", rng.poisson(days / spike_every_days), (1, 5), (15, 91), (5, 31),
         (1.8, 4.0)),
        ("borderline_rise", rng.poisson(days / 2), (10, 31), (20, 121), (10, 31), (1.2, 1.6)),
        ("event_day", rng.poisson(days / 7), (120, 121), (240, 601), (120, 121), (1.3, 1.7)),
    ]  # fmt: skip
    for kind, count, up, hold, down, size in plans:
        for _ in range(count):
            u, h, d = (int(rng.integers(*r)) for r in (up, hold, down))
            t0 = int(rng.integers(60, n - (u + h + d)))
            mult[t0 : t0 + u + h + d] *= 1 + (rng.uniform(*size) - 1) * _envelope(u, h, d)
            labels.append((kind, t0, t0 + u + h - 1))  # the rise and the time at full height
    if rng.random() < 0.3:
        t0 = int(rng.integers(3 * DAY, n - DAY))
        mult[t0:] *= np.linspace(1.0, 1.4, n - t0)
        labels += [("organic_growth", d, d + DAY - 1) for d in range(t0 // DAY * DAY, n, DAY)]
    noise = np.exp(wander + rng.normal(0.0, 0.03, n))
    return base * daily * weekend * noise * mult, labels


def outside_world(series: int, days: int, seed: int, spike_every_days: float):
    """(frame, labels) in the simulator's shapes: platform `outside`, one row per series-minute."""
    rng = np.random.default_rng(seed)
    n = days * DAY
    ts = pd.date_range(START, periods=n, freq="min")
    frames, labels = [], []
    for s in range(series):
        expected, marks = _series(rng, n, spike_every_days)
        viewers = rng.poisson(expected)
        cid = f"c{s:03d}"
        frames.append(
            pd.DataFrame(
                {
                    "platform": "outside",
                    "category_id": cid,
                    "ts": ts,
                    "viewers": viewers,
                    "lives": np.maximum(1, np.round(viewers / VIEWERS_PER_LIVE)).astype(int),
                }
            )
        )
        for kind, a, b in marks:
            labels.append(
                {
                    "platform": "outside",
                    "category_id": cid,
                    "start": (START + timedelta(minutes=a)).isoformat() + "Z",
                    "end": (START + timedelta(minutes=min(b, n - 1))).isoformat() + "Z",
                    "kind": kind,
                }
            )
    return pd.concat(frames, ignore_index=True), labels


def scores(series: int, days: int, seed: int, every: float, warmup_days: float) -> list[dict]:
    frame, labels = outside_world(series, days, seed, every)
    events = detect_frame(frame, "default")
    warmup = warmup_from_spans(series_spans(frame), warmup_days)
    expo = scored_exposure(warmup)
    dets = ("LEARNED", "V3", "V1")
    scored = score_events(events, labels, expo.category_days, dets, warmup)
    return [
        {
            "world": f"outside {series} series x {days} d, a spike every {every:g} d (seed {seed})",
            "detector": det,
            "alerts": s.alerts,
            "precision": rounded(s.precision),
            "recall": rounded(s.recall),
            "spikes": s.windows,
            "fa_per_series_day": rounded(s.false_alarms_per_category_day, 4),
            "fa_by_kind": s.false_alarms_by_kind,
        }
        for det, s in scored.items()
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=80)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--every", default="2,4,30", help="days between spikes per series")
    parser.add_argument("--warmup-days", type=float, default=7.0)
    args = parser.parse_args()
    rows = []
    for every in (float(x) for x in args.every.split(",")):
        rows += scores(args.series, args.days, args.seed, every, args.warmup_days)
    print(table(rows))
