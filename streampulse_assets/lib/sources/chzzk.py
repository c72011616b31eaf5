"""CHZZK Open API live source: walk every page of `/open/v1/lives`, aggregate per category."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from streampulse_assets.lib.ingest.validate import MAX_VIEWERS
from streampulse_assets.lib.snapshots import (
    UNCATEGORISED,
    CategorySnapshot,
    Streamer,
    to_frame,
)
from streampulse_assets.lib.sources.base import (
    FetchResult,
    RawPayload,
    SourceConfigError,
    SourceError,
)
from streampulse_assets.lib.sources.http import HttpPolicy, JsonHttp, decode_json
from streampulse_assets.lib.timeutil import floor_minute

PLATFORM = "chzzk"
LIVES_PATH = "/open/v1/lives"
DEFAULT_BASE_URL = "https://openapi.chzzk.naver.com"
UNCATEGORISED_NAME = "Uncategorised"
AUTH_CODES = {"401", "403", "INVALID_CLIENT", "INVALID_TOKEN", "UNAUTHORIZED", "FORBIDDEN"}
TOP_N = 5


@dataclass(frozen=True)
class ChzzkConfig:
    client_id: str
    client_secret: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    page_size: int = 20  # the API allows 1..20
    max_pages: int = 500  # 10,000 lives; the 2024 weekly peak was 4,365
    http: HttpPolicy = field(default_factory=HttpPolicy)

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 20:
            raise SourceConfigError(f"chzzk page_size must be 1..20, got {self.page_size}")


def lives_content(doc: Any, where: str) -> dict:
    """`content` of a lives envelope, or an error (`code != 200` inside an HTTP 200 included)."""
    if not isinstance(doc, dict):
        raise SourceError(f"chzzk: {where} returned {type(doc).__name__}, not an envelope object")
    code = doc.get("code")
    if str(code) != "200":
        message = doc.get("message")
        error = SourceConfigError if str(code).upper() in AUTH_CODES else SourceError
        raise error(f"chzzk: {where} answered code {code!r}: {message or 'no message'}")
    content = doc.get("content")
    if not isinstance(content, dict) or not isinstance(content.get("data"), list):
        raise SourceError(f"chzzk: {where} has no content.data list (schema change?)")
    return content


def next_cursor(content: dict) -> str | None:
    page = content.get("page")
    cursor = page.get("next") if isinstance(page, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None


def as_count(value: Any) -> int | None:
    """A viewer count within [0, MAX_VIEWERS], else None (the item is skipped as malformed and
    the page is still archived; a 1e30 count used to overflow the parser)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int):
        return value if 0 <= value <= MAX_VIEWERS else None
    return None


@dataclass(frozen=True)
class Live:
    live_id: str | None
    category_id: str
    category_name: str
    streamer: Streamer


def parse_live(item: Any) -> Live | str:
    """One Open API live item, or the reason it is unusable."""
    if not isinstance(item, dict):
        return "item is not an object"
    channel_id = item.get("channelId")
    if not isinstance(channel_id, str) or not channel_id:
        return "missing channelId"
    viewers = as_count(item.get("concurrentUserCount"))
    if viewers is None:
        return f"bad concurrentUserCount {item.get('concurrentUserCount')!r}"
    category = item.get("liveCategory")
    category_id = category.strip() if isinstance(category, str) and category.strip() else None
    value = item.get("liveCategoryValue")
    name = value.strip() if isinstance(value, str) else ""
    live_id = item.get("liveId")
    return Live(
        live_id=None if live_id is None else str(live_id),
        category_id=category_id or UNCATEGORISED,
        category_name=(name or category_id or "") if category_id else UNCATEGORISED_NAME,
        streamer=Streamer(
            channel_id=channel_id,
            channel_name=str(item.get("channelName") or channel_id),
            title=str(item.get("liveTitle") or ""),
            viewers=viewers,
        ),
    )


def top_streamers(streamers: list[Streamer]) -> tuple[Streamer, ...]:
    return tuple(sorted(streamers, key=lambda s: (-s.viewers, s.channel_id))[:TOP_N])


