"""`streampulse evaluate`: run V1 and V3 over a replay and print the quality report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer

from streampulse_assets.lib.quality.metrics import LabelError, exposure, labels_frame
from streampulse_assets.lib.quality.report import build_report, render_markdown
from streampulse_assets.lib.quality.stats import DEFAULT_RESAMPLES, DEFAULT_SEED
from streampulse_assets.lib.snapshots import SNAPSHOT_COLUMNS


class InputError(ValueError):
    pass


def _read_frame(path: Path) -> pd.DataFrame:
    """A canonical snapshot frame from a replay file: ReplaySource when available, else pandas."""
    try:
        from streampulse_assets.lib.sources.replay import ReplaySource
    except ImportError:
        ReplaySource = None
    if ReplaySource is not None:
        source = ReplaySource(path)
        return source.frame(pd.Timestamp.min.to_pydatetime(), pd.Timestamp.max.to_pydatetime())
    name = path.name.lower()
    if name.endswith(".parquet"):
        frame = pd.read_parquet(path)
    elif name.endswith((".csv", ".csv.gz", ".csv.zst")):
        frame = pd.read_csv(path)
    elif name.endswith((".jsonl", ".ndjson", ".jsonl.gz")):
        frame = pd.read_json(path, lines=True)
    elif name.endswith(".json"):
        frame = pd.read_json(path)
    else:
        raise InputError(f"{path}: unknown snapshot file type (parquet, csv, jsonl, json)")
    missing = {"platform", "category_id", "ts", "viewers"} - set(frame.columns)
    if missing:
        raise InputError(f"{path}: missing columns {sorted(missing)}")
    ts = pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(None).dt.floor("min")
    frame = frame.assign(
        platform=frame["platform"].astype("string"),
        category_id=frame["category_id"].astype("string"),
        ts=ts.astype("datetime64[us]"),
        category_name=frame.get("category_name", frame["category_id"]).astype("string"),
        viewers=frame["viewers"].astype("int64"),
        open_lives=frame.get("open_lives", pd.Series(pd.NA, index=frame.index)).astype("Int64"),
        top_streamers=frame.get("top_streamers", pd.Series("[]", index=frame.index)).astype(
            "string"
        ),
    )
    return frame[SNAPSHOT_COLUMNS].sort_values(["platform", "category_id", "ts"])


def _read_labels(path: Path) -> list[dict]:
    try:
        labels = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read labels: {exc}") from exc
    if not isinstance(labels, list):
        raise InputError(f"{path}: labels must be a JSON list of windows")
    labels_frame(labels)  # validates; raises LabelError with the offending label
    return labels


def evaluate(
    snapshots: Path = typer.Option(..., "--snapshots", exists=True, dir_okay=False),
    labels: Path = typer.Option(..., "--labels", exists=True, dir_okay=False),
    profile: str = typer.Option("default", "--profile", help="Detector profile name"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
    markdown: Path | None = typer.Option(None, "--markdown", help="Also write Markdown here"),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Bootstrap seed"),
    resamples: int = typer.Option(DEFAULT_RESAMPLES, "--resamples", help="Bootstrap resamples"),
) -> None:
    """Run both detectors over a replay and score them against labelled windows."""
    try:
        frame = _read_frame(snapshots)
        label_list = _read_labels(labels)
    except (InputError, LabelError, ValueError) as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    from streampulse_assets.lib.detection.engine import detect_frame

    events = detect_frame(frame, profile)
    report = build_report(
        events,
        label_list,
        exposure(frame),
        seed=seed,
        n_resamples=resamples,
        meta={"snapshots": str(snapshots), "labels_file": str(labels), "profile": profile},
    )
    text = render_markdown(report, title=f"Detection quality: {snapshots.name} ({profile})")
    if markdown is not None:
        markdown.write_text(text)
    typer.echo(json.dumps(report, indent=2) if as_json else text)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
