"""`streampulse detect`: run the detection engine over a replay file, without Dagster."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from streampulse_assets.lib.detection.config import UnknownProfileError, get_config
from streampulse_assets.lib.detection.filerun import detect_file
from streampulse_assets.lib.detection.frame import SnapshotFrameError


def write_events(events: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".parquet", ".pq"):
        events.to_parquet(path, index=False)
    elif path.suffix.lower() == ".csv":
        events.to_csv(path, index=False)
    else:
        raise typer.BadParameter(f"{path}: use a .csv or .parquet output file", param_hint="--out")


def detect(
    snapshots: Path = typer.Option(
        ...,
        "--snapshots",
        exists=True,
        dir_okay=False,
        help="Replay file (.csv or .parquet) of minute snapshots",
    ),
    detector: str = typer.Option(
        "both", "--detector", help="v1, v3, both (v1 and v3), learned or all"
    ),
    profile: str = typer.Option("default", "--profile", help="Detector profile name"),
    out: Path | None = typer.Option(None, "--out", help="Write the events (.csv or .parquet)"),
) -> None:
    """Run the detectors (V3, V1 and LEARNED) over a replay file; write or summarise events."""
    from streampulse_assets.lib.sources.base import SourceError

    wanted = {
        "both": {"V1", "V3"},
        "v1": {"V1"},
        "v3": {"V3"},
        "learned": {"LEARNED"},
        "all": {"V1", "V3", "LEARNED"},
    }.get(detector.lower())
    if wanted is None:
        raise typer.BadParameter("use v1, v3, both, learned or all", param_hint="--detector")
    try:
        config = get_config(profile)
        found = detect_file(snapshots, config)  # streamed, one platform at a time
    except (UnknownProfileError, SourceError, SnapshotFrameError, ValueError) as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    events = found.events
    events = events[events["detector"].isin(wanted)].reset_index(drop=True)
    if out is not None:
        write_events(events, out)
    counts = events.groupby(["detector", "level"]).size() if len(events) else pd.Series()
    summary = ", ".join(f"{d} {lvl}: {n}" for (d, lvl), n in counts.items()) or "no events"
    target = f" -> {out}" if out is not None else ""
    typer.echo(f"{found.rows} snapshots, profile {profile}: {summary}{target}")


def register(app: typer.Typer) -> None:
    app.command("detect")(detect)