def lives_pages(payloads: list[RawPayload]) -> list[tuple[RawPayload, dict]]:
    """The successful `/open/v1/lives` responses, in order, as envelope contents."""
    pages = []
    for payload in payloads:
        if payload.status != 200 or urlsplit(payload.request[4:]).path != LIVES_PATH:
            continue
        pages.append((payload, lives_content(decode_json(payload), payload.request)))
    return pages


def aggregate(minute: datetime, pages: list[dict]) -> tuple[pd.DataFrame, list[str]]:
    warnings: list[str] = []
    seen_lives: set[str] = set()
    seen_channels: set[str] = set()
    names: dict[str, str] = {}
    members: dict[str, list[Streamer]] = {}
    problems: list[str] = []
    for content in pages:
        for item in content["data"]:
            live = parse_live(item)
            if isinstance(live, str):
                problems.append(live)
                continue
            channel = live.streamer.channel_id
            if channel in seen_channels or (live.live_id and live.live_id in seen_lives):
                continue  # items move between pages while we walk: count each live once
            seen_channels.add(channel)
            if live.live_id:
                seen_lives.add(live.live_id)
            if not names.get(live.category_id):
                names[live.category_id] = live.category_name
            members.setdefault(live.category_id, []).append(live.streamer)
    if problems:
        warnings.append(
            f"chzzk: skipped {len(problems)} malformed live item(s): "
            + "; ".join(sorted(set(problems))[:5])
        )
    complete = truncated_at(pages) is None
    if not complete:
        warnings.append(
            f"chzzk: stopped after {len(pages)} pages with more to read; open_lives unknown"
        )
    ts = floor_minute(minute)
    rows = [
        CategorySnapshot(
            platform=PLATFORM,
            category_id=category_id,
            category_name=names[category_id] or category_id,
            ts=ts,
            viewers=sum(s.viewers for s in streamers),
            open_lives=len(streamers) if complete else None,
            top_streamers=top_streamers(streamers),
        )
        for category_id, streamers in members.items()
    ]
    rows.sort(key=lambda r: (-r.viewers, r.category_id))
    return to_frame(rows), warnings


def truncated_at(pages: list[dict]) -> str | None:
    """The unfollowed cursor if the walk stopped early (page cap), else None."""
    if not pages:
        return None
    seen = {next_cursor(c) for c in pages[:-1]}
    last = pages[-1]
    cursor = next_cursor(last)
    if cursor is None or not last["data"] or cursor in seen:
        return None
    return cursor


class ChzzkSource:
    """LiveSource for CHZZK: one full walk of the Open API live list per minute."""

    platform = PLATFORM

    def __init__(
        self,
        config: ChzzkConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.sleep = sleep
        self.clock = clock

    def fetch(self, minute: datetime) -> FetchResult:
        cfg = self.config
        headers = {"Client-Id": cfg.client_id, "Client-Secret": cfg.client_secret}
        with JsonHttp(
            PLATFORM, cfg.http, headers=headers, sleep=self.sleep, clock=self.clock
        ) as http:
            cursor: str | None = None
            seen: set[str] = set()
            for _ in range(cfg.max_pages):
                params: dict[str, Any] = {"size": cfg.page_size}
                if cursor:
                    params["next"] = cursor
                doc, payload = http.get_json(cfg.base_url, LIVES_PATH, params)
                content = lives_content(doc, payload.request)
                cursor = next_cursor(content)
                if not content["data"] or cursor is None or cursor in seen:
                    break
                seen.add(cursor)
            payloads = list(http.payloads)
            frame, warnings = self.parse(minute, payloads)
        return FetchResult(PLATFORM, floor_minute(minute), frame, payloads, warnings)

    def parse(self, minute: datetime, payloads: list[RawPayload]) -> tuple[pd.DataFrame, list[str]]:
        pages = [content for _, content in lives_pages(payloads)]
        if not pages:
            raise SourceError("chzzk: no successful live-list response among the payloads")
        return aggregate(minute, pages)

    def parse_payloads(self, minute: datetime, payloads: list[RawPayload]) -> pd.DataFrame:
        return self.parse(minute, payloads)[0]
