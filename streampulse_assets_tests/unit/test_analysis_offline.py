"""The offline tier on realistic evidence: verdicts, kinds, honesty, cache keys."""

from datetime import UTC, datetime, timedelta

import pytest

from bench import samples
from streampulse_assets.lib.analysis import cache_keys, evidence, offline
from streampulse_assets.lib.analysis.graph import SpikeAnalyser
from streampulse_assets.lib.analysis.models import QueueEvent
from streampulse_assets.lib.analysis.search import WarehouseContextSearch, evidence_context


def event(kind: str, *, seed: int = 3, level: str = "SPIKE", **evidence_updates) -> QueueEvent:
    ev = samples.evidence(kind, seed=seed)
    ev.update(evidence_updates)
    cause = "PERSON_ISSUE" if ev["contribution_ratio"] >= 0.5 else "STRUCTURE_ISSUE"
    ts = datetime(2026, 11, 2, 12, 7)
    return QueueEvent(1, "V3", "chzzk", "lol", "League of Legends", ts, level, cause, ev, ts)


@pytest.mark.parametrize(
    ("kind", "verdict", "event_kind"),
    [
        ("move", "CONFIRMED", "CATEGORY_MOVE"),
        ("start", "CONFIRMED", "STREAM_START"),
        ("title", "CONFIRMED", "TOURNAMENT_OR_BROADCAST"),
        ("collab", "CONFIRMED", "COLLAB_OR_RAID"),
        ("surge", "CONFIRMED", "GAME_RELEASE_OR_UPDATE"),
        ("artifact", "NO_EVENT", "DATA_ARTIFACT"),
    ],
)
def test_offline_analyst_explains_each_story(kind, verdict, event_kind):
    e = event(kind)
    out = offline.analyse(e)
    assert (out.verdict, out.event_kind) == (verdict, event_kind)
    assert 0.0 <= out.confidence <= 0.9
    assert "Offline analysis cannot see" in out.reason or kind == "artifact"
    assert f"{e.evidence['delta']:,}" in out.reason  # cites the numbers it relies on


def test_move_names_the_streamer_and_the_category_it_came_from():
    e = event("move")
    lead = evidence.lead_streamer(e)
    result = SpikeAnalyser().analyse(e)
    assert result.summary.startswith(f"[{lead.name}]")
    assert "Just Chatting" in result.summary and "Just Chatting" in result.reason
    assert lead.name in result.keywords and "Just Chatting" in result.keywords
    assert result.tier == "offline" and result.tokens_in == 0 and result.cost_usd == 0.0
    assert result.lead_channel_id == lead.channel_id


def test_title_change_is_quoted_and_unknown_trigger_admitted():
    e = event("title")
    out = offline.analyse(e)
    assert "LCK 결승 같이보기 중계" in out.reason
    assert "not confirmed" in out.reason
    summary = offline.edit(e, offline.watch(e), out).summary
    assert 'new title "LCK 결승 같이보기 중계"' in summary


def test_no_streamer_data_is_insufficient():
    out = offline.analyse(event("move", top_streamers=[]))
    assert out.verdict == "INSUFFICIENT" and "unknown" in out.reason


def test_weak_candidate_without_market_proof_is_insufficient():
    e = event("surge", level="CANDIDATE", market_proof=False, open_lives=None, delta=900)
    assert offline.analyse(e).verdict == "INSUFFICIENT"


def test_cache_key_is_stable_and_has_the_documented_parts():
    e = event("move")
    key = cache_keys.cache_key(e)
    platform, entity, streamer, title_hash, bucket = key.split(":")[1:]
    lead = evidence.lead_streamer(e)
    assert (platform, entity, streamer) == ("chzzk", "lol", lead.channel_id)
    assert title_hash == cache_keys.title_hash(lead.title) and bucket == "202611021200"
    later = QueueEvent(**{**e.__dict__, "ts": e.ts + timedelta(minutes=40)})
    assert cache_keys.cache_key(later) == key  # same streamer, title and hour
    retitled = event("move")
    retitled.evidence["top_streamers"][0]["title"] = "something else"
    assert cache_keys.cache_key(retitled) != key
    surge = cache_keys.cache_key(event("surge"))
    assert surge.split(":")[3:5] == ["-", "-"]  # category-wide: no streamer in the key


