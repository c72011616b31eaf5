"""Notification sinks behind one interface: Telegram bot, Slack incoming webhook, generic webhook.

Configured from environment variables; none configured means no sinks (alerts stay in the UI and
logs). A sink raises `SinkError` on failure; `permanent=True` means retrying cannot help (a 4xx
other than 429), `retry_after` is the server's own back-off hint (Telegram 429, HTTP Retry-After).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

DEFAULT_TELEGRAM_BASE_URL = "https://api.telegram.org"
SIGNATURE_HEADER = "X-StreamPulse-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class SinkError(RuntimeError):
    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


@dataclass(frozen=True)
class AlertMessage:
    """What a sink sends: plain text (Korean safe) and the structured fields it was built from."""

    text: str
    fields: dict[str, Any]


class Sink(Protocol):
    name: str

    def send(self, message: AlertMessage, idempotency_key: str) -> None: ...


def _retry_after(response: httpx.Response) -> float | None:
    return _number(response.headers.get("Retry-After"))


def _post(url: str, *, content: bytes, headers: dict[str, str], what: str) -> httpx.Response:
    """POST; transport errors, 429 and 5xx are retriable `SinkError`s, other 4xx permanent."""
    headers = {"Content-Type": "application/json; charset=utf-8", **headers}
    try:
        response = httpx.post(url, content=content, headers=headers, timeout=_TIMEOUT)
    except httpx.HTTPError as exc:
        raise SinkError(f"{what}: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 400:
        retry_after = _retry_after(response)
        if retry_after is None and response.status_code == 429:
            params = _safe_json(response).get("parameters")  # Telegram puts it in the body
            retry_after = _number(params.get("retry_after")) if isinstance(params, dict) else None
        retriable = response.status_code == 429 or response.status_code >= 500
        raise SinkError(
            f"{what}: HTTP {response.status_code}: {response.text[:300]}",
            permanent=not retriable,
            retry_after=retry_after,
        )
    return response


def _number(value: object) -> float | None:
    try:
        return float(value) if value is not None else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class TelegramSink:
    """Telegram Bot API `sendMessage` (plain text, no parse mode, so no escaping issues)."""

    bot_token: str
    chat_id: str
    base_url: str = DEFAULT_TELEGRAM_BASE_URL
    name: str = "telegram"

    def send(self, message: AlertMessage, idempotency_key: str) -> None:
        url = f"{self.base_url.rstrip('/')}/bot{self.bot_token}/sendMessage"
        body = {"chat_id": self.chat_id, "text": message.text[:4096]}
        body["disable_web_page_preview"] = True
        try:
            response = _post(url, content=_json_bytes(body), headers={}, what="telegram")
        except SinkError as exc:
            raise SinkError(str(exc).replace(self.bot_token, "<token>"), **_kw(exc)) from None
        data = _safe_json(response)
        if not data.get("ok", False):
            raise SinkError(f"telegram: not ok: {response.text[:300]}", permanent=True)


@dataclass(frozen=True)
class SlackSink:
    """A Slack incoming webhook (`{"text": ...}`; &, < and > escaped as Slack requires)."""

    webhook_url: str
    name: str = "slack"

    def send(self, message: AlertMessage, idempotency_key: str) -> None:
        text = message.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        _post(self.webhook_url, content=_json_bytes({"text": text}), headers={}, what="slack")


@dataclass(frozen=True)
class WebhookSink:
    """A generic JSON POST with an idempotency key and, if a secret is set, an HMAC signature.

    The signature header is `sha256=<hex HMAC-SHA256 of the exact body bytes>`; the receiver can
    drop a repeated `Idempotency-Key` (the one re-send a crash between send and mark can cause).
    """

    url: str
    secret: str | None = None
    name: str = "webhook"

    def send(self, message: AlertMessage, idempotency_key: str) -> None:
        body = _json_bytes(
            {"idempotency_key": idempotency_key, "text": message.text, **message.fields}
        )
        headers = {IDEMPOTENCY_HEADER: idempotency_key}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        _post(self.url, content=body, headers=headers, what="webhook")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _kw(exc: SinkError) -> dict[str, Any]:
    return {"permanent": exc.permanent, "retry_after": exc.retry_after}


def _safe_json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def sinks_from_env(env: Mapping[str, str] | None = None) -> list[Sink]:
    """The sinks configured by STREAMPULSE_* variables, in a stable order (may be empty)."""
    env = os.environ if env is None else env
    get = lambda key: (env.get(f"STREAMPULSE_{key}") or "").strip()  # noqa: E731
    sinks: list[Sink] = []
    if get("TELEGRAM_BOT_TOKEN") and get("TELEGRAM_CHAT_ID"):
        base = get("TELEGRAM_BASE_URL") or DEFAULT_TELEGRAM_BASE_URL
        sinks.append(TelegramSink(get("TELEGRAM_BOT_TOKEN"), get("TELEGRAM_CHAT_ID"), base))
    if get("SLACK_WEBHOOK_URL"):
        sinks.append(SlackSink(get("SLACK_WEBHOOK_URL")))
    if get("ALERT_WEBHOOK_URL"):
        sinks.append(WebhookSink(get("ALERT_WEBHOOK_URL"), get("ALERT_WEBHOOK_SECRET") or None))
    return sinks
