"""Research for the analyst, behind one interface.

- `WarehouseContextSearch` (default, offline): what the event's own evidence says about the top
  streamers (title changes, arrivals from other categories, going live, open-lives change) plus
  earlier analysed events for the same streamer, read from the Postgres queue (never DuckDB: the
  warehouse file is locked by the pipeline).
- `WebSearch`: Brave or Tavily over HTTP, chosen by STREAMPULSE_SEARCH_PROVIDER=brave|tavily with
  BRAVE_API_KEY / TAVILY_API_KEY; STREAMPULSE_SEARCH_BASE_URL points at another host (built by
  lib/settings/configs.search_provider). Web errors are logged and give no results; research is
  best-effort and never fails an analysis.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.analysis.evidence import fmt, lead_streamer, streamers
from streampulse_assets.lib.analysis.models import QueueEvent, WatcherOutput

log = logging.getLogger(__name__)


@dataclass
class Research:
    queries: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)

    def extend(self, other: Research) -> None:
        self.queries += other.queries
        self.context += other.context


class SearchProvider(Protocol):
    name: str

    def search(self, event: QueueEvent, watcher: WatcherOutput) -> Research: ...


def evidence_context(event: QueueEvent) -> list[str]:
    lines = []
    for s in streamers(event):
        if s.category_before:
            lines.append(f"{s.name} arrived from {s.category_before} ({fmt(s.viewers)} viewers).")
        elif s.went_live:
            lines.append(f"{s.name} went live in the last hour ({fmt(s.viewers)} viewers).")
        if s.title_changed:
            lines.append(f'{s.name} changed title: "{s.title_before}" -> "{s.title}".')
    ev = event.evidence
    if ev.get("open_lives") is not None and ev.get("open_lives_before") is not None:
        lines.append(f"Open lives {ev['open_lives_before']} -> {ev['open_lives']} in 60 minutes.")
    return lines


class WarehouseContextSearch:
    """Evidence context plus the lead streamer's earlier analyses (Postgres, last 7 days)."""

    name = "warehouse"

    def __init__(self, conn=None, *, limit: int = 3):
        self.conn = conn  # psycopg2 connection in autocommit mode, or None (evidence only)
        self.limit = limit

    def history(self, event: QueueEvent, channel_id: str) -> list[str]:
        if self.conn is None:
            return []
        rows = queue.streamer_history(
            self.conn,
            event.platform,
            channel_id,
            exclude_id=event.id,
            before=event.ts,
            limit=self.limit,
        )
        return [f"Earlier ({ts:%Y-%m-%d %H:%M} UTC, {cat}): {summary}" for ts, cat, summary in rows]

    def search(self, event: QueueEvent, watcher: WatcherOutput) -> Research:
        found = Research(context=evidence_context(event))
        lead = lead_streamer(event)
        if lead is not None:
            found.queries.append(f"history:{event.platform}:{lead.channel_id}")
            found.context += self.history(event, lead.channel_id)
        return found


WEB_BASE_URLS = {"brave": "https://api.search.brave.com", "tavily": "https://api.tavily.com"}


class WebSearch:
    """Brave (`GET /res/v1/web/search`) or Tavily (`POST /search`) web search."""

    def __init__(self, provider: str, api_key: str, *, base_url: str | None = None, timeout=5.0):
        if provider not in WEB_BASE_URLS:
            raise ValueError(f"unknown web search provider {provider!r} (brave or tavily)")
        self.name = provider
        self.api_key = api_key
        self.base_url = (base_url or WEB_BASE_URLS[provider]).rstrip("/")
        self.http = httpx.Client(timeout=timeout)

    def query_for(self, event: QueueEvent, watcher: WatcherOutput) -> str:
        words = [watcher.entity, event.name, *watcher.event_keywords[:3]]
        return " ".join(dict.fromkeys(w for w in words if w))

    def _fetch(self, query: str) -> list[dict]:
        if self.name == "brave":
            resp = self.http.get(
                f"{self.base_url}/res/v1/web/search",
                params={"q": query, "count": 5},
                headers={"X-Subscription-Token": self.api_key, "Accept": "application/json"},
            )
            resp.raise_for_status()
            items = (resp.json().get("web") or {}).get("results") or []
            return [{"title": i.get("title"), "text": i.get("description")} for i in items]
        resp = self.http.post(
            f"{self.base_url}/search",
            json={"query": query, "max_results": 5},
            headers={"Authorization": f"Bearer {self.api_key}"},
        )
        resp.raise_for_status()
        items = resp.json().get("results") or []
        return [{"title": i.get("title"), "text": i.get("content")} for i in items]

    def search(self, event: QueueEvent, watcher: WatcherOutput) -> Research:
        query = self.query_for(event, watcher)
        try:
            items = self._fetch(query)
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("%s web search failed for %r: %s", self.name, query, exc)
            return Research(queries=[f"{self.name}:{query}"])
        lines = [f"Web: {i['title']}: {(i['text'] or '')[:300]}" for i in items[:3] if i["title"]]
        return Research(queries=[f"{self.name}:{query}"], context=lines)


class CompositeSearch:
    name = "composite"

    def __init__(self, providers: list[SearchProvider]):
        self.providers = providers

    def search(self, event: QueueEvent, watcher: WatcherOutput) -> Research:
        found = Research()
        for provider in self.providers:
            found.extend(provider.search(event, watcher))
        return found
