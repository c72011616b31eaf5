"""The explainer workflow as a LangGraph StateGraph.

watcher -> cache_lookup -> (hit: END) -> search (when research is needed) -> analyst -> editor ->
cache_save -> END.

The watcher is deterministic by default: it builds the cache key from the evidence (category,
lead streamer, title hash, time bucket), so keys are stable and a cache hit costs no model call.
With STREAMPULSE_LLM_WATCHER=1 the cheap model also classifies the event (after the key is built).
The analyst uses the strong model, the editor the cheap one; without an LLM client every step is
the offline tier. A model that refuses or answers outside the schema is replaced by the offline
step (recorded in `fallbacks`); transient API errors propagate so the queue retries the event.
"""

from __future__ import annotations

import operator
import time
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from streampulse_assets.lib.analysis import cache_keys, evidence, offline, prompts
from streampulse_assets.lib.analysis.cache import SpikeCache
from streampulse_assets.lib.analysis.llm import LLMCall, LLMClient, LLMContentError
from streampulse_assets.lib.analysis.models import (
    AnalysisResult,
    AnalystOutput,
    EditorOutput,
    QueueEvent,
    WatcherOutput,
)
from streampulse_assets.lib.analysis.search import Research, SearchProvider


class SpikeState(TypedDict, total=False):
    event: QueueEvent
    watcher: WatcherOutput
    cache_key: str
    cached: dict[str, Any] | None
    research: Research
    analyst: AnalystOutput
    analyst_tier: str
    editor: EditorOutput
    calls: Annotated[list[dict[str, Any]], operator.add]
    fallbacks: Annotated[list[str], operator.add]


def _usage(role: str, call: LLMCall) -> dict[str, Any]:
    return {
        "role": role,
        "model": call.model,
        "tokens_in": call.tokens_in,
        "tokens_cached": call.tokens_cached,
        "tokens_out": call.tokens_out,
        "cost_usd": call.cost_usd,
    }


