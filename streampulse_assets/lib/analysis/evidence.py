"""Reading a queued event's evidence (contracts.md): its top streamers with their numbers 60
minutes earlier, the lead streamer, each streamer's share of the rise and of current viewers, and
what the evidence lacks. The offline tier, the LLM payload and the charts all cite these figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streampulse_assets.lib.analysis.models import QueueEvent


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return default if value is None else float(value)
    except (TypeError, ValueError):
        return default


def fmt(n: float) -> str:
    return f"{round(n):,}"


@dataclass
class Streamer:
    channel_id: str
    name: str
    title: str
    viewers: float
    before: float | None
    title_before: str | None
    category_before: str | None

    @property
    def gain(self) -> float:
        return self.viewers - (self.before or 0.0)

    @property
    def went_live(self) -> bool:
        return self.before is None and self.category_before is None

    @property
    def title_changed(self) -> bool:
        return self.title_before is not None and self.title_before.strip() != self.title.strip()


def streamers(event: QueueEvent) -> list[Streamer]:
    out = []
    for s in event.top_streamers:
        before = s.get("viewers_before")
        out.append(
            Streamer(
                channel_id=str(s.get("channel_id") or s.get("channel_name") or "?"),
                name=str(s.get("channel_name") or s.get("channel_id") or "?"),
                title=str(s.get("title") or ""),
                viewers=_num(s.get("viewers")),
                before=None if before is None else _num(before),
                title_before=s.get("title_before"),
                category_before=s.get("category_before"),
            )
        )
    return out


def lead_streamer(event: QueueEvent) -> Streamer | None:
    """The streamer with the largest own rise (ties: most viewers)."""
    found = streamers(event)
    return max(found, key=lambda s: (s.gain, s.viewers)) if found else None


def category_delta(event: QueueEvent) -> float:
    """The category's rise the explanation cites: evidence `delta` (current - baseline_short)."""
    return _num(event.evidence.get("delta"))


def rise_share(event: QueueEvent, s: Streamer) -> float | None:
    """The streamer's contribution to the rise: (viewers now - viewers_before) / category delta."""
    delta = category_delta(event)
    return s.gain / delta if delta > 0 else None


def viewer_share(event: QueueEvent, s: Streamer) -> float | None:
    """The streamer's share of the category's current viewers (not of the rise)."""
    current = _num(event.evidence.get("current"))
    return s.viewers / current if current > 0 else None


def _pct(share: float | None) -> str:
    return "?" if share is None else f"{share:.0%}"


def figures(event: QueueEvent) -> dict[str, Any]:
    """Each top streamer's rise (+viewers), share of the rise and share of current viewers, and
    the top 5 together; the same figures the offline text cites and the LLM is given."""
    found = streamers(event)
    top_gain = sum(max(s.gain, 0.0) for s in found)
    delta = category_delta(event)
    return {
        "category_delta": delta,
        "top5_gain": top_gain,
        "top5_rise_share": top_gain / delta if delta > 0 else None,
        "streamers": [
            {
                "channel_name": s.name,
                "gain": s.gain,
                "rise_share": rise_share(event, s),
                "viewer_share": viewer_share(event, s),
            }
            for s in found
        ],
        "missing": missing(event),
    }


def missing(event: QueueEvent) -> list[str]:
    """What the evidence of THIS event lacks to explain the rise (empty when nothing is)."""
    ev, found = event.evidence, streamers(event)
    out: list[str] = []
    if not found:
        out.append("no top-streamer data came with the event, so who drove the rise is unknown")
    else:
        lead = max(found, key=lambda s: (s.gain, s.viewers))
        if lead.before is None and not lead.category_before:
            out.append(
                f"no snapshot of the leading streamer {lead.name} from 60 minutes earlier (not "
                "live or outside every top 5 then), so where their viewers came from is unknown"
            )
        delta = category_delta(event)
        outside = delta - sum(max(s.gain, 0.0) for s in found)
        if delta > 0 and outside > 0.5 * delta:
            out.append(
                f"+{fmt(outside)} of the +{fmt(delta)} rise came from streams outside the top 5, "
                "which the evidence does not list"
            )
    if ev.get("open_lives") is None or ev.get("open_lives_before") is None:
        out.append("the number of open lives is unknown, so new streams cannot be counted")
    if ev.get("season_source") == "fallback":
        out.append("there is no history from 24 hours or 7 days earlier to compare this hour with")
    return out


def person_driven(event: QueueEvent) -> bool:
    return _num(event.evidence.get("contribution_ratio")) >= 0.5
