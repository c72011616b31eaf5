"""Sources: which ones run, and each one's own variables (simulator, replay, CHZZK, SOOP)."""

from __future__ import annotations

from pydantic import SecretStr

from streampulse_assets.lib.settings.base import Group, group, var


class SimulatorSettings(Group):
    """Sources: simulator"""

    seed: int = var("STREAMPULSE_SIMULATOR_SEED", 7, "simulator seed")
    categories: int = var(
        "STREAMPULSE_SIMULATOR_CATEGORIES", 300, "simulated categories per platform"
    )
    scenario: str = var(
        "STREAMPULSE_SIMULATOR_SCENARIO",
        "hard",
        "`hard`: borderline 1.2-1.8x rises, tiny categories where one streamer doubles the "
        "count, slow organic growth, event days, platform-wide dips and modest sudden spikes, "
        "each labelled spike or not; `classic`: the earlier easy world (huge spikes only)",
    )


class ReplaySettings(Group):
    """Sources: replay"""

    path: str | None = var(
        "STREAMPULSE_REPLAY_PATH", None, "CSV/Parquet file for the `replay` source"
    )


class ChzzkSettings(Group):
    """Sources: CHZZK"""

    blank_is_unset = True

    client_id: str | None = var(
        "STREAMPULSE_CHZZK_CLIENT_ID", None, "CHZZK Open API credentials: `Client-Id`"
    )
    client_secret: SecretStr | None = var(
        "STREAMPULSE_CHZZK_CLIENT_SECRET", None, "CHZZK Open API credentials: `Client-Secret`"
    )
    base_url: str = var(
        "STREAMPULSE_CHZZK_BASE_URL", "https://openapi.chzzk.naver.com", "CHZZK host"
    )
    max_pages: int = var("STREAMPULSE_CHZZK_MAX_PAGES", 500, "CHZZK page cap per minute")


class SoopSettings(Group):
    """Sources: SOOP"""

    blank_is_unset = True
    keep_blank = frozenset({"search_fallback_urls", "live_fallback_urls"})  # empty = no fallback

    search_base_url: str = var(
        "STREAMPULSE_SOOP_SEARCH_BASE_URL", "https://sch.sooplive.co.kr", "SOOP search host"
    )
    search_fallback_urls: str | None = var(
        "STREAMPULSE_SOOP_SEARCH_FALLBACK_URLS",
        None,
        "comma list tried when the search host fails (empty = none)",
        shown="the `.com` host",
    )
    live_base_url: str = var(
        "STREAMPULSE_SOOP_LIVE_BASE_URL", "https://live.sooplive.co.kr", "SOOP live-list host"
    )
    live_fallback_urls: str | None = var(
        "STREAMPULSE_SOOP_LIVE_FALLBACK_URLS",
        None,
        "comma list tried when the live-list host fails (empty = none)",
        shown="the `.com` host",
    )
    details: str = var(
        "STREAMPULSE_SOOP_DETAILS",
        "broad_list",
        "where open lives and top streamers come from: `broad_list`, `category_contents`, `none`",
    )


class SourcesSettings(Group):
    """Sources"""

    names: str = var(
        "STREAMPULSE_SOURCES",
        "simulator",
        "comma list of `simulator`, `chzzk`, `soop`, `replay`; one failing source never stops "
        "the others",
    )
    simulator: SimulatorSettings = group(SimulatorSettings)
    replay: ReplaySettings = group(ReplaySettings)
    chzzk: ChzzkSettings = group(ChzzkSettings)
    soop: SoopSettings = group(SoopSettings)
