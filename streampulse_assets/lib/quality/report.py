"""The experiment report: per-detector metrics with intervals plus a V1-vs-V3 comparison, as a
JSON-ready dict and as Markdown (the same numbers)."""

from __future__ import annotations

import pandas as pd

from streampulse_assets.lib.quality.metrics import (
    DetectorScore,
    Exposure,
    labels_frame,
    positive_windows,
    score_events,
)
from streampulse_assets.lib.quality.stats import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    bootstrap_differences,
    bootstrap_f1,
    mcnemar_windows,
    wilson,
)


def _with_ci(value: float | None, ci: tuple[float, float] | None, method: str) -> dict:
    low, high = ci if ci else (None, None)
    return {"value": value, "low": low, "high": high, "method": method}


def detector_block(s: DetectorScore, expo: Exposure, seed: int, n_resamples: int) -> dict:
    return {
        "alerts": s.alerts,
        "true_alerts": s.true_alerts,
        "false_alarms": s.false_alarms,
        "false_alarms_by_kind": s.false_alarms_by_kind,
        "windows": s.windows,
        "windows_caught": s.windows_caught,
        "precision": _with_ci(s.precision, wilson(s.true_alerts, s.alerts), "wilson 95%"),
        "recall": _with_ci(s.recall, wilson(s.windows_caught, s.windows), "wilson 95%"),
        "f1": bootstrap_f1(s.per_day, expo, seed, n_resamples).as_dict(),
        "false_alarms_per_category_day": s.false_alarms_per_category_day,
        "delay_minutes": {"median": s.delay(50), "p90": s.delay(90), "n": len(s.delays)},
        "candidate_coverage": {
            "windows_with_candidate_or_spike": s.windows_candidate,
            **_with_ci(s.candidate_coverage, wilson(s.windows_candidate, s.windows), "wilson 95%"),
        },
    }


def build_report(
    events: pd.DataFrame,
    labels: list[dict] | pd.DataFrame,
    expo: Exposure,
    *,
    baseline: str = "V1",
    challenger: str = "V3",
    seed: int = DEFAULT_SEED,
    n_resamples: int = DEFAULT_RESAMPLES,
    meta: dict | None = None,
) -> dict:
    """Score both detectors and compare them (challenger - baseline)."""
    frame = labels if isinstance(labels, pd.DataFrame) else labels_frame(labels)
    scores = score_events(events, frame, expo.category_days, (baseline, challenger))
    a, b = scores[baseline], scores[challenger]
    test = mcnemar_windows(a.caught, b.caught)
    diffs = bootstrap_differences(a.per_day, b.per_day, expo, seed, n_resamples)
    windows = positive_windows(frame)
    return {
        "meta": {
            **(meta or {}),
            "categories": expo.n_categories,
            "days": round(expo.days, 4),
            "category_days": round(expo.category_days, 4),
            "labels": len(frame),
            "windows_by_kind": {str(k): int(v) for k, v in windows["kind"].value_counts().items()},
            "tolerance_minutes_before_start": 5,
        },
        "detectors": {
            name: detector_block(s, expo, seed, n_resamples) for name, s in scores.items()
        },
        "comparison": {
            "baseline": baseline,
            "challenger": challenger,
            "mcnemar": {
                "table": test.table,
                "table_layout": f"rows {baseline} caught/missed, columns {challenger} "
                "caught/missed",
                f"{baseline}_only": test.a_only,
                f"{challenger}_only": test.b_only,
                "statistic": test.statistic,
                "pvalue": test.pvalue,
                "exact": True,
            },
            "bootstrap": {
                "seed": seed,
                "n_resamples": n_resamples,
                "blocks": "UTC days",
                "f1_difference": diffs["f1"].as_dict(),
                "false_alarms_per_category_day_difference": diffs[
                    "false_alarms_per_category_day"
                ].as_dict(),
            },
        },
    }


def _fmt(x, digits: int = 3) -> str:
    if x is None:
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _ci(block: dict, digits: int = 3) -> str:
    text = _fmt(block["value"], digits)
    if block.get("low") is not None:
        text += f" [{_fmt(block['low'], digits)}, {_fmt(block['high'], digits)}]"
    return text


def render_markdown(report: dict, title: str = "Detection quality") -> str:
    """The report as Markdown: one table per detector row, then the comparison."""
    m, dets, cmp = report["meta"], report["detectors"], report["comparison"]
    lines = [
        f"## {title}",
        "",
        f"{m['categories']} categories × {m['days']:.2f} days = {m['category_days']:.1f} "
        f"category-days; {m['labels']} labels, windows by kind: {m['windows_by_kind'] or '{}'}.",
        "",
        "| detector | alerts | true | windows | caught | precision | recall | F1 | "
        "false alarms / cat-day | delay median / p90 (min) | candidate coverage |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, d in dets.items():
        delay = d["delay_minutes"]
        lines.append(
            f"| {name} | {d['alerts']} | {d['true_alerts']} | {d['windows']} | "
            f"{d['windows_caught']} | {_ci(d['precision'])} | {_ci(d['recall'])} | "
            f"{_ci(d['f1'])} | {_fmt(d['false_alarms_per_category_day'], 4)} | "
            f"{_fmt(delay['median'], 1)} / {_fmt(delay['p90'], 1)} | "
            f"{_ci(d['candidate_coverage'])} |"
        )
    kinds = "; ".join(f"{name} {d['false_alarms_by_kind'] or '{}'}" for name, d in dets.items())
    lines += ["", f"False alarms by kind: {kinds}."]
    mc, bs = cmp["mcnemar"], cmp["bootstrap"]
    base, chal = cmp["baseline"], cmp["challenger"]
    lines += [
        "",
        f"### {chal} vs {base}",
        "",
        f"- McNemar exact on windows: {base} only {mc[f'{base}_only']}, {chal} only "
        f"{mc[f'{chal}_only']}, table {mc['table']}, p = {_fmt(mc['pvalue'], 4)}",
        f"- F1 difference ({chal} − {base}): {_ci(bs['f1_difference'])}",
        f"- False alarms per category-day difference: "
        f"{_ci(bs['false_alarms_per_category_day_difference'], 4)}",
        f"- Intervals: Wilson 95% for proportions; {bs['blocks']} bootstrap, "
        f"{bs['n_resamples']} resamples, seed {bs['seed']}.",
    ]
    return "\n".join(lines) + "\n"
