"""The NAB block of the quality report: every detector scored by NAB's rules on every series.

Binary detectors (V1, V3) score 1 at their SPIKE rows and 0 elsewhere, at threshold 0.5. A
detector with a per-row score frame (platform, category_id, ts, score in [0, 1]) is scored at
the given threshold, and its in-sample best threshold is reported beside it (labelled as such:
tuned on the very data it is scored on, as NAB's own optimiser does)."""

from __future__ import annotations

import pandas as pd

from streampulse_assets.lib.quality.nab_corpus import (
    BINARY_THRESHOLD,
    binary_scores,
    corpus_from_frame,
    optimise_threshold,
    score_corpus,
)
from streampulse_assets.lib.quality.nab_scoring import PROBATION_PERCENT, PROFILES

RULES = (
    "NAB (numenta/NAB sweeper.py): a series = one platform + category, its rows = its snapshot "
    "minutes, windows = its positive labels; the first 15% of each series' rows (at most 750) "
    "are NAB's probationary period, and the event-level warm-up does not apply here"
)


def _block(series, windows, threshold, source: str, in_sample: bool) -> dict:
    corpus = score_corpus(series, windows, threshold)
    block = {
        "source": source,
        "threshold": threshold,
        "profiles": {name: c.as_dict() for name, c in corpus.items()},
    }
    if in_sample:
        best = optimise_threshold(series, windows)
        block["in_sample_optimum"] = {
            name: {"threshold": b.threshold, "normalised": b.normalised, "raw": b.total_raw}
            for name, b in best.items()
        }
    return block


def nab_report(
    rows: pd.DataFrame | None,
    events: pd.DataFrame,
    labels: pd.DataFrame | list[dict],
    detectors,
    row_scores: dict[str, pd.DataFrame] | None = None,
    threshold: float | dict[str, float] = BINARY_THRESHOLD,
) -> dict:
    """NAB scores (three profiles) of `detectors`: from `row_scores[detector]` when given, else
    as binary detectors over `rows` (platform, category_id, ts of every series row)."""
    row_scores = row_scores or {}
    out: dict = {"rules": RULES, "probation_percent": PROBATION_PERCENT, "detectors": {}}
    out["profiles"] = {n: {"tp": p.tp, "fn": p.fn, "fp": p.fp} for n, p in PROFILES.items()}
    for detector in detectors:
        if detector in row_scores:
            frame, t, source = row_scores[detector], threshold, "per-row score"
        elif rows is not None:
            frame, t, source = binary_scores(rows, events, detector), BINARY_THRESHOLD, "binary"
        else:
            continue
        series, windows = corpus_from_frame(frame, labels)
        out["series"] = len(series)
        block = _block(series, windows, t, source, in_sample=source == "per-row score")
        out["detectors"][detector] = block
    return out
