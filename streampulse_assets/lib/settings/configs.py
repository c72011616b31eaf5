"""The runtime configuration objects, built from the settings tree in this one place.

Each builder takes its group (a test builds one with `Group.read({...})`); without one it reads
the environment at call time, as the hand-written `from_env` readers it replaced did.
"""

from __future__ import annotations

import logging

from pydantic import SecretStr

from streampulse_assets.lib.alerts.gate import AlertGate
from streampulse_assets.lib.alerts.sinks import Sink, SlackSink, TelegramSink, WebhookSink
from streampulse_assets.lib.analysis.llm import LLMSettings, load_prices
from streampulse_assets.lib.analysis.search import (
    WEB_BASE_URLS,
    CompositeSearch,
    SearchProvider,
    WarehouseContextSearch,
    WebSearch,
)
from streampulse_assets.lib.retention import RetentionPolicy
from streampulse_assets.lib.settings import (
    ChzzkSettings,
    DetectionSettings,
    GateSettings,
    LanguageModelSettings,
    RetentionSettings,
    SearchSettings,
    SinkSettings,
    SoopSettings,
    env_name,
    get_settings,
)
from streampulse_assets.lib.sources.base import SourceConfigError
from streampulse_assets.lib.sources.chzzk import ChzzkConfig
from streampulse_assets.lib.sources.soop.source import SoopConfig, with_com_fallback

search_log = logging.getLogger("streampulse_assets.lib.analysis.search")


def _plain(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def chzzk_config(s: ChzzkSettings | None = None) -> ChzzkConfig:
    s = ChzzkSettings.read() if s is None else s
    missing = [
        env_name(ChzzkSettings, name)
        for name, value in (("client_id", s.client_id), ("client_secret", s.client_secret))
        if not value
    ]
    if missing:
        raise SourceConfigError(
            "CHZZK source needs Open API credentials: set "
            + " and ".join(missing)
            + " (from https://developers.chzzk.naver.com), or drop chzzk from "
            "STREAMPULSE_SOURCES"
        )
    return ChzzkConfig(
        client_id=s.client_id,
        client_secret=_plain(s.client_secret),
        base_url=s.base_url,
        max_pages=s.max_pages,
    )


def _hosts(base: str, fallback: str | None) -> tuple[str, ...]:
    if fallback is None:
        return with_com_fallback(base)
    return (base, *[u.strip() for u in fallback.split(",") if u.strip()])


def soop_config(s: SoopSettings | None = None) -> SoopConfig:
    s = SoopSettings.read() if s is None else s
    return SoopConfig(
        search_base_urls=_hosts(s.search_base_url, s.search_fallback_urls),
        live_base_urls=_hosts(s.live_base_url, s.live_fallback_urls),
        details=s.details,
    )


def alert_gate(
    gate: GateSettings | None = None, detection: DetectionSettings | None = None
) -> AlertGate:
    """The gate of `alerts.gate` (read now), for the primary detector's events."""
    gate = GateSettings.read() if gate is None else gate
    detection = get_settings().detection if detection is None else detection
    return AlertGate(
        mode=gate.mode,
        min_delta=gate.min_delta,
        max_age_hours=gate.max_age_hours,
        analysis_wait_minutes=gate.analysis_wait_minutes,
        detector=detection.primary_detector,
    )


def alert_sinks(s: SinkSettings | None = None) -> list[Sink]:
    """The sinks configured, in a stable order (may be empty)."""
    s = SinkSettings.read() if s is None else s
    sinks: list[Sink] = []
    if s.telegram_bot_token and s.telegram_chat_id:
        token = _plain(s.telegram_bot_token)
        sinks.append(TelegramSink(token, s.telegram_chat_id, s.telegram_base_url))
    if s.slack_webhook_url:
        sinks.append(SlackSink(_plain(s.slack_webhook_url), s.chart_base_url))
    if s.webhook_url:
        sinks.append(WebhookSink(_plain(s.webhook_url), _plain(s.webhook_secret)))
    return sinks


def retention_policy(s: RetentionSettings | None = None) -> RetentionPolicy:
    s = RetentionSettings.read() if s is None else s
    return RetentionPolicy(
        warehouse_days=s.warehouse_days(),
        landing_days=s.landing_days,
        pg_events_days=s.pg_events_days,
        alert_deliveries_days=s.alert_deliveries_days,
        run_days=s.run_days,
    )


def llm_settings(s: LanguageModelSettings | None = None) -> LLMSettings:
    s = LanguageModelSettings.read() if s is None else s
    return LLMSettings(
        api_key=_plain(s.api_key),
        base_url=s.base_url,
        model_cheap=s.model_cheap,
        model_strong=s.model_strong,
        timeout_s=s.timeout_s,
        max_retries=s.max_retries,
        max_output_tokens=s.max_output_tokens,
        llm_watcher=s.watcher,
        prices=load_prices(s.prices),
    )


def search_provider(conn=None, s: SearchSettings | None = None) -> SearchProvider:
    """Warehouse context always; plus web search when configured with an API key."""
    s = SearchSettings.read() if s is None else s
    warehouse = WarehouseContextSearch(conn)
    provider = s.provider.lower()
    if provider in WEB_BASE_URLS:
        key = _plain(getattr(s, f"{provider}_api_key"))
        if not key:
            search_log.warning(
                "STREAMPULSE_SEARCH_PROVIDER=%s without %s_API_KEY", provider, provider
            )
            return warehouse
        return CompositeSearch([warehouse, WebSearch(provider, key, base_url=s.base_url)])
    return warehouse
