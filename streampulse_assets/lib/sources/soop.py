"""SOOP live source: category totals from `categoryList`, lives from the broadcast list.

`api.php?m=categoryList` gives every category's viewers (`view_cnt`) but no live count. Open-live
counts and top streamers come from the site-wide broadcast list (`main_broad_list_api.php`, the
default; only a *complete* walk, ended by an empty page, gives counts) or, in `category_contents`
mode, from `m=categoryContentsList` for the biggest categories (it has no `total_cnt`: a count is
known only when that list ended). Unknown counts are None, never 0. If the broadcast list fails,
the category rows keep unknown counts and a warning explains; only when neither answers does the
fetch fail. Everything is decided from the recorded payloads, so archived responses re-parse to
the same frame.
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from streampulse_assets.lib.snapshots import (
    UNCATEGORISED,
    CategorySnapshot,
    Streamer,
    floor_minute,
    to_frame,
)
from streampulse_assets.lib.sources.base import (
    FetchResult,
    RawPayload,
    SourceConfigError,
    SourceError,
)
from streampulse_assets.lib.sources.chzzk import UNCATEGORISED_NAME, as_count, top_streamers
from streampulse_assets.lib.sources.http import (
    BudgetExceeded,
    HostList,
    HttpPolicy,
    JsonHttp,
    decode_json,
)

PLATFORM = "soop"
API_PATH = "/api.php"
BROAD_PATH = "/api/main_broad_list_api.php"
DEFAULT_SEARCH_BASE_URL = "https://sch.sooplive.co.kr"
DEFAULT_LIVE_BASE_URL = "https://live.sooplive.co.kr"
DETAIL_MODES = ("broad_list", "category_contents", "none")
HEADERS = {"Referer": "https://www.sooplive.co.kr/", "Origin": "https://www.sooplive.co.kr"}


def with_com_fallback(base_url: str) -> tuple[str, ...]:
    """The host itself, then its `.com` successor (SOOP is moving from `.co.kr` to `.com`)."""
    moved = base_url.replace(".sooplive.co.kr", ".sooplive.com")
    return (base_url,) if moved == base_url else (base_url, moved)


def _urls(env: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    base = env.get(f"STREAMPULSE_SOOP_{name}_BASE_URL", "").strip() or default
    fallback = env.get(f"STREAMPULSE_SOOP_{name}_FALLBACK_URLS")
    if fallback is None:
        return with_com_fallback(base)
    return (base, *[u.strip() for u in fallback.split(",") if u.strip()])


@dataclass(frozen=True)
class SoopConfig:
    search_base_urls: tuple[str, ...] = with_com_fallback(DEFAULT_SEARCH_BASE_URL)
    live_base_urls: tuple[str, ...] = with_com_fallback(DEFAULT_LIVE_BASE_URL)
    details: str = "broad_list"  # one of DETAIL_MODES
    category_page_size: int = 120
    max_category_pages: int = 20  # ~545 categories = 5 pages
    max_broad_pages: int = 150  # 60 per page: 9,000 lives (2024 weekly peak: 5,179)
    contents_categories: int = 30  # category_contents mode: how many of the biggest categories
    contents_pages: int = 1  # ... and how many pages of 60 lives each
    keep_zero_categories: bool = False  # keep rows with 0 viewers and no known lives
    http: HttpPolicy = field(default_factory=HttpPolicy)

    def __post_init__(self) -> None:
        if self.details not in DETAIL_MODES:
            raise SourceConfigError(
                f"SOOP details mode {self.details!r} unknown; use one of {', '.join(DETAIL_MODES)}"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SoopConfig:
        env = os.environ if env is None else env
        return cls(
            search_base_urls=_urls(env, "SEARCH", DEFAULT_SEARCH_BASE_URL),
            live_base_urls=_urls(env, "LIVE", DEFAULT_LIVE_BASE_URL),
            details=env.get("STREAMPULSE_SOOP_DETAILS", "").strip() or "broad_list",
        )


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


class SoopSource:
    """LiveSource for SOOP (see the module docstring for what comes from where)."""

    platform = PLATFORM

    def __init__(
        self,
        config: SoopConfig | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or SoopConfig()
        self.search_hosts = HostList(self.config.search_base_urls)
        self.live_hosts = HostList(self.config.live_base_urls)
        self.sleep = sleep
        self.clock = clock

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SoopSource:
        return cls(SoopConfig.from_env(env))

    def fetch(self, minute: datetime) -> FetchResult:
        cfg = self.config
        errors: list[tuple[SourceError, str]] = []
        with JsonHttp(PLATFORM, cfg.http, headers=HEADERS, sleep=self.sleep, clock=self.clock) as h:
            stages = (
                (self._walk_categories, "category list failed, totals from the broadcast list"),
                (self._walk_details, "live lists failed, open_lives/top streamers unknown"),
            )
            for stage, consequence in stages:
                try:
                    stage(h)
                except SourceError as exc:
                    errors.append((exc, consequence))
            payloads = list(h.payloads)
        parsed = Parse(payloads, cfg.keep_zero_categories)
        messages = [str(e).removeprefix("soop: ") for e, _ in errors]
        if not parsed.usable():
            config_only = errors and all(isinstance(e, SourceConfigError) for e, _ in errors)
            kind = SourceConfigError if config_only else SourceError
            detail = "; ".join(messages) or "; ".join(parsed.notes())
            raise kind(f"soop: neither the category list nor the broadcast list answered: {detail}")
        warnings = [
            f"soop: partial outage ({why}): {msg}"
            for (_, why), msg in zip(errors, messages, strict=True)
        ] + parsed.notes()
        frame = to_frame(parsed.rows(minute))
        return FetchResult(PLATFORM, floor_minute(minute), frame, payloads, warnings)

    def _walk_categories(self, http: JsonHttp) -> None:
        for page in range(1, self.config.max_category_pages + 1):
            params = {
                "m": "categoryList",
                "szKeyword": "",
                "szOrder": "view_cnt",
                "nPageNo": page,
                "nListCnt": self.config.category_page_size,
                "nOffset": 0,
                "szPlatform": "pc",
            }
            doc, payload = http.get_json_any(self.search_hosts, API_PATH, params)
            items, more = api_list(doc, payload.request)
            if not items or not more:
                return

    def _walk_details(self, http: JsonHttp) -> None:
        if self.config.details == "broad_list":
            self._walk_broad(http)
        elif self.config.details == "category_contents":
            self._walk_contents(http)

    def _walk_broad(self, http: JsonHttp) -> None:
        for page in range(1, self.config.max_broad_pages + 1):
            params = {
                "selectType": "action",
                "selectValue": "all",
                "orderType": "view_cnt",
                "pageNo": page,
                "lang": "ko_KR",
            }
            doc, payload = http.get_json_any(self.live_hosts, BROAD_PATH, params)
            if not broad_list(doc, payload.request):
                return

    def _walk_contents(self, http: JsonHttp) -> None:
        categories = Parse(http.payloads).categories
        biggest = sorted(
            (c for c, (_, viewers) in categories.items() if viewers > 0),
            key=lambda c: (-categories[c][1], c),
        )[: self.config.contents_categories]
        failures: list[str] = []
        for cate in biggest:
            try:
                self._walk_one_category(http, cate)
            except BudgetExceeded:
                raise
            except SourceError as exc:
                failures.append(str(exc))
        if failures:
            raise SourceError(
                f"{len(failures)} of {len(biggest)} category live lists failed: {failures[0]}"
            )

    def _walk_one_category(self, http: JsonHttp, cate: str) -> None:
        for page in range(1, self.config.contents_pages + 1):
            params = {
                "m": "categoryContentsList",
                "szType": "live",
                "nPageNo": page,
                "nListCnt": 60,
                "szPlatform": "pc",
                "szOrder": "view_cnt_desc",
                "szCateNo": cate,
            }
            doc, payload = http.get_json_any(self.search_hosts, API_PATH, params)
            items, more = api_list(doc, payload.request)
            if not items or not more:
                return

    def parse(self, minute: datetime, payloads: list[RawPayload]) -> tuple[pd.DataFrame, list[str]]:
        parsed = Parse(payloads, self.config.keep_zero_categories)
        if not parsed.usable():
            raise SourceError("soop: no usable category or complete broadcast list in payloads")
        return to_frame(parsed.rows(minute)), parsed.notes()

    def parse_payloads(self, minute: datetime, payloads: list[RawPayload]) -> pd.DataFrame:
        return self.parse(minute, payloads)[0]
