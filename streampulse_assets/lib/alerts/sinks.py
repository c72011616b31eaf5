"""Notification sinks behind one interface: Telegram bot, Slack incoming webhook, generic webhook.

Configured from environment variables; none configured means no sinks (alerts stay in the UI and
logs). A sink raises `SinkError` on failure; `permanent=True` means retrying cannot help (a 4xx
other than 429), `retry_after` is the server's own back-off hint (Telegram 429, HTTP Retry-After).

Spike charts (lib/analysis/chart.py): Telegram sends them with `sendPhoto` (multipart upload, the
alert text as the caption, which Telegram caps at 1024 characters; the text is built to fit, a
longer one goes out as `sendMessage` without the chart). Slack incoming webhooks cannot upload
files: a Block Kit `image` block needs a public URL, so the chart is linked only when
STREAMPULSE_ALERT_CHART_BASE_URL is set (`<base>/<event_id>.png`, the files `analysed_events`
writes to `<state>/charts/`, served by you); otherwise Slack gets the text and a note saying where
the chart is. The generic webhook sends JSON only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

DEFAULT_TELEGRAM_BASE_URL = "https://api.telegram.org"
TELEGRAM_CAPTION_LIMIT = 1024
CHART_NOTE = "(chart: Dagster UI, asset analysed_events)"
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
    chart: bytes | None = field(default=None, repr=False)  # PNG, for sinks that can attach it


class Sink(Protocol):
    name: str

    def send(self, message: AlertMessage, idempotency_key: str) -> None: ...


def _retry_after(response: httpx.Response) -> float | None:
    return _number(response.headers.get("Retry-After"))


def _post(
    url: str,
    *,
    content: bytes | None = None,
    headers: dict[str, str],
    what: str,
    data: dict[str, str] | None = None,
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> httpx.Response:
    """POST JSON `content` (or a multipart form of `data` and `files`); transport errors, 429
    and 5xx are retriable `SinkError`s, other 4xx permanent."""
    if files is None:
        headers = {"Content-Type": "application/json; charset=utf-8", **headers}
    try:
        response = httpx.post(
            url, content=content, data=data, files=files, headers=headers, timeout=_TIMEOUT
        )
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
    """Telegram Bot API: `sendPhoto` with the chart and the text as caption when there is a chart
    and the text fits a caption, else `sendMessage` (plain text, no parse mode: no escaping)."""

    bot_token: str
    chat_id: str
    base_url: str = DEFAULT_TELEGRAM_BASE_URL
    name: str = "telegram"
    wants_chart: bool = True

    def send(self, message: AlertMessage, idempotency_key: str) -> None:
        base = f"{self.base_url.rstrip('/')}/bot{self.bot_token}"
        try:
            if message.chart and len(message.text) <= TELEGRAM_CAPTION_LIMIT:
                response = _post(
                    f"{base}/sendPhoto",
                    data={"chat_id": self.chat_id, "caption": message.text},
                    files={"photo": ("spike.png", message.chart, "image/png")},
                    headers={},
                    what="telegram",
                )
            else:
                body = {"chat_id": self.chat_id, "text": message.text[:4096]}
                body["disable_web_page_preview"] = True
                response = _post(
                    f"{base}/sendMessage", content=_json_bytes(body), headers={}, what="telegram"
                )
        except SinkError as exc:
            raise SinkError(str(exc).replace(self.bot_token, "<token>"), **_kw(exc)) from None
        data = _safe_json(response)
        if not data.get("ok", False):
            raise SinkError(f"telegram: not ok: {response.text[:300]}", permanent=True)


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class SlackSink:
    """A Slack incoming webhook (&, < and > escaped as Slack requires). With `chart_base_url` the
    message is Block Kit: the text as a plain-text section and the chart as an `image` block at
    `<chart_base_url>/<event_id>.png`; without it, the text and a note where the chart is."""

    webhook_url: str
    chart_base_url: str | None = None
    name: str = "slack"

    def send(self, message: AlertMessage, idempotency_key: str) -> None:
        text = _slack_escape(message.text)
        event_id = message.fields.get("event_id")
        if self.chart_base_url and event_id is not None:
            url = f"{self.chart_base_url.rstrip('/')}/{event_id}.png"
            body: dict[str, Any] = {
                "text": text,
                "blocks": [
                    {"type": "section", "text": {"type": "plain_text", "text": message.text}},
                    {"type": "image", "image_url": url, "alt_text": "spike chart"},
                ],
            }
        else:
            body = {"text": f"{text}\n{CHART_NOTE}"}
        _post(self.webhook_url, content=_json_bytes(body), headers={}, what="slack")


@dataclass(frozen=True)
class WebhookSink:
    """A generic JSON POST with an idempotency key and, if a secret is set, an HMAC signature.

    The signature header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body bytes>">` (the
    Stripe scheme): a receiver checks it with `verify_signature`, which also refuses a timestamp
    older than its tolerance, so a captured request cannot be replayed later; it can still drop a
    repeated `Idempotency-Key` (the one re-send a crash between send and mark can cause).
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


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """`t=<unix>,v1=<hex>` for `body` signed now (or at `timestamp`)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},v1={_mac(secret, t, body)}"


def verify_signature(
    secret: str, header: str | None, body: bytes, tolerance_s: float = 300, now: float | None = None
) -> bool:
    """True when `header` carries a `v1` HMAC of "t.body" under `secret` and `t` is within
    `tolerance_s` of `now` (either side). Several `v1` values (a rotated secret) are allowed."""
    if not header:
        return False
    stamps, macs = [], []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            stamps.append(value)
        elif key == "v1":
            macs.append(value)
    if len(stamps) != 1 or not macs or not stamps[0].isdigit():
        return False
    t = int(stamps[0])
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = _mac(secret, t, body)
    return any(hmac.compare_digest(expected, m) for m in macs)


def _kw(exc: SinkError) -> dict[str, Any]:
    return {"permanent": exc.permanent, "retry_after": exc.retry_after}


def _safe_json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
