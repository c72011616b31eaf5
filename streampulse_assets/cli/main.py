"""The `streampulse` command line."""

from __future__ import annotations

import typer

from streampulse_assets.cli import dev as dev_cmd
from streampulse_assets.cli import services

app = typer.Typer(
    help="StreamPulse: minute-level viewer spike detection for CHZZK and SOOP.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("dev")(dev_cmd.dev)
app.add_typer(services.app, name="services")


if __name__ == "__main__":
    app()
