"""`streampulse label EVENT_ID --true|--false [--note TEXT]`: the operator's verdict on an event."""

from __future__ import annotations

import typer

from streampulse_assets.cli.pg import connect_or_exit
from streampulse_assets.lib.quality.feedback import UnknownEventError, record_label

_MAX_ID = 2**63 - 1  # BIGSERIAL


def label(
    event_id: str = typer.Argument(..., help="Id of the signal event (Postgres analysis_queue.id)"),
    verdict: bool = typer.Option(
        ..., "--true/--false", help="--true: a real spike; --false: a false alarm"
    ),
    note: str | None = typer.Option(None, "--note", help="Free text kept with the verdict"),
) -> None:
    """Record whether a detector event was a real spike; labelling again replaces the verdict."""
    if not event_id.strip().isdigit() or int(event_id) > _MAX_ID:
        typer.secho(f"bad event id {event_id!r}: expected a positive integer", fg="red", err=True)
        raise typer.Exit(1)
    conn = connect_or_exit()
    try:
        saved = record_label(conn, int(event_id), verdict, note)
    except UnknownEventError as exc:
        typer.secho(f"{exc}; nothing recorded", fg="red", err=True)
        raise typer.Exit(1) from exc
    finally:
        conn.close()
    word = "true spike" if saved.verdict else "false alarm"
    action = "replaced the earlier verdict" if saved.replaced else "recorded"
    typer.echo(f"event {saved.event_id}: {word} ({action})")


def register(app: typer.Typer) -> None:
    # "-3" reaches the id check (exit 1) instead of being parsed as an unknown option.
    app.command("label", context_settings={"ignore_unknown_options": True})(label)
