"""The alert text and fields for one analysed event (a Postgres `analysis_queue` row as a dict).

Plain text with no markup, so Korean category names, streamer names and titles go through every
sink unchanged. The same text is the Telegram photo caption and the explanation shown in the
Dagster UI (`analysed_events`), so the explanation is cut to keep the whole text within Telegram's
1024-character caption limit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streampulse_assets.lib.alerts.sinks import AlertMessage

MAX_TEXT = 1024  # Telegram's caption limit (sendPhoto)


def _num(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _fmt(value: float | None) -> str:
    return "?" if value is None else f"{value:,.0f}"


def _iso(ts: Any) -> str:
    return ts.isoformat() if isinstance(ts, datetime) else str(ts)


def _minute(ts: Any) -> str:
    if isinstance(ts, datetime):
        ts = ts.astimezone(UTC) if ts.tzinfo else ts
        return f"{ts:%Y-%m-%d %H:%M} UTC"
    return str(ts)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_message(event: dict[str, Any]) -> AlertMessage:
    evidence = event.get("evidence") or {}
    result = event.get("result") or {}
    current = _num(evidence.get("current"))
    baseline = _num(evidence.get("baseline_season"))
    if baseline is None:
        baseline = _num(evidence.get("baseline_short"))
    delta = _num(evidence.get("delta"))
    if delta is None and current is not None and baseline is not None:
        delta = current - baseline
    streamers = evidence.get("top_streamers") or []
    top = streamers[0] if streamers and isinstance(streamers[0], dict) else {}
    category = event.get("category_name") or evidence.get("category_name") or event["category_id"]
    verdict = result.get("verdict") or f"not analysed ({event.get('analysis_status', '?')})"
    explanation = str(result.get("summary") or result.get("reason") or "")
    fields = {
        "event_id": event["id"],
        "platform": event["platform"],
        "category_id": event["category_id"],
        "category_name": category,
        "ts": _iso(event["ts"]),
        "cause": event.get("cause"),
        "current": current,
        "baseline": baseline,
        "delta": delta,
        "top_streamer": top.get("channel_name"),
        "top_streamer_viewers": _num(top.get("viewers")),
        "top_streamer_title": top.get("title"),
        "verdict": result.get("verdict"),
        "confidence": _num(result.get("confidence")),
        "explanation": explanation,
    }
    ratio = f" (x{current / baseline:.2f})" if current and baseline else ""
    change = "?" if delta is None else f"{delta:+,.0f}"
    lines = [
        f"[StreamPulse] SPIKE {event['platform'].upper()} · {category}",
        f"Viewers {_fmt(current)} vs baseline {_fmt(baseline)}: {change}{ratio}",
    ]
    if top:
        title = f" — {_clip(str(top.get('title') or ''), 200)}" if top.get("title") else ""
        lines.append(f"Top streamer: {top.get('channel_name')} ({_top_figures(top, delta)}){title}")
    if event.get("cause"):
        lines.append(f"Cause: {event['cause']}")
    conf = fields["confidence"]
    lines.append(f"Verdict: {verdict}" + (f" ({conf:.2f})" if conf is not None else ""))
    tail = f"{_minute(event['ts'])} · event #{event['id']}"
    if explanation:
        room = MAX_TEXT - len("\n".join([*lines, tail])) - len("\nWhy: ")
        explanation = _clip(explanation, max(room, 1))
        fields["explanation"] = explanation
        lines.append(f"Why: {explanation}")
    text = "\n".join([*lines, tail])
    return AlertMessage(text=_clip(text, MAX_TEXT), fields=fields)


def _top_figures(top: dict[str, Any], delta: float | None) -> str:
    """Viewers, and when the streamer's earlier count is known, their contribution to the rise
    (gain / category delta), kept apart from their share of viewers."""
    viewers = _num(top.get("viewers"))
    out = f"{_fmt(viewers)} viewers"
    before = _num(top.get("viewers_before"))
    if viewers is not None and (before is not None or top.get("category_before")):
        gain = viewers - (before or 0.0)
        out += f", {gain:+,.0f}"
        if delta and delta > 0:
            out += f" = {gain / delta:.0%} of the rise"
    return out
