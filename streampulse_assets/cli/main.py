"""The `streampulse` command line."""

import importlib
import importlib.util

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

# Each command group lives in its own module exposing `register(app)`.
COMMAND_MODULES = ["data", "detect", "worker", "evaluate", "label", "alerts"]
for _name in COMMAND_MODULES:
    _module = f"streampulse_assets.cli.{_name}"
    if importlib.util.find_spec(_module) is not None:
        importlib.import_module(_module).register(app)


if __name__ == "__main__":
    app()
