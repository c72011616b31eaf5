"""`streampulse alerts test|send`: check the configured sinks, or run one delivery pass."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from streampulse_assets.cli.pg import connect_or_exit
from streampulse_assets.lib.alerts.delivery import deliver_alerts
from streampulse_assets.lib.alerts.sinks import AlertMessage, SinkError
from streampulse_assets.lib.settings.configs import alert_gate, alert_sinks

app = typer.Typer(help="Alert sinks (Telegram, Slack, webhook) and delivery.", no_args_is_help=True)

NO_SINKS = (
    "no alert sink configured; set STREAMPULSE_TELEGRAM_BOT_TOKEN + STREAMPULSE_TELEGRAM_CHAT_ID, "
    "STREAMPULSE_SLACK_WEBHOOK_URL and/or STREAMPULSE_ALERT_WEBHOOK_URL"
)


@app.command("test")
def test() -> None:
    """Send a test message to every configured sink and print each result (exit 1 on a failure)."""
    sinks = alert_sinks()
    if not sinks:
        typer.secho(NO_SINKS, fg="yellow", err=True)
        raise typer.Exit(1)
    now = datetime.now(UTC)
    message = AlertMessage(
        text=f"[StreamPulse] test alert / 테스트 알림 ({now:%Y-%m-%d %H:%M:%S} UTC)",
        fields={"test": True, "ts": now.isoformat()},
    )
    failed = 0
    for sink in sinks:
        try:
            sink.send(message, f"streampulse-test-{now:%Y%m%dT%H%M%S}-{sink.name}")
        except SinkError as exc:
            failed += 1
            kind = "permanent" if exc.permanent else "retriable"
            typer.secho(f"{sink.name:<9} FAILED ({kind}): {exc}", fg="red")
        else:
            typer.secho(f"{sink.name:<9} OK", fg="green")
    if failed:
        raise typer.Exit(1)


@app.command("send")
def send(limit: int = typer.Option(100, help="At most this many deliveries in this pass.")) -> None:
    """Run one delivery pass against the configured Postgres and print what happened."""
    sinks = alert_sinks()
    if not sinks:
        typer.secho(NO_SINKS, fg="yellow", err=True)
        raise typer.Exit(1)
    conn = connect_or_exit()
    try:
        stats = deliver_alerts(conn, sinks, alert_gate(), limit=limit)
    finally:
        conn.close()
    typer.echo(" ".join(f"{key}={value}" for key, value in stats.as_dict().items()))
    for error in stats.errors:
        typer.secho(f"  {error}", fg="red")
    if stats.failed:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="alerts")
