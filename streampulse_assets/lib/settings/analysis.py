"""Analysis: the language model (OpenAI or a compatible server) and the search providers."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr
from pydantic_settings import NoDecode

from streampulse_assets.lib.settings.base import Group, group, var

PRICES_FORMAT = 'STREAMPULSE_LLM_PRICES must be JSON like {"model": [in, cached_in, out]}'


def _truthy(value: Any) -> Any:
    """`1`, `true` or `yes` (any case) is on; any other text is off."""
    return value.strip().lower() in {"1", "true", "yes"} if isinstance(value, str) else value


def _prices(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        prices = json.loads(value)
        return {str(m): tuple(float(p) for p in triple) for m, triple in prices.items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(PRICES_FORMAT) from exc


Prices = Annotated[dict[str, tuple[float, float, float]], NoDecode, BeforeValidator(_prices)]


class LanguageModelSettings(Group):
    """Analysis: language model"""

    blank_is_unset = True

    api_key: SecretStr | None = var(
        "OPENAI_API_KEY",
        None,
        "OpenAI, or any compatible server's key; unset = deterministic offline analyst",
    )
    base_url: str | None = var(
        "OPENAI_BASE_URL",
        None,
        "any OpenAI-compatible server (vLLM, Ollama, llama.cpp)",
        shown="OpenAI",
    )
    model_cheap: str = var(
        "STREAMPULSE_LLM_MODEL_CHEAP", "gpt-5-mini", "editor (and watcher) model"
    )
    model_strong: str = var("STREAMPULSE_LLM_MODEL_STRONG", "gpt-5", "analyst model")
    watcher: Annotated[bool, BeforeValidator(_truthy)] = var(
        "STREAMPULSE_LLM_WATCHER",
        False,
        "`1`/`true`/`yes`: also ask the cheap model to classify in the watcher (by default the "
        "watcher is deterministic, so cache keys are stable and a cache hit costs nothing)",
        shown="off",
    )
    timeout_s: float = var("STREAMPULSE_LLM_TIMEOUT_S", 30.0, "client timeout per call (s)")
    max_retries: int = var("STREAMPULSE_LLM_MAX_RETRIES", 2, "client retries per call")
    max_output_tokens: int | None = var(
        "STREAMPULSE_LLM_MAX_OUTPUT_TOKENS", None, "output token cap per call"
    )
    prices: Prices = var(
        "STREAMPULSE_LLM_PRICES",
        {},
        "JSON `{model: [input, cached_input, output]}` USD per 1M tokens, for cost estimates "
        "(added to the built-in table)",
        shown="built-in table",
    )


class SearchSettings(Group):
    """Analysis: search"""

    blank_is_unset = True

    provider: str = var(
        "STREAMPULSE_SEARCH_PROVIDER",
        "warehouse",
        "`warehouse` (offline context), `brave` or `tavily` (with `BRAVE_API_KEY` / "
        "`TAVILY_API_KEY`; without its key, warehouse only)",
    )
    base_url: str | None = var(
        "STREAMPULSE_SEARCH_BASE_URL",
        None,
        "another host for the web search API",
        shown="the provider's",
    )
    brave_api_key: SecretStr | None = var("BRAVE_API_KEY", None, "Brave Search API key")
    tavily_api_key: SecretStr | None = var("TAVILY_API_KEY", None, "Tavily API key")


class AnalysisSettings(Group):
    """Analysis"""

    llm: LanguageModelSettings = group(LanguageModelSettings)
    search: SearchSettings = group(SearchSettings)
