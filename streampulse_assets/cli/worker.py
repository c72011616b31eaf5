"""`streampulse worker`: analyse queued spike events (any number of workers share the queue)."""

from __future__ import annotations

import json
import logging
import os
import socket

import psycopg2
import typer

from streampulse_assets.lib.schema import migrate_postgres
from streampulse_assets.lib.services.secrets import mask_text, mask_url
from streampulse_assets.lib.settings import LanguageModelSettings, get_settings


def _check_postgres(url: str) -> None:
    try:
        conn = psycopg2.connect(url, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        typer.secho(
            f"Postgres is not reachable at {mask_url(url)}:\n  {mask_text(str(exc).strip(), url)}\n"
            "Start the embedded services with `streampulse services up` (or run `streampulse "
            "dev`), or set STREAMPULSE_POSTGRES_URL to a running server.",
            fg="red",
            err=True,
        )
        raise typer.Exit(2) from None
    try:
        migrate_postgres(conn)
    finally:
        conn.close()


def worker(
    concurrency: int = typer.Option(1, "--concurrency", "-c", min=1, help="Worker threads."),
    once: bool = typer.Option(False, "--once", help="Drain the queue once, then exit."),
    batch: int = typer.Option(10, "--batch", min=1, help="Events claimed per round trip."),
    max_events: int | None = typer.Option(None, "--max-events", help="Stop after N (--once)."),
) -> None:
    """Analyse PENDING spike events from the Postgres queue (offline without OPENAI_API_KEY).

    Runs until SIGTERM/Ctrl-C (finishing the current event and handing the rest of its batch
    back), or with --once until the queue is empty.
    """
    from streampulse_assets.lib.analysis import worker as analysis_worker  # heavy: lazy

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    pg_url, redis_url = (
        settings.stores.resolved_postgres_url(),
        settings.stores.resolved_redis_url(),
    )
    _check_postgres(pg_url)
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    tier = "openai" if LanguageModelSettings.read().api_key else "offline"
    typer.echo(f"worker {worker_id}: tier={tier} concurrency={concurrency} batch={batch}")
    if once:
        stats = analysis_worker.drain(
            pg_url,
            redis_url,
            worker_id=worker_id,
            concurrency=concurrency,
            batch=batch,
            max_events=max_events,
        )
    else:
        stats = analysis_worker.run_forever(
            pg_url, redis_url, worker_id=worker_id, concurrency=concurrency, batch=batch
        )
    typer.echo(json.dumps(stats.summary(), default=str))


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