class SpikeAnalyser:
    """Compiles the graph once; `analyse(event)` is safe to call from one thread at a time."""

    def __init__(
        self,
        *,
        cache: SpikeCache | None = None,
        search: SearchProvider | None = None,
        llm: LLMClient | None = None,
        bucket_minutes: int = cache_keys.CACHE_BUCKET_MINUTES,
    ):
        self.cache, self.search, self.llm = cache, search, llm
        self.bucket_minutes = bucket_minutes
        self.graph = self._build()

    # -- nodes -------------------------------------------------------------------------------
    def watcher(self, state: SpikeState) -> dict[str, Any]:
        event = state["event"]
        out: dict[str, Any] = {
            "watcher": offline.watch(event),
            "cache_key": cache_keys.cache_key(event, self.bucket_minutes),
        }
        if self.llm is not None and self.llm.settings.llm_watcher:
            msgs = prompts.messages(prompts.WATCHER_TASK, event.prompt_payload())
            try:
                call = self.llm.structured(self.llm.settings.model_cheap, msgs, WatcherOutput)
            except LLMContentError as exc:
                return {**out, "fallbacks": [f"watcher: {exc.kind}: {exc}"]}
            out.update(watcher=call.parsed, calls=[_usage("watcher", call)])
        return out

    def cache_lookup(self, state: SpikeState) -> dict[str, Any]:
        return {"cached": self.cache.get(state["cache_key"]) if self.cache else None}

    def after_lookup(self, state: SpikeState) -> str:
        if state.get("cached"):
            return END
        if self.search is not None and state["watcher"].needs_research:
            return "search"
        return "analyst"

    def research(self, state: SpikeState) -> dict[str, Any]:
        return {"research": self.search.search(state["event"], state["watcher"])}

    def analyst(self, state: SpikeState) -> dict[str, Any]:
        event = state["event"]
        context = state["research"].context if state.get("research") else []
        if self.llm is not None:
            payload = {
                **event.prompt_payload(),
                "figures": evidence.figures(event),
                "watcher": state["watcher"].model_dump(),
                "context": context,
            }
            msgs = prompts.messages(prompts.ANALYST_TASK, payload)
            try:
                call = self.llm.structured(self.llm.settings.model_strong, msgs, AnalystOutput)
            except LLMContentError as exc:
                fallback = f"analyst: {exc.kind}: {exc}"
            else:
                return {
                    "analyst": call.parsed.clean(),
                    "analyst_tier": "openai",
                    "calls": [_usage("analyst", call)],
                }
            return {
                "analyst": offline.analyse(event, context),
                "analyst_tier": "offline",
                "fallbacks": [fallback],
            }
        return {"analyst": offline.analyse(event, context), "analyst_tier": "offline"}

    def editor(self, state: SpikeState) -> dict[str, Any]:
        event, watcher, analyst = state["event"], state["watcher"], state["analyst"]
        if self.llm is not None:
            payload = {
                "entity": watcher.entity,
                "category_name": event.name,
                "evidence_numbers": {
                    k: event.evidence.get(k) for k in ("current", "growth_ratio", "delta")
                },
                "figures": evidence.figures(event),
                "analyst": analyst.model_dump(),
            }
            msgs = prompts.messages(prompts.EDITOR_TASK, payload)
            try:
                call = self.llm.structured(self.llm.settings.model_cheap, msgs, EditorOutput)
            except LLMContentError as exc:
                return {
                    "editor": offline.edit(event, watcher, analyst),
                    "fallbacks": [f"editor: {exc.kind}: {exc}"],
                }
            return {"editor": call.parsed, "calls": [_usage("editor", call)]}
        return {"editor": offline.edit(event, watcher, analyst)}

    def cache_save(self, state: SpikeState) -> dict[str, Any]:
        if self.cache is not None:
            self.cache.set(state["cache_key"], self.reusable(state))
        return {}

    # -- assembly ----------------------------------------------------------------------------
    def reusable(self, state: SpikeState) -> dict[str, Any]:
        """The part of a result another event with the same cache key may reuse."""
        analyst, watcher = state["analyst"], state["watcher"]
        models = {c["role"]: c["model"] for c in state.get("calls", [])}
        research = state.get("research")
        lead = evidence.lead_streamer(state["event"])
        return {
            "verdict": analyst.verdict,
            "event_kind": analyst.event_kind,
            "summary": state["editor"].summary,
            "reason": analyst.reason,
            "keywords": analyst.keywords,
            "confidence": analyst.confidence,
            "tier": state.get("analyst_tier", "offline"),
            "search_queries": research.queries if research else [],
            "models": models,
            "category_type": watcher.category_type,
            "entity": watcher.entity,
            "lead_channel_id": lead.channel_id if lead else None,
            "fallbacks": state.get("fallbacks", []),
        }

    def _build(self):
        g = StateGraph(SpikeState)
        g.add_node("watcher", self.watcher)
        g.add_node("cache_lookup", self.cache_lookup)
        g.add_node("search", self.research)
        g.add_node("analyst", self.analyst)
        g.add_node("editor", self.editor)
        g.add_node("cache_save", self.cache_save)
        g.add_edge(START, "watcher")
        g.add_edge("watcher", "cache_lookup")
        g.add_conditional_edges("cache_lookup", self.after_lookup, ["search", "analyst", END])
        g.add_edge("search", "analyst")
        g.add_edge("analyst", "editor")
        g.add_edge("editor", "cache_save")
        g.add_edge("cache_save", END)
        return g.compile()

    def analyse(self, event: QueueEvent) -> AnalysisResult:
        started = time.perf_counter()
        state = self.graph.invoke({"event": event, "calls": [], "fallbacks": []})
        calls = state.get("calls", [])
        if state.get("cached"):
            body = dict(state["cached"])
            hit = True
        else:
            body = self.reusable(state)
            hit = False
        if hit:  # this event's lead streamer, not the cached one's (they match by key anyway)
            lead = evidence.lead_streamer(event)
            body["lead_channel_id"] = lead.channel_id if lead else None
        return AnalysisResult(
            **body,
            cache_key=state["cache_key"],
            cache_hit=hit,
            tokens_in=sum(c["tokens_in"] for c in calls),
            tokens_out=sum(c["tokens_out"] for c in calls),
            cost_usd=round(sum(c["cost_usd"] for c in calls), 8),
            latency_ms=round((time.perf_counter() - started) * 1000, 3),
            llm_calls=len(calls),
        )
