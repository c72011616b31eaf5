"""Shapes of the analysis: the queued event, each node's structured output, the stored result.

The LLM output models are sent to the model as strict JSON schemas (OpenAI structured outputs), so
every field is required and has no default or numeric bound; domain rules (confidence in [0, 1],
short keyword lists) are enforced afterwards by `clean()`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Verdict = Literal["CONFIRMED", "NO_EVENT", "INSUFFICIENT"]
CategoryType = Literal["GAME", "TALK", "ESPORTS", "SPORTS", "MUSIC", "CREATIVE", "IRL", "OTHER"]
EventKind = Literal[
    "STREAM_START",
    "STREAMER_SURGE",
    "CATEGORY_MOVE",
    "TITLE_CHANGE",
    "COLLAB_OR_RAID",
    "TOURNAMENT_OR_BROADCAST",
    "GAME_RELEASE_OR_UPDATE",
    "CATEGORY_SURGE",
    "DATA_ARTIFACT",
    "UNKNOWN",
]


class WatcherOutput(BaseModel):
    """Triage of one event (cheap model, or the deterministic watcher)."""

    category_type: CategoryType
    entity: str = Field(description="who or what the spike is about: a streamer or the category")
    event_keywords: list[str] = Field(description="up to 6 words from titles and categories")
    spike_reason: str = Field(description="one line: what the numbers say happened")
    needs_research: bool


class AnalystOutput(BaseModel):
    """The verdict (strong model, or the offline analyst)."""

    verdict: Verdict
    event_kind: EventKind
    keywords: list[str] = Field(description="up to 8 evidence keywords")
    reason: str = Field(description="2-4 sentences citing the evidence; say what is unknown")
    confidence: float = Field(description="0.0 to 1.0")

    def clean(self) -> AnalystOutput:
        conf = min(1.0, max(0.0, float(self.confidence)))
        keywords = [k.strip() for k in self.keywords if k and k.strip()][:8]
        return self.model_copy(update={"confidence": round(conf, 3), "keywords": keywords})


class EditorOutput(BaseModel):
    """The one or two sentence summary shown to users ("[entity] what happened")."""

    summary: str


class AnalysisResult(BaseModel):
    """The `result` JSONB written back to the queue row (see .notes/contracts.md)."""

    verdict: Verdict
    event_kind: str
    summary: str
    reason: str
    keywords: list[str] = []
    confidence: float = 0.0
    cache_key: str = ""
    cache_hit: bool = False
    tier: Literal["openai", "offline"] = "offline"
    search_queries: list[str] = []
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    llm_calls: int = 0
    models: dict[str, str] = {}
    category_type: str = "OTHER"
    entity: str = ""
    lead_channel_id: str | None = None
    fallbacks: list[str] = []


@dataclass
class QueueEvent:
    """One claimed `analysis_queue` row."""

    id: int
    detector: str
    platform: str
    category_id: str
    category_name: str | None
    ts: datetime
    level: str
    cause: str | None
    evidence: dict[str, Any]
    created_at: datetime
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def top_streamers(self) -> list[dict[str, Any]]:
        raw = self.evidence.get("top_streamers") or []
        if isinstance(raw, str):
            raw = json.loads(raw or "[]")
        return [s for s in raw if isinstance(s, dict)]

    @property
    def name(self) -> str:
        return self.category_name or self.evidence.get("category_name") or self.category_id

    def prompt_payload(self) -> dict[str, Any]:
        """The event data sent to the model (after the static prompt)."""
        return {
            "platform": self.platform,
            "category_id": self.category_id,
            "category_name": self.name,
            "minute_utc": self.ts.isoformat(),
            "level": self.level,
            "cause": self.cause,
            # the chart series is for people, not for the model (hundreds of numbers, no clue)
            "evidence": {k: v for k, v in self.evidence.items() if k != "series"},
        }
