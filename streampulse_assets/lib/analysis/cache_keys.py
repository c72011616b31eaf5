"""The analysis cache key of an event, from its evidence only (stable across retries, workers and
tiers)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from streampulse_assets.lib.analysis.evidence import lead_streamer, person_driven
from streampulse_assets.lib.analysis.models import QueueEvent
from streampulse_assets.lib.timeutil import minute_to_dt, to_minute

CACHE_BUCKET_MINUTES = 60


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
