"""The experiment report: per-detector metrics with intervals plus a V1-vs-V3 comparison, the
warm-up that event-level scoring left out, and every detector's NAB score, as a JSON-ready dict
and as Markdown (the same numbers)."""

from __future__ import annotations

import pandas as pd

from streampulse_assets.lib.quality.metrics import (
    DetectorScore,
    Exposure,
    Warmup,
    labels_frame,
    positive_windows,
    score_events,
)
from streampulse_assets.lib.quality.nab_corpus import BINARY_THRESHOLD
from streampulse_assets.lib.quality.nab_report import nab_report
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


def _iso(ts) -> str | None:
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).isoformat() + "Z"


def warmup_block(warmup: Warmup | None, scores: dict[str, DetectorScore]) -> dict:
    """What event-level scoring left out: each series' first `days` (alerts and windows in them,
    alerts matching only such windows)."""
    if warmup is None:
        return {"days": 0.0, "applied": False, "note": "no per-series first minutes given"}
    s = warmup.series
    observed = ((s["last"] + pd.Timedelta(minutes=1) - s["first"]) / pd.Timedelta(days=1)).sum()
    any_score = next(iter(scores.values()), None)
    return {
        "days": warmup.days,
        "applied": warmup.days > 0,
        "series": len(s),
        "from": _iso(s["first"].min()) if len(s) else None,
        "until": _iso(s["until"].max()) if len(s) else None,
        "rule": "per series: scored from its first minute + days on",
        "alerts_excluded": {name: sc.alerts_excluded for name, sc in scores.items()},
        "windows_excluded": any_score.windows_excluded if any_score else 0,
        "observed_category_days": round(float(observed), 4),
    }


def _detectors(events: pd.DataFrame, baseline: str, challenger: str) -> tuple[str, ...]:
    present = set(events["detector"].astype(str)) if "detector" in events.columns else set()
    return (baseline, challenger, *sorted(present - {baseline, challenger}))


