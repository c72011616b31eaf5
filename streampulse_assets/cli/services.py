"""`streampulse services up|down|status`: the embedded servers without the UI."""

from __future__ import annotations

import typer

from streampulse_assets.lib.services.manager import Services
from streampulse_assets.lib.services.postgres import EmbeddedServiceError
from streampulse_assets.lib.services.secrets import mask_url
from streampulse_assets.lib.settings import get_settings

app = typer.Typer(help="Start, stop or inspect the Postgres and Redis servers StreamPulse uses.")


def _print_status(services: Services) -> bool:
    healthy = True
    for st in services.status():
        kind = "embedded" if st.embedded else "external"
        state = "up" if st.running else "DOWN"
        healthy &= st.running
        typer.echo(f"{st.name:<9} {state:<5} {kind:<9} {st.url}  ({st.detail})")
    return healthy


@app.command("up")
def up() -> None:
    """Start the embedded servers (no-op for those configured by URL) and print their URLs."""
    services = Services(get_settings().stores)
    try:
        started = services.up()
    except EmbeddedServiceError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"started: {', '.join(started) or 'nothing (already running)'}")
    healthy = _print_status(services)
    _print_how_to_connect(services)
    if not healthy:
        raise typer.Exit(1)


def _print_how_to_connect(services: Services) -> None:
    """How to reach the servers, without printing a password (it stays in its 0600 file)."""
    s = get_settings()
    typer.echo("")
    if services.postgres_embedded:
        pg = services.postgres
        typer.echo(
            f"psql:  PGPASSFILE={pg.passfile} psql -h 127.0.0.1 -p {pg.port} -U postgres "
            "streampulse"
        )
        typer.echo(
            'export STREAMPULSE_POSTGRES_URL="postgresql://postgres:'
            f'$(cat {pg.root / "password"})@127.0.0.1:{pg.port}/streampulse"'
        )
    else:
        typer.echo("postgres: " + mask_url(s.stores.resolved_postgres_url()))
    if services.redis_embedded:
        rd = services.redis
        typer.echo(
            f'export STREAMPULSE_REDIS_URL="redis://:$(cat {rd.root / "password"})'
            f'@127.0.0.1:{rd.port}/0"'
        )
    else:
        typer.echo("redis: " + mask_url(s.stores.resolved_redis_url()))


@app.command("down")
def down() -> None:
    """Stop the embedded servers; data stays in .streampulse/."""
    stopped = Services(get_settings().stores).down()
    typer.echo(f"stopped: {', '.join(stopped) or 'nothing (not running)'}")


@app.command("status")
def status() -> None:
    """Show each server, its URL and whether it answers. Exit code 1 when one is down."""
    if not _print_status(Services(get_settings().stores)):
        raise typer.Exit(1)
