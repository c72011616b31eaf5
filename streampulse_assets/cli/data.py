"""`streampulse simulate` and `streampulse import-nab`: write replay files and labels."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer

from streampulse_assets.lib.sources.base import SourceError


def _summary(rows: int, categories: int, labels: list[dict], out: Path, labels_out: Path) -> None:
    kinds = Counter(label["kind"] for label in labels)
    by_kind = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) or "none"
    typer.echo(f"wrote {rows:,} rows ({categories} categories) to {out}")
    typer.echo(f"wrote {len(labels)} labels to {labels_out}: {by_kind}")


def simulate(
    start: str = typer.Option(..., "--start", help="First minute, ISO UTC (e.g. 2024-05-01)"),
    end: str = typer.Option(..., "--end", help="End (exclusive), ISO UTC"),
    out: Path = typer.Option(..., "--out", help="Snapshots file (.parquet or .csv)"),
    labels: Path = typer.Option(..., "--labels", help="Labels JSON file"),
    seed: int | None = typer.Option(None, "--seed", help="Default: STREAMPULSE_SIMULATOR_SEED"),
    categories: int | None = typer.Option(
        None, "--categories", help="Categories per platform (default: settings)"
    ),
    scenario: str | None = typer.Option(
        None,
        "--scenario",
        help="'hard' (realistic) or 'classic' (easy); default: STREAMPULSE_SIMULATOR_SCENARIO",
    ),
) -> None:
    """Write a simulated history (replay format) and its ground-truth labels."""
    from streampulse_assets.lib.settings import get_settings
    from streampulse_assets.lib.sources.replay import write_labels, write_snapshots
    from streampulse_assets.lib.sources.simulator import Simulator

    settings = get_settings()
    try:
        sim = Simulator(
            seed=settings.sources.simulator.seed if seed is None else seed,
            categories_per_platform=settings.sources.simulator.categories
            if categories is None
            else categories,
            scenario=settings.sources.simulator.scenario if scenario is None else scenario,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    try:
        rows = write_snapshots(sim.iter_frames(start, end), out)
    except (ValueError, SourceError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    found = sim.labels(start, end)
    write_labels(found, labels)
    _summary(rows, sim.catalog.n, found, out, labels)


def import_nab_cmd(
    data_dir: Path = typer.Argument(..., help="Folder with NAB csv files (searched recursively)"),
    windows_json: Path = typer.Argument(..., help="NAB combined_windows.json"),
    out: Path = typer.Option(..., "--out", help="Snapshots file (.parquet or .csv)"),
    labels: Path = typer.Option(..., "--labels", help="Labels JSON file"),
    fixed_point: bool = typer.Option(
        False,
        "--fixed-point",
        help="Store each file's values x 10^k (its own resolution) so fractional series such as "
        "CPU percentages survive the integer viewers column",
    ),
) -> None:
    """Convert NAB files into the replay format plus nab_anomaly labels."""
    from streampulse_assets.lib.nab import import_nab
    from streampulse_assets.lib.sources.replay import write_labels, write_snapshots

    try:
        frame, found = import_nab(data_dir, windows_json, fixed_point=fixed_point)
        rows = write_snapshots(frame, out)
    except SourceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    write_labels(found, labels)
    _summary(rows, frame["category_id"].nunique(), found, out, labels)
    merged = frame.attrs.get("merged_rows", {})
    if merged:
        files = ", ".join(f"{stem} {n}" for stem, n in sorted(merged.items()))
        typer.echo(
            f"{sum(merged.values()):,} rows shared their minute with a later row of the same "
            f"file; the last row of each minute was kept ({files})"
        )


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
    app.command("import-nab")(import_nab_cmd)