def test_time_bucket_handles_aware_and_naive_timestamps():
    naive = datetime(2026, 11, 2, 14, 59)
    aware = datetime(2026, 11, 2, 23, 59, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Asia/Seoul")
    )
    assert cache_keys.time_bucket(naive) == "202611021400"
    assert cache_keys.time_bucket(aware) == "202611022300"
    assert cache_keys.time_bucket(naive, 180) == "202611021200"


def test_evidence_context_reports_moves_title_changes_and_lives():
    lines = evidence_context(event("surge"))
    assert any("Open lives" in line for line in lines)
    lines = evidence_context(event("title"))
    assert any('"랭크 게임" -> "LCK 결승 같이보기 중계"' in line for line in lines)
    assert WarehouseContextSearch(None).search(event("move"), offline.watch(event("move"))).context


def test_candidate_with_a_visible_trigger_stays_confirmed_but_less_sure():
    spike = offline.analyse(event("start"))
    weak = offline.analyse(event("start", level="CANDIDATE", delta=900, required_delta=1500))
    assert weak.verdict == "CONFIRMED" and weak.event_kind == "STREAM_START"
    assert weak.confidence < spike.confidence
    assert offline.category_type("리그 오브 레전드") == "GAME"
    assert offline.category_type("Just Chatting") == "TALK"


def _donga_event() -> QueueEvent:
    """The issue-13 case: 동아민 added +8,099 of a +8,666 rise (93 %) and holds 63 % of viewers."""
    lead = {
        "channel_id": "donga",
        "channel_name": "동아민",
        "title": "저챗",
        "viewers": 9_099,
        "viewers_before": 1_000,
        "title_before": "저챗",
        "category_before": None,
    }
    others = [
        {
            "channel_id": f"o{i}",
            "channel_name": f"other{i}",
            "title": "t",
            "viewers": 1_000 - 100 * i,
            "viewers_before": 1_000 - 100 * i,
            "title_before": "t",
            "category_before": None,
        }
        for i in range(4)
    ]
    return event(
        "title",
        current=14_444,
        baseline_short=5_778,
        delta=8_666,
        growth_ratio=2.5,
        contribution_ratio=0.93,
        dominance_index=0.63,
        top_streamers=[lead, *others],
    )


def test_contribution_to_the_rise_and_share_of_viewers_are_separate_figures():
    e = _donga_event()
    fig = evidence.figures(e)
    lead = fig["streamers"][0]
    assert lead["gain"] == 8_099
    assert round(lead["rise_share"], 3) == round(8_099 / 8_666, 3)  # 0.935
    assert round(lead["viewer_share"], 3) == round(9_099 / 14_444, 3)  # 0.630
    reason = offline.analyse(e).reason
    assert "동아민 alone +8,099 (93% of the rise; 63% of current viewers)" in reason
    assert "alone 63%" not in reason


def test_insufficient_verdicts_name_what_is_missing_for_each_event():
    no_streamers = offline.analyse(event("move", top_streamers=[]))
    spread = event(
        "surge", market_proof=False, open_lives=None, open_lives_before=None, contribution_ratio=0.3
    )
    spread.evidence["top_streamers"][0]["viewers_before"] = None  # no earlier snapshot of the lead
    lead = evidence.lead_streamer(spread).name
    spread_out = offline.analyse(spread)
    assert no_streamers.verdict == spread_out.verdict == "INSUFFICIENT"
    assert "no top-streamer data" in no_streamers.reason
    assert "open lives is unknown" not in no_streamers.reason  # this event reports open lives
    assert f"no snapshot of the leading streamer {lead}" in spread_out.reason
    assert "open lives is unknown" in spread_out.reason
    assert "no top-streamer data" not in spread_out.reason
    summaries = {
        offline.edit(e, offline.watch(e), offline.analyse(e)).summary
        for e in (event("move", top_streamers=[]), spread)
    }
    assert len(summaries) == 2 and all("unknown:" in s for s in summaries)
