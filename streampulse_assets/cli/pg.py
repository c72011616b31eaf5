"""Connect a command to the configured Postgres, or exit with a clear message."""

from __future__ import annotations

import psycopg2
import typer

from streampulse_assets.lib.schema import migrate_postgres
from streampulse_assets.lib.services.secrets import mask_text, mask_url
from streampulse_assets.lib.settings import get_settings


def connect_or_exit():
    """A migrated psycopg2 connection to STREAMPULSE_POSTGRES_URL (or the embedded server)."""
    url = get_settings().stores.resolved_postgres_url()
    try:
        conn = psycopg2.connect(url, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        typer.secho(
            f"cannot reach Postgres at {mask_url(url)}: {mask_text(str(exc), url)}".strip()
            + "\n(start the embedded one with `streampulse services up`)",
            fg="red",
            err=True,
        )
        raise typer.Exit(1) from exc
    migrate_postgres(conn)
    return conn
