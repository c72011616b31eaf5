"""`streampulse evaluate`: run V1 and V3 over a replay and print the quality report."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from streampulse_assets.lib.detection.config import UnknownProfileError, get_config
from streampulse_assets.lib.detection.filerun import detect_file
from streampulse_assets.lib.quality.metrics import LabelError, exposure_from_span, labels_frame
from streampulse_assets.lib.quality.report import build_report, render_markdown
from streampulse_assets.lib.quality.stats import DEFAULT_RESAMPLES, DEFAULT_SEED
from streampulse_assets.lib.sources.base import SourceError
from streampulse_assets.lib.sources.replay import labels_from_file


def _read_labels(path: Path) -> list[dict]:
    labels = labels_from_file(path)
    labels_frame(labels)  # validates kinds and timestamps; LabelError names the label
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
        config = get_config(profile)
        label_list = _read_labels(labels)
        # Streamed from the file through on-disk DuckDB, one platform at a time (bounded memory).
        found = detect_file(snapshots, config)
    except (UnknownProfileError, SourceError, LabelError) as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    report = build_report(
        found.events,
        label_list,
        exposure_from_span(found.categories, found.first, found.last),
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
