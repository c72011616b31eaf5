"""`streampulse evaluate`: run the detectors over a replay and print the quality report
(event-level numbers after each series' warm-up, and every detector's NAB score)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import typer
from pandas.api.types import union_categoricals

from streampulse_assets.lib.detection.config import UnknownProfileError, get_config
from streampulse_assets.lib.detection.filerun import detect_file
from streampulse_assets.lib.quality.metrics import (
    DEFAULT_WARMUP_DAYS,
    LabelError,
    labels_frame,
    scored_exposure,
    series_spans,
    warmup_from_spans,
)
from streampulse_assets.lib.quality.nab_corpus import with_learned_alerts
from streampulse_assets.lib.quality.report import build_report, render_markdown
from streampulse_assets.lib.quality.stats import DEFAULT_RESAMPLES, DEFAULT_SEED
from streampulse_assets.lib.sources.base import SourceError
from streampulse_assets.lib.sources.replay import iter_canonical, labels_from_file

_ROW_KEY = ["platform", "category_id", "ts"]


def _read_labels(path: Path) -> list[dict]:
    labels = labels_from_file(path)
    labels_frame(labels)  # validates kinds and timestamps; LabelError names the label
    return labels


def series_rows(path: Path) -> pd.DataFrame:
    """platform, category_id, ts of every snapshot row of a replay file (deduplicated), read
    chunk by chunk; the detection pass already reported the file's warnings."""
    parts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for chunk in iter_canonical(path):
            parts.append(chunk[_ROW_KEY].copy())
    if not parts:
        return pd.DataFrame(columns=_ROW_KEY)
    rows = pd.DataFrame({"ts": pd.concat([p["ts"] for p in parts], ignore_index=True)})
    for col in ("platform", "category_id"):
        cats = [pd.Categorical(p[col].astype(str)) for p in parts]
        rows[col] = union_categoricals(cats)
    rows = rows[_ROW_KEY]
    return rows.drop_duplicates(_ROW_KEY, keep="last").reset_index(drop=True)


def evaluate(
    snapshots: Path = typer.Option(..., "--snapshots", exists=True, dir_okay=False),
    labels: Path = typer.Option(..., "--labels", exists=True, dir_okay=False),
    profile: str = typer.Option("default", "--profile", help="Detector profile name"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
    markdown: Path | None = typer.Option(None, "--markdown", help="Also write Markdown here"),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Bootstrap seed"),
    resamples: int = typer.Option(DEFAULT_RESAMPLES, "--resamples", help="Bootstrap resamples"),
    warmup_days: float = typer.Option(
        DEFAULT_WARMUP_DAYS,
        "--warmup-days",
        min=0.0,
        help="Days after each series' first minute left out of event-level scoring (0 = none)",
    ),
    nab: bool = typer.Option(True, "--nab/--no-nab", help="Also report NAB scores"),
) -> None:
    """Run the detectors over a replay and score them against labelled windows."""
    try:
        config = get_config(profile)
        label_list = _read_labels(labels)
        # Streamed from the file through on-disk DuckDB, one platform at a time (bounded memory).
        found = detect_file(snapshots, config)
    except (UnknownProfileError, SourceError, LabelError) as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    rows = series_rows(snapshots)
    warmup = warmup_from_spans(series_spans(rows), warmup_days)
    report = build_report(
        found.events,
        label_list,
        scored_exposure(warmup),
        seed=seed,
        n_resamples=resamples,
        meta={"snapshots": str(snapshots), "labels_file": str(labels), "profile": profile},
        warmup=warmup,
        rows=rows if nab else None,
        nab_events=with_learned_alerts(found.events, found.learned_alerts),
    )
    text = render_markdown(report, title=f"Detection quality: {snapshots.name} ({profile})")
    if markdown is not None:
        markdown.write_text(text)
    typer.echo(json.dumps(report, indent=2) if as_json else text)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
