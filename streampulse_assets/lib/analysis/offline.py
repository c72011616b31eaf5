"""The deterministic tier: watcher, analyst and editor from the event's own evidence.

Used when there is no OPENAI_API_KEY (and as the fallback when a model refuses or answers outside
the schema). It explains what the numbers show - who drove the rise (each streamer's
contribution to the rise and, separately, their share of current viewers),
whether the market grew (market proof, open lives), title changes, streamers going live or arriving
from other categories - and says plainly what it cannot know (chat, news, VODs are not visible).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streampulse_assets.lib.analysis.models import (
    AnalystOutput,
    EditorOutput,
    QueueEvent,
    WatcherOutput,
)
from streampulse_assets.lib.timeutil import minute_to_dt, to_minute

CACHE_BUCKET_MINUTES = 60
_TYPE_WORDS = {
    "TALK": ("talk", "chatting", "토크", "저챗", "소통", "잡담"),
    "ESPORTS": ("esports", "e-sports", "lck", "league cup", "대회"),
    "SPORTS": ("sports", "축구", "야구", "농구", "football", "baseball"),
    "MUSIC": ("music", "음악", "노래", "singing"),
    "CREATIVE": ("art", "그림", "creative", "drawing"),
    "IRL": ("irl", "먹방", "여행", "travel", "cooking", "요리"),
}
_KIND_WORDS = {
    "TOURNAMENT_OR_BROADCAST": ("대회", "tournament", "cup", "결승", "final", "lck", "중계"),
    "GAME_RELEASE_OR_UPDATE": ("update", "patch", "업데이트", "출시", "release", "launch", "신작"),
    "COLLAB_OR_RAID": ("합방", "collab", "raid", "콜라보"),
}
_STOP = {"the", "and", "with", "live", "방송", "오늘", "stream", "ft", "feat"}


def _num(value: Any, default: float = 0.0) -> float:
    try:
        return default if value is None else float(value)
    except (TypeError, ValueError):
        return default


def fmt(n: float) -> str:
    return f"{round(n):,}"


def _slug(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z_.\-가-힣]+", "_", str(text)).strip("_")[:48] or "-"


def title_hash(title: str | None) -> str:
    if not title:
        return "-"
    norm = " ".join(title.lower().split())
    return hashlib.sha1(norm.encode()).hexdigest()[:10]


def time_bucket(ts: datetime, minutes: int = CACHE_BUCKET_MINUTES) -> str:
    """Start of the UTC bucket holding `ts` (naive = UTC), as YYYYmmddHHMM."""
    total = to_minute(ts, ceil=False)
    return minute_to_dt(total - total % minutes).strftime("%Y%m%d%H%M")


def title_words(*titles: str | None, limit: int = 6) -> list[str]:
    words: list[str] = []
    for title in titles:
        for w in re.findall(r"[0-9A-Za-z가-힣][0-9A-Za-z가-힣'+\-]*", title or ""):
            if len(w) >= 2 and w.lower() not in _STOP and w not in words:
                words.append(w)
    return words[:limit]


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


def _missing_text(event: QueueEvent) -> str:
    items = missing(event)
    return f" Missing for this event: {'; '.join(items)}." if items else ""


def person_driven(event: QueueEvent) -> bool:
    return _num(event.evidence.get("contribution_ratio")) >= 0.5


def category_type(name: str) -> str:
    low = name.lower()
    for kind, words in _TYPE_WORDS.items():
        if any(w in low for w in words):
            return kind
    return "GAME"


def cache_key(event: QueueEvent, bucket_minutes: int = CACHE_BUCKET_MINUTES) -> str:
    """`spike:{platform}:{entity}:{streamer}:{title_hash}:{time_bucket}` from the evidence only.

    The entity is the category id and the streamer the lead streamer when the rise is person
    driven (else "-"), so keys are stable across retries, workers and tiers.
    """
    lead = lead_streamer(event) if person_driven(event) else None
    parts = [
        _slug(event.platform),
        _slug(event.category_id),
        _slug(lead.channel_id) if lead else "-",
        title_hash(lead.title) if lead else "-",
        time_bucket(event.ts, bucket_minutes),
    ]
    return "spike:" + ":".join(parts)


def watch(event: QueueEvent) -> WatcherOutput:
    ev = event.evidence
    lead = lead_streamer(event)
    person = person_driven(event) and lead is not None
    entity = lead.name if person else event.name
    titles = [lead.title] if person else [s.title for s in streamers(event)[:3]]
    keywords = title_words(*titles, lead.category_before if person else None)
    reason = (
        f"{event.name}: {fmt(_num(ev.get('baseline_short')))} -> {fmt(_num(ev.get('current')))} "
        f"viewers (x{_num(ev.get('growth_ratio')):.2f}, +{fmt(_num(ev.get('delta')))})"
    )
    if person:
        reason += f", {lead.name} +{fmt(lead.gain)}"
    explained = bool(lead and (lead.went_live or lead.category_before or lead.title_changed))
    return WatcherOutput(
        category_type=category_type(event.name),
        entity=entity,
        event_keywords=keywords,
        spike_reason=reason,
        needs_research=not (person and explained),
    )


def _kind_from_words(*titles: str | None) -> str | None:
    text = " ".join(t for t in titles if t).lower()
    for kind, words in _KIND_WORDS.items():
        if any(re.search(rf"(?<![a-z]){re.escape(w)}(?![a-z])", text) for w in words):
            return kind
    return None


def _person(event: QueueEvent, lead: Streamer, found: list[Streamer]) -> tuple[str, str, float]:
    delta = max(category_delta(event), 1.0)
    co_risers = [s for s in found if s is not lead and s.gain >= 0.25 * delta]
    said = _kind_from_words(lead.title)
    if lead.category_before:
        what = f"{lead.name} arrived from {lead.category_before} with {fmt(lead.viewers)} viewers"
        return "CATEGORY_MOVE", what, 0.85
    if lead.went_live:
        what = f"{lead.name} went live with {fmt(lead.viewers)} viewers"
        return "STREAM_START", what, 0.8
    if co_risers:
        names = ", ".join(s.name for s in [lead, *co_risers])
        return "COLLAB_OR_RAID", f"{names} rose together (+{fmt(lead.gain)} for {lead.name})", 0.7
    if lead.title_changed:
        what = f'{lead.name} changed the title to "{lead.title}" (+{fmt(lead.gain)} viewers)'
        return said or "TITLE_CHANGE", what, 0.75
    what = f"{lead.name} grew from {fmt(lead.before or 0)} to {fmt(lead.viewers)} viewers"
    return said or "STREAMER_SURGE", what, 0.6 if said else 0.5


def _keywords(names: list[str | None], titles: list[str], tail: list[str | None]) -> list[str]:
    words = [n for n in names if n] + title_words(*titles, limit=5) + [t for t in tail if t]
    return list(dict.fromkeys(words))[:8]


def analyse(event: QueueEvent, context: list[str] | None = None) -> AnalystOutput:
    """Verdict, kind, keywords, reason and confidence from the evidence alone."""
    ev = event.evidence
    found = streamers(event)
    contribution = _num(ev.get("contribution_ratio"))
    market = bool(ev.get("market_proof"))
    delta, required = _num(ev.get("delta")), _num(ev.get("required_delta"))
    lives, lives_before = ev.get("open_lives"), ev.get("open_lives_before")
    more_lives = lives is not None and lives_before is not None and lives - lives_before >= 3
    numbers = (
        f"{event.name} rose from {fmt(_num(ev.get('baseline_short')))} to "
        f"{fmt(_num(ev.get('current')))} viewers (x{_num(ev.get('growth_ratio')):.2f}, "
        f"+{fmt(delta)}; required +{fmt(required)})."
    )
    history = f" Context: {' '.join(context[:3])}" if context else ""
    if not found:
        return AnalystOutput(
            verdict="INSUFFICIENT",
            event_kind="UNKNOWN",
            keywords=[event.name],
            reason=numbers + _missing_text(event) + history,
            confidence=0.2,
        ).clean()
    lead = max(found, key=lambda s: (s.gain, s.viewers))
    known = all(s.before is not None or s.category_before for s in found)
    top_gain = sum(max(s.gain, 0.0) for s in found)
    top_share = top_gain / delta if delta > 0 else None
    limits = " Offline analysis cannot see chat, news or VODs"
    if known and top_gain < 0.1 * max(delta, 1.0) and not market and not more_lives:
        reason = (
            f"{numbers} The top 5 streams gained only {fmt(top_gain)} together and open lives did "
            "not rise, so the jump is not visible in any stream: likely a measurement artifact, or "
            "a rise spread over many small streams outside the top 5 that the evidence cannot "
            "show." + history
        )
        return AnalystOutput(
            verdict="NO_EVENT",
            event_kind="DATA_ARTIFACT",
            keywords=[event.name],
            reason=reason,
            confidence=0.45,
        ).clean()
    if contribution >= 0.5:
        kind, what, conf = _person(event, lead, found)
        conf = min(0.9, conf * (0.8 + 0.2 * min(contribution, 1.0)))
        why = (
            f"{what}; the top 5 streamers added +{fmt(top_gain)} ({_pct(top_share)} of the "
            f"rise) and {lead.name} alone {lead.gain:+,.0f} ({_pct(rise_share(event, lead))} of "
            f"the rise; {_pct(viewer_share(event, lead))} of current viewers)."
        )
        limits += ", so why viewers followed (an announcement, a clip, a raid) is not confirmed."
        keywords = _keywords([lead.name], [lead.title], [lead.category_before, event.name])
    else:
        said = _kind_from_words(*(s.title for s in found))
        kind = said or "CATEGORY_SURGE"
        spread = f"open lives went from {lives_before} to {lives}" if more_lives else ""
        proof = "the market grew beyond one stream" if market else "no market proof"
        why = (
            f"The rise is spread over the category (the top 5 added +{fmt(top_gain)}, "
            f"{_pct(top_share)} of the rise); {proof}" + (f", {spread}" if spread else "") + "."
        )
        conf = 0.7 if market or more_lives else 0.4
        limits += ", so the shared trigger (a release, a broadcast, an event) is unknown."
        keywords = _keywords([event.name], [s.title for s in found[:3]], [])
    verdict = "CONFIRMED"
    if event.level == "CANDIDATE":  # the detector itself called it a weaker signal
        conf *= 0.8
    unexplained = kind in {"STREAMER_SURGE", "CATEGORY_SURGE"}
    gap = ""
    if event.level == "CANDIDATE" and delta < required and unexplained:
        verdict, conf = "INSUFFICIENT", min(conf, 0.35)
        gap = f" The rise is below the +{fmt(required)} a spike of this size needs."
    elif contribution < 0.5 and not (market or more_lives):
        verdict = "INSUFFICIENT"
    if verdict == "INSUFFICIENT":
        gap += _missing_text(event)
    return AnalystOutput(
        verdict=verdict,
        event_kind=kind,
        keywords=keywords,
        reason=f"{numbers} {why}{gap}{limits}{history}",
        confidence=conf,
    ).clean()


def edit(event: QueueEvent, watcher: WatcherOutput, analyst: AnalystOutput) -> EditorOutput:
    """One or two sentences, "[entity] what happened"."""
    ev = event.evidence
    numbers = (
        f"{event.name} at {fmt(_num(ev.get('current')))} viewers "
        f"(x{_num(ev.get('growth_ratio')):.1f}, +{fmt(_num(ev.get('delta')))})"
    )
    lead = lead_streamer(event) if person_driven(event) else None
    kind = analyst.event_kind
    if analyst.verdict == "NO_EVENT":
        text = f"{numbers}, but no stream shows the rise; likely not a real audience event."
    elif analyst.verdict == "INSUFFICIENT":
        gaps = missing(event)
        text = f"{numbers}; what drove it is unknown: " + (
            f"{gaps[0]}." if gaps else "no stream or market change in the evidence explains it."
        )
    elif lead is None:
        text = f"broad rise across streams: {numbers}; the trigger is not known offline."
    elif kind == "CATEGORY_MOVE":
        text = f"moved in from {lead.category_before}, lifting {numbers}."
    elif kind == "STREAM_START":
        text = f"went live, lifting {numbers}."
    elif kind == "COLLAB_OR_RAID":
        text = f"several top streams rose together, lifting {numbers}."
    elif lead.title_changed:
        text = f'new title "{lead.title}" drew viewers: {numbers}.'
    else:
        text = f"audience surge: {numbers}; the trigger is not known offline."
    return EditorOutput(summary=f"[{watcher.entity}] {text}")
