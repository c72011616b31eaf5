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

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from streampulse_assets.lib.snapshots import (
    to_frame,
)
from streampulse_assets.lib.sources.base import (
    FetchResult,
    RawPayload,
    SourceConfigError,
    SourceError,
)
from streampulse_assets.lib.sources.http import (
    BudgetExceeded,
    HostList,
    HttpPolicy,
    JsonHttp,
)
from streampulse_assets.lib.sources.soop.parse import (  # noqa: F401 - re-exported
    API_PATH,
    BROAD_PATH,
    PLATFORM,
    Parse,
    Stream,
    api_list,
    broad_list,
    category_no,
    classify,
    parse_live,
)
from streampulse_assets.lib.timeutil import floor_minute

DEFAULT_SEARCH_BASE_URL = "https://sch.sooplive.co.kr"
DEFAULT_LIVE_BASE_URL = "https://live.sooplive.co.kr"
DETAIL_MODES = ("broad_list", "category_contents", "none")
HEADERS = {"Referer": "https://www.sooplive.co.kr/", "Origin": "https://www.sooplive.co.kr"}


def with_com_fallback(base_url: str) -> tuple[str, ...]:
    """The host itself, then its `.com` successor (SOOP is moving from `.co.kr` to `.com`)."""
    moved = base_url.replace(".sooplive.co.kr", ".sooplive.com")
    return (base_url,) if moved == base_url else (base_url, moved)


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
            raise kind(
                f"soop: neither the category list nor the broadcast list answered: {detail}",
                payloads=payloads,
            )
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
