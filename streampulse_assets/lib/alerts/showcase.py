"""The latest explained spikes for the Dagster UI: the alert text and the chart, as Markdown.

The text is `build_message(event).text`, the very text Telegram, Slack and the webhook send, so
the UI and the alerts say the same thing. Charts are PNG files `<folder>/<event_id>.png` (0600,
written atomically) rendered from the queue row's evidence, and are inlined in the Markdown as
`data:image/png;base64` images: Dagster's Markdown renderer (rehype-sanitize schema extended with
the `data` protocol for `img src`, dagster-io/dagster#13443) displays them, and the webserver's
CSP sets no `img-src`. A file link would not open from a browser.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from streampulse_assets.lib.alerts.message import build_message
from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.analysis.chart import chart_for, markdown_entry, md_escape
from streampulse_assets.lib.settings import get_settings
from streampulse_assets.lib.timeutil import aware_utc


def _primary() -> str:
    return get_settings().detection.primary_detector


def spikes_by_id(pg_conn, ids: Iterable[int]) -> list[dict[str, Any]]:
    """The analysed SPIKE queue rows of the primary detector among `ids` (others get no chart)."""
    ids = [int(i) for i in ids]
    if not ids:
        return []
    return queue.analysed_spikes_by_id(pg_conn, _primary(), ids)


def latest_spikes(pg_conn, limit: int = 3) -> list[dict[str, Any]]:
    """The `limit` most recently analysed SPIKE rows of the primary detector, newest first."""
    return queue.latest_analysed_spikes(pg_conn, _primary(), limit)


def chart_path(folder: Path, event_id: int) -> Path:
    return folder / f"{int(event_id)}.png"


def write_chart(folder: Path, event: dict[str, Any]) -> Path | None:
    """Render and store the event's chart (None when its evidence has no series)."""
    png = chart_for(event.get("evidence"), event.get("result"))
    if png is None:
        return None
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = chart_path(folder, event["id"])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(png)
    os.replace(tmp, path)
    return path


def _heading(event: dict[str, Any]) -> str:
    ts = event["ts"]  # the warehouse's naive UTC, or an aware time from Postgres
    when = f"{aware_utc(ts):%Y-%m-%d %H:%M} UTC" if isinstance(ts, datetime) else str(ts)
    name = event.get("category_name") or event["category_id"]
    return f"#### #{event['id']} · {event['platform'].upper()} · {md_escape(name)} · {when}"


def showcase_markdown(events: list[dict[str, Any]], folder: Path) -> str:
    """Markdown of the given events (newest first): heading, alert text, inline chart."""
    if not events:
        return f"No analysed {_primary()} spike yet."
    parts = []
    for event in events:
        path = chart_path(folder, event["id"])
        if not path.exists():
            write_chart(folder, event)
        png = path.read_bytes() if path.exists() else None
        text = build_message(event).text
        body = markdown_entry(text, png, chart_path=str(path) if png else None)
        if png is None:
            body += "\n\n_no viewer series was captured for this event, so it has no chart_"
        parts.append(f"{_heading(event)}\n\n{body}")
    return "\n\n---\n\n".join(parts)
