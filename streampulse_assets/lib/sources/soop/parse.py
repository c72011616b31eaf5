"""Parsing of recorded SOOP responses into category snapshot rows (no HTTP here).

See source.py for which endpoint gives which number; everything is decided from the payloads alone.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from streampulse_assets.lib.snapshots import UNCATEGORISED, CategorySnapshot, Streamer
from streampulse_assets.lib.sources.base import RawPayload, SourceError
from streampulse_assets.lib.sources.chzzk import UNCATEGORISED_NAME, as_count, top_streamers
from streampulse_assets.lib.sources.http import decode_json
from streampulse_assets.lib.timeutil import floor_minute

PLATFORM = "soop"
API_PATH = "/api.php"
BROAD_PATH = "/api/main_broad_list_api.php"


def _is_more(value: Any) -> bool:
    return value is True or str(value).strip().lower() in {"1", "true", "y"}


def api_list(doc: Any, where: str) -> tuple[list, bool]:
    """(`data.list`, `data.is_more`) of an api.php answer; a missing list is a schema change."""
    data = doc.get("data") if isinstance(doc, dict) else None
    if isinstance(doc, dict) and "result" in doc and (as_count(doc["result"]) or 0) < 1:
        raise SourceError(f"soop: {where} answered result={doc['result']!r}: {doc.get('msg', '')}")
    if not isinstance(data, dict) or not isinstance(data.get("list"), list):
        raise SourceError(f"soop: {where} has no data.list (schema change?)")
    return data["list"], _is_more(data.get("is_more"))


def broad_list(doc: Any, where: str) -> list:
    if not isinstance(doc, dict) or not isinstance(doc.get("broad"), list):
        raise SourceError(f"soop: {where} has no broad list (schema change?)")
    return doc["broad"]


def category_no(value: Any) -> str:
    text = str(value if value is not None else "").strip()
    if not text:
        return UNCATEGORISED
    return text.zfill(8) if text.isdigit() else text


def parse_live(item: Any, viewers_key: str) -> tuple[str, str, str, Streamer] | str:
    """(broadcast id, category, category name, streamer) of a live item, or why it is unusable."""
    if not isinstance(item, dict):
        return "item is not an object"
    user_id = str(item.get("user_id") or "").strip()
    if not user_id:
        return "missing user_id"
    viewers = as_count(item.get(viewers_key))
    if viewers is None:
        return f"bad {viewers_key} {item.get(viewers_key)!r}"
    streamer = Streamer(
        channel_id=user_id,
        channel_name=html.unescape(str(item.get("user_nick") or user_id)),
        title=html.unescape(str(item.get("broad_title") or "")),
        viewers=viewers,
    )
    broad_no = str(item.get("broad_no") or user_id)
    name = str(item.get("category_name") or "")
    return broad_no, category_no(item.get("broad_cate_no")), name, streamer


def classify(payload: RawPayload) -> tuple[str, str] | None:
    """('categories' | 'broad' | 'contents', category) for a successful list response."""
    if payload.status != 200:
        return None
    parts = urlsplit(payload.request[4:])
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    if parts.path == BROAD_PATH:
        return "broad", ""
    if parts.path == API_PATH and query.get("m") == "categoryList":
        return "categories", ""
    if parts.path == API_PATH and query.get("m") == "categoryContentsList":
        return "contents", category_no(query.get("szCateNo"))
    return None


@dataclass
class Stream:
    """Lives of one paged list, per category, and whether the list was read to its end."""

    lives: dict[str, list[Streamer]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    complete: bool = False


class Parse:
    """Payloads of one minute -> canonical rows plus warnings (pure, deterministic)."""

    def __init__(self, payloads: list[RawPayload], keep_zero: bool = False) -> None:
        self.keep_zero = keep_zero
        self.warnings: list[str] = []
        self.problems: list[str] = []
        streams: dict[tuple[str, str], list[RawPayload]] = {}
        for payload in payloads:
            kind = classify(payload)
            if kind is not None:
                streams.setdefault(kind, []).append(payload)
        self.categories: dict[str, tuple[str, int]] = {}
        self.categories_seen = ("categories", "") in streams
        pages, self.categories_complete = self._pages(streams.get(("categories", ""), []), "cat")
        for items in pages:
            self._add_categories(items)
        self.broad: Stream | None = None
        if ("broad", "") in streams:
            self.broad = self._lives(streams[("broad", "")], "broad")
        self.contents = {
            cate: self._lives(pages, "contents", cate)
            for (kind, cate), pages in streams.items()
            if kind == "contents"
        }
        if self.problems:
            self.warnings.append(
                f"soop: skipped {len(self.problems)} malformed item(s): "
                + "; ".join(sorted(set(self.problems))[:5])
            )

    def _pages(self, pages: list[RawPayload], kind: str) -> tuple[list[list], bool]:
        """Item lists of a paged stream up to its end or a broken page, and whether it ended."""
        out: list[list] = []
        for payload in pages:
            try:
                doc = decode_json(payload)
                if kind == "broad":
                    items, more = broad_list(doc, payload.request), True
                else:
                    items, more = api_list(doc, payload.request)
            except SourceError as exc:
                self.warnings.append(str(exc))
                return out, False
            out.append(items)
            if not items or not more:
                return out, True
        return out, False

    def _add_categories(self, items: list) -> None:
        for item in items:
            viewers = as_count(item.get("view_cnt")) if isinstance(item, dict) else None
            if viewers is None or not str(item.get("category_no") or "").strip():
                self.problems.append("category item without category_no/view_cnt")
                continue
            key = category_no(item["category_no"])
            self.categories.setdefault(key, (str(item.get("category_name") or key), viewers))

    def _lives(self, pages: list[RawPayload], kind: str, only: str | None = None) -> Stream:
        viewers_key = "total_view_cnt" if kind == "broad" else "view_cnt"
        item_pages, complete = self._pages(pages, kind)
        stream = Stream(complete=complete)
        seen: set[str] = set()
        for items in item_pages:
            for item in items:
                parsed = parse_live(item, viewers_key)
                if isinstance(parsed, str):
                    self.problems.append(f"{kind} item: {parsed}")
                    continue
                broad_no, cate, name, streamer = parsed
                if broad_no in seen or streamer.channel_id in seen:
                    continue  # the list shifts while we page: count each live once
                seen.update((broad_no, streamer.channel_id))
                cate = only or cate
                stream.lives.setdefault(cate, []).append(streamer)
                stream.names.setdefault(cate, name)
        return stream

    def usable(self) -> bool:
        return bool(self.categories) or (self.broad is not None and self.broad.complete)

    def rows(self, minute: datetime) -> list[CategorySnapshot]:
        broad = self.broad if self.broad is not None and self.broad.complete else None
        totals = dict(self.categories)
        if broad is not None:
            for cate, streamers in broad.lives.items():
                if cate not in totals:  # a live category the category list did not show
                    name = UNCATEGORISED_NAME if cate == UNCATEGORISED else broad.names[cate]
                    totals[cate] = (name or cate, sum(s.viewers for s in streamers))
        ts = floor_minute(minute)
        rows = []
        for cate, (name, viewers) in totals.items():
            streamers, open_lives = self._lives_of(cate, viewers, broad)
            if viewers == 0 and not open_lives and not self.keep_zero:
                continue
            top = top_streamers(streamers)
            rows.append(CategorySnapshot(PLATFORM, cate, name, ts, viewers, open_lives, top))
        rows.sort(key=lambda r: (-r.viewers, r.category_id))
        return rows

    def _lives_of(
        self, cate: str, viewers: int, broad: Stream | None
    ) -> tuple[list[Streamer], int | None]:
        if broad is not None:  # the complete site-wide list: absent means no live...
            streamers = broad.lives.get(cate, [])
            count = len(streamers)
            return streamers, None if count == 0 and viewers > 0 else count  # ...unless viewers
        contents = self.contents.get(cate)
        if contents is not None:
            streamers = contents.lives.get(cate, [])
            return streamers, len(streamers) if contents.complete else None
        if self.broad is not None:  # a partial site-wide list still names the top streamers
            return self.broad.lives.get(cate, []), None
        return [], None

    def notes(self) -> list[str]:
        notes = list(self.warnings)
        if self.categories_seen and not self.categories_complete:
            notes.append("soop: category list incomplete; small categories may be missing")
        if self.broad is not None and not self.broad.complete:
            notes.append("soop: broadcast list incomplete; open_lives unknown this minute")
        return notes
