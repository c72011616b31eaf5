"""Alerts: which events deserve one (the gate) and where they go (the sinks)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr, field_validator

from streampulse_assets.lib.settings.base import Group, group, var

MIN_SENDING_LEASE_SECONDS = 30.0  # above the sinks' own timeouts (10 s read, 5 s connect)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class GateSettings(Group):
    """Alerts: gate"""

    blank_is_unset = True

    mode: Annotated[str, BeforeValidator(_lower)] = var(
        "STREAMPULSE_ALERT_GATE",
        "confirmed",
        "`confirmed` (analysed spikes of the primary detector with verdict CONFIRMED) or "
        "`delta` (every primary spike ≥ `STREAMPULSE_ALERT_MIN_DELTA`, also unanalysed ones "
        "after `STREAMPULSE_ALERT_ANALYSIS_WAIT_MINUTES`)",
    )
    min_delta: float = var(
        "STREAMPULSE_ALERT_MIN_DELTA", 0.0, "`delta` gate: the smallest viewer rise alerted"
    )
    max_age_hours: float = var(
        "STREAMPULSE_ALERT_MAX_AGE_HOURS",
        24.0,
        "older events are never alerted (no history replay to a new sink)",
    )
    analysis_wait_minutes: float = var(
        "STREAMPULSE_ALERT_ANALYSIS_WAIT_MINUTES",
        10.0,
        "`delta` gate: how long a spike waits for its analysis before it is alerted without one",
    )
    sending_lease_seconds: float = var(
        "STREAMPULSE_ALERT_SENDING_LEASE_SECONDS",
        120.0,
        "a delivery marked SENDING whose sender died (crash, `kill -9`) is sent again, with the "
        "same `Idempotency-Key`, after this long (at least 30, above the sinks' timeouts, so a "
        "send still waiting for its answer is never doubled)",
    )

    @field_validator("sending_lease_seconds")
    @classmethod
    def _lease_above_timeouts(cls, value: float) -> float:
        if not value >= MIN_SENDING_LEASE_SECONDS:
            raise ValueError(f"must be at least {MIN_SENDING_LEASE_SECONDS:g} seconds")
        return value


class SinkSettings(Group):
    """Alerts: sinks"""

    blank_is_unset = True

    telegram_bot_token: SecretStr | None = var(
        "STREAMPULSE_TELEGRAM_BOT_TOKEN", None, "Telegram alerts: the bot token"
    )
    telegram_chat_id: str | None = var(
        "STREAMPULSE_TELEGRAM_CHAT_ID", None, "Telegram alerts: the chat (both needed)"
    )
    telegram_base_url: str = var(
        "STREAMPULSE_TELEGRAM_BASE_URL", "https://api.telegram.org", "Telegram Bot API host"
    )
    slack_webhook_url: SecretStr | None = var(
        "STREAMPULSE_SLACK_WEBHOOK_URL", None, "Slack incoming webhook"
    )
    chart_base_url: str | None = var(
        "STREAMPULSE_ALERT_CHART_BASE_URL",
        None,
        "where you serve `.streampulse/charts/` (e.g. `https://host/charts`): Slack alerts then "
        "show each spike's chart as an image block (`<base>/<event_id>.png`); Telegram always "
        "gets the chart itself (sendPhoto); unset, Slack gets the text and a note that the "
        "chart is in the Dagster UI",
    )
    webhook_url: SecretStr | None = var(
        "STREAMPULSE_ALERT_WEBHOOK_URL",
        None,
        "generic JSON webhook with `Idempotency-Key`",
    )
    webhook_secret: SecretStr | None = var(
        "STREAMPULSE_ALERT_WEBHOOK_SECRET",
        None,
        "the webhook's signing secret: requests then carry `X-StreamPulse-Signature: "
        't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (Stripe style; check it with '
        "`lib/alerts/sinks.verify_signature(secret, header, body, tolerance_s=300)`, which "
        "refuses timestamps more than 5 minutes off, so a captured request cannot be replayed)",
    )


class AlertsSettings(Group):
    """Alerts"""

    gate: GateSettings = group(GateSettings)
    sinks: SinkSettings = group(SinkSettings)