def comparison(scores, expo: Exposure, baseline: str, challenger: str, seed, n_resamples) -> dict:
    """McNemar's exact test on the windows both caught or missed, and day-block bootstrap
    intervals of the F1 and false-alarm-rate differences (challenger - baseline)."""
    a, b = scores[baseline], scores[challenger]
    test = mcnemar_windows(a.caught, b.caught)
    diffs = bootstrap_differences(a.per_day, b.per_day, expo, seed, n_resamples)
    return {
        "baseline": baseline,
        "challenger": challenger,
        "mcnemar": {
            "table": test.table,
            "table_layout": f"rows {baseline} caught/missed, columns {challenger} caught/missed",
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
    warmup: Warmup | None = None,
    rows: pd.DataFrame | None = None,
    row_scores: dict[str, pd.DataFrame] | None = None,
    score_threshold: float | dict[str, float] = BINARY_THRESHOLD,
    nab_events: pd.DataFrame | None = None,
) -> dict:
    """Score every detector of `events` (at least baseline and challenger) and compare every pair
    (`comparison`: challenger - baseline, V3 - V1 by default; `comparisons`: that one first, then
    each later detector, e.g. LEARNED, against each earlier one). With `warmup`, event-level
    scoring leaves each series' warm-up out and `expo` should be `scored_exposure(warmup)`. With
    `rows` (platform, category_id, ts of every series row) or `row_scores` ({detector: frame with
    a score column}), the report adds NAB scores; per-row scores use `score_threshold` (one value
    or one per NAB profile). `nab_events` replaces `events` for NAB's binary scoring (e.g. with the
    learned detector's alerts on both sides instead of its SPIKEs)."""
    frame = labels if isinstance(labels, pd.DataFrame) else labels_frame(labels)
    seen = events if nab_events is None else pd.concat([events, nab_events], ignore_index=True)
    detectors = _detectors(seen, baseline, challenger)  # also those alerting only for NAB
    scores = score_events(events, frame, expo.category_days, detectors, warmup)
    windows = positive_windows(frame)
    pairs = [(baseline, challenger)]
    pairs += [(a, b) for i, a in enumerate(detectors) for b in detectors[i + 1 :]]
    comparisons = {}
    for a, b in pairs:  # each pair once: V3 vs V1 first, then every other detector vs those
        if (a, b) not in comparisons and (b, a) not in comparisons:
            comparisons[(a, b)] = comparison(scores, expo, a, b, seed, n_resamples)
    report = {
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
        "comparison": comparisons[(baseline, challenger)],
        "comparisons": list(comparisons.values()),
        "warmup": warmup_block(warmup, scores),
    }
    if rows is not None or row_scores:
        report["nab"] = nab_report(
            rows,
            events if nab_events is None else nab_events,
            frame,
            detectors,
            row_scores=row_scores,
            threshold=score_threshold,
        )
    return report


def _fmt(x, digits: int = 3) -> str:
    if x is None:
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _ci(block: dict, digits: int = 3) -> str:
    text = _fmt(block["value"], digits)
    if block.get("low") is not None:
        text += f" [{_fmt(block['low'], digits)}, {_fmt(block['high'], digits)}]"
    return text


def _exposure_line(m: dict, w: dict | None) -> str:
    if not w or not w.get("applied"):
        return (
            f"{m['categories']} categories × {m['days']:.2f} days = {m['category_days']:.1f} "
            "category-days"
        )
    return (
        f"{m['categories']} categories over {m['days']:.2f} days "
        f"({w['observed_category_days']:.1f} category-days observed, {m['category_days']:.1f} "
        "scored after the warm-up)"
    )


def render_markdown(report: dict, title: str = "Detection quality") -> str:
    """The report as Markdown: one table per detector row, then the comparison."""
    m, dets, cmp = report["meta"], report["detectors"], report["comparison"]
    lines = [
        f"## {title}",
        "",
        _exposure_line(m, report.get("warmup"))
        + f"; {m['labels']} labels, windows by kind: {m['windows_by_kind'] or '{}'}.",
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
    for c in report.get("comparisons") or [cmp]:
        lines += _comparison_lines(c)
    lines += _warmup_lines(report.get("warmup"))
    lines += _nab_lines(report.get("nab"))
    return "\n".join(lines) + "\n"


def _comparison_lines(cmp: dict) -> list[str]:
    mc, bs = cmp["mcnemar"], cmp["bootstrap"]
    base, chal = cmp["baseline"], cmp["challenger"]
    return [
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


def _warmup_lines(w: dict | None) -> list[str]:
    if not w or not w.get("applied"):
        return ["", "Warm-up: none (every minute scored)."]
    return [
        "",
        f"Warm-up: each series' first {w['days']:g} days are not scored (series start "
        f"{w['from']}, last warm-up ends {w['until']}); alerts left out: "
        f"{w['alerts_excluded']}; windows left out: {w['windows_excluded']}. False alarms per "
        "category-day count only the category-days after the warm-up.",
    ]


def _nab_lines(nab: dict | None) -> list[str]:
    if not nab or not nab["detectors"]:
        return []
    names = list(nab["profiles"])
    lines = [
        "",
        "### NAB score (normalised: 0 = never fires, 100 = perfect)",
        "",
        "| detector | source | threshold | " + " | ".join(names) + " | raw (standard) | "
        "windows hit | false positives |",
        "|---|---|---|" + "---|" * len(names) + "---|---|---|",
    ]
    for det, block in nab["detectors"].items():
        std = block["profiles"]["standard"]
        cells = " | ".join(_fmt(block["profiles"][n]["normalised"], 1) for n in names)
        lines.append(
            f"| {det} | {block['source']} | {block['threshold']} | {cells} | "
            f"{_fmt(std['raw'], 3)} | {std['windows_hit']} / {std['windows']} | "
            f"{std['fp_count']} |"
        )
    lines += ["", f"Rules: {nab['rules']}."]
    for det, block in nab["detectors"].items():
        best = block.get("in_sample_optimum")
        if best:
            text = ", ".join(
                f"{n} {_fmt(b['normalised'], 1)} at {_fmt(b['threshold'], 4)}"
                for n, b in best.items()
            )
            lines.append(f"- {det}, in-sample (threshold tuned on this very data): {text}.")
    return lines
