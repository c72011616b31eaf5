"""The OpenAI client: structured outputs into pydantic models, token usage and estimated cost.

Configured by `LLMSettings`, which lib/settings/configs.llm_settings builds from the settings
tree (`analysis.llm`: OPENAI_API_KEY, unset = offline tier; OPENAI_BASE_URL, any OpenAI-compatible
server; STREAMPULSE_LLM_* models, limits and prices in USD per 1M tokens).

Calls use `chat.completions.parse(response_format=Model)`: the most portable structured-output
API (servers that implement `response_format: json_schema` accept it). Transient failures (429,
5xx, timeouts, connection errors) are retried by the SDK and then raised, so the queue retries the
event later; content failures (refusal, truncation, output that does not fit the schema) raise
`LLMContentError`, which the graph answers with the offline analyst.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import openai
import pydantic

log = logging.getLogger(__name__)
T = TypeVar("T", bound=pydantic.BaseModel)


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens."""

    input: float
    cached_input: float
    output: float


DEFAULT_PRICES: dict[str, Price] = {
    "gpt-5": Price(1.25, 0.125, 10.0),
    "gpt-5-mini": Price(0.25, 0.025, 2.0),
    "gpt-5-nano": Price(0.05, 0.005, 0.40),
    "gpt-4.1": Price(2.0, 0.50, 8.0),
    "gpt-4.1-mini": Price(0.40, 0.10, 1.60),
    "gpt-4o": Price(2.50, 1.25, 10.0),
    "gpt-4o-mini": Price(0.15, 0.075, 0.60),
}


def load_prices(overrides: Mapping[str, tuple[float, float, float]] | None = None):
    """The built-in price table, with `overrides` ({model: (input, cached_input, output)})."""
    prices = dict(DEFAULT_PRICES)
    for model, (p_in, p_cached, p_out) in (overrides or {}).items():
        prices[model] = Price(float(p_in), float(p_cached), float(p_out))
    return prices


def estimate_cost(prices: dict[str, Price], model: str, t_in: int, t_cached: int, t_out: int):
    """USD for one call; the longest price-table prefix of `model` wins; unknown -> None."""
    names = [m for m in prices if model == m or model.startswith(m + "-")]
    if not names:
        return None
    p = prices[max(names, key=len)]
    fresh = max(0, t_in - t_cached)
    return (fresh * p.input + t_cached * p.cached_input + t_out * p.output) / 1_000_000


@dataclass(frozen=True)
class LLMSettings:
    api_key: str | None
    base_url: str | None = None
    model_cheap: str = "gpt-5-mini"
    model_strong: str = "gpt-5"
    timeout_s: float = 30.0
    max_retries: int = 2
    max_output_tokens: int | None = None
    llm_watcher: bool = False
    prices: Mapping[str, Price] = field(default_factory=load_prices, repr=False)


class LLMContentError(RuntimeError):
    """The model answered, but not with a usable structured output."""

    kind = "content"


class LLMRefusal(LLMContentError):
    kind = "refusal"


class LLMTruncated(LLMContentError):
    kind = "truncated"


class LLMBadOutput(LLMContentError):
    kind = "malformed"


@dataclass
class LLMCall(Generic[T]):
    parsed: T
    model: str
    tokens_in: int
    tokens_cached: int
    tokens_out: int
    cost_usd: float
    latency_ms: float


class LLMClient:
    """A thread-safe wrapper around one `openai.OpenAI` client."""

    def __init__(self, settings: LLMSettings, prices: dict[str, Price] | None = None):
        if not settings.api_key:
            raise ValueError("LLMClient needs OPENAI_API_KEY; use the offline analyst without it")
        self.settings = settings
        self.prices = dict(prices if prices is not None else settings.prices)
        self.client = openai.OpenAI(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout_s,
            max_retries=settings.max_retries,
        )
        self._unpriced_warned: set[str] = set()

    def structured(self, model: str, messages: list[dict], schema: type[T]) -> LLMCall[T]:
        kwargs = {}
        if self.settings.max_output_tokens:
            kwargs["max_completion_tokens"] = self.settings.max_output_tokens
        started = time.perf_counter()
        try:
            completion = self.client.chat.completions.parse(
                model=model, messages=messages, response_format=schema, **kwargs
            )
        except openai.LengthFinishReasonError as exc:
            raise LLMTruncated(f"{model}: output truncated (finish_reason=length)") from exc
        except openai.ContentFilterFinishReasonError as exc:
            raise LLMRefusal(f"{model}: output blocked by the content filter") from exc
        except (pydantic.ValidationError, ValueError) as exc:
            raise LLMBadOutput(f"{model}: output does not match {schema.__name__}: {exc}") from exc
        latency_ms = (time.perf_counter() - started) * 1000
        if not completion.choices:
            raise LLMBadOutput(f"{model}: response has no choices")
        message = completion.choices[0].message
        if message.refusal:
            raise LLMRefusal(f"{model} refused: {message.refusal[:200]}")
        if message.parsed is None:
            raise LLMBadOutput(f"{model}: empty response content")
        usage = completion.usage
        t_in = usage.prompt_tokens if usage else 0
        t_out = usage.completion_tokens if usage else 0
        details = usage.prompt_tokens_details if usage else None
        t_cached = (details.cached_tokens or 0) if details else 0
        cost = estimate_cost(self.prices, completion.model or model, t_in, t_cached, t_out)
        if cost is None:
            cost = 0.0
            if model not in self._unpriced_warned:
                self._unpriced_warned.add(model)
                log.warning("no price for %s: cost recorded as 0 (STREAMPULSE_LLM_PRICES)", model)
        used = completion.model or model
        return LLMCall(message.parsed, used, t_in, t_cached, t_out, cost, latency_ms)
