"""Live platforms over a window: what was received is kept; one bad minute never sinks the rest."""

import json
from datetime import datetime, timedelta

import pytest
import zstandard
from werkzeug import Request, Response

from streampulse_assets.lib.ingest.collect import collect_live, fetch_and_archive
from streampulse_assets.lib.ingest.landing import Landing
from streampulse_assets.lib.sources.base import RawPayload, SourceError
from streampulse_assets.lib.sources.chzzk import ChzzkConfig, ChzzkSource
from streampulse_assets.lib.sources.http import HttpPolicy
from streampulse_assets_tests.integration.test_chzzk import FIXTURES
from streampulse_assets_tests.integration.test_chzzk import FULL as PAGES

NOW = datetime(2026, 11, 20, 12, 34)


@pytest.fixture
def api(httpserver):
    """A CHZZK lives endpoint whose behaviour the test switches: ok, html (after page 1), 500."""
    state = {"mode": "ok"}

    def handler(request: Request) -> Response:
        cursor = request.args.get("next")
        if state["mode"] == "500":
            return Response('{"code": 500}', status=500, content_type="application/json")
        if state["mode"] == "html" and cursor:
            return Response("<html>점검 중 maintenance</html>", content_type="text/html")
        return Response((FIXTURES / PAGES[cursor]).read_text(), content_type="application/json")

    httpserver.expect_request("/open/v1/lives").respond_with_handler(handler)
    config = ChzzkConfig(
        client_id="cid",
        client_secret="csecret",
        base_url=httpserver.url_for("").rstrip("/"),
        http=HttpPolicy(timeout_s=2.0, retries=1, backoff_s=0.0),
    )
    return state, ChzzkSource(config, sleep=lambda _s: None)


def test_a_malformed_page_is_kept_beside_the_archive_not_lost(api, tmp_path):
    state, source = api
    state["mode"] = "html"
    landing = Landing(tmp_path)
    with pytest.raises(SourceError, match=r"not JSON.*maintenance.*responses kept in") as err:
        fetch_and_archive(source, landing, NOW)
    kept = landing.failed_path("chzzk", NOW)
    assert str(kept) in str(err.value)
    document = json.loads(zstandard.ZstdDecompressor().decompress(kept.read_bytes()))
    assert [p["status"] for p in document["payloads"]] == [200, 200]  # page 1, then the html
    assert "not JSON" in document["error"]
    # Kept for people, never parsed as the minute's data: the minute stays a gap.
    assert landing.read("chzzk", NOW) is None
    assert landing.minutes("chzzk", NOW, NOW + timedelta(minutes=1)) == []


def test_a_catch_up_keeps_archived_minutes_when_the_current_fetch_fails(api, tmp_path):
    state, source = api
    landing = Landing(tmp_path)
    for back in (3, 2, 1):  # archived by live_fetch while the tick waited
        fetch_and_archive(source, landing, NOW - timedelta(minutes=back))
    state["mode"] = "500"
    frame, warnings, gaps = collect_live(
        source, landing, NOW - timedelta(minutes=3), NOW + timedelta(minutes=1), NOW
    )
    assert sorted(frame["ts"].unique()) == [NOW - timedelta(minutes=b) for b in (3, 2, 1)]
    assert gaps == 1
    assert any("12:34" in w and "HTTP 500" in w for w in warnings)


def test_an_archive_that_no_longer_parses_is_a_gap_not_a_failed_window(api, tmp_path):
    _state, source = api
    landing = Landing(tmp_path)
    start = NOW - timedelta(minutes=3)
    for back in (3, 1):
        fetch_and_archive(source, landing, NOW - timedelta(minutes=back))
    broken = [RawPayload("chzzk", "GET /open/v1/lives?size=20", 200, b'{"code": 200}', "json")]
    landing.write("chzzk", NOW - timedelta(minutes=2), broken)
    frame, warnings, gaps = collect_live(source, landing, start, NOW, now_minute=NOW)
    assert sorted(frame["ts"].unique()) == [start, NOW - timedelta(minutes=1)]
    assert gaps == 1 and any("12:32" in w for w in warnings)


def test_a_tick_of_one_minute_reports_the_fetch_error_itself(api, tmp_path):
    state, source = api
    state["mode"] = "500"
    with pytest.raises(SourceError, match=r"HTTP 500") as err:
        collect_live(source, Landing(tmp_path), NOW, NOW + timedelta(minutes=1), NOW)
    assert "no minute of" not in str(err.value)


def test_a_damaged_archive_file_is_a_gap_with_its_reason(api, tmp_path):
    _state, source = api
    landing = Landing(tmp_path)
    start = NOW - timedelta(minutes=2)
    fetch_and_archive(source, landing, start)
    damaged = landing.path("chzzk", NOW - timedelta(minutes=1))
    damaged.write_bytes(b"\x28\xb5\x2f\xfd truncated")  # a zstd header, then nothing usable
    frame, warnings, gaps = collect_live(source, landing, start, NOW, now_minute=NOW)
    assert sorted(frame["ts"].unique()) == [start]
    assert gaps == 1 and any("cannot be read" in w and "12:33" in w for w in warnings)


def test_two_writers_of_one_minute_leave_one_whole_archive(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    landing = Landing(tmp_path)
    body = b'{"code": 200, "content": {"data": []}}' * 2000
    payloads = [RawPayload("chzzk", "GET /open/v1/lives?size=20", 200, body, "json")]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: landing.write("chzzk", NOW, payloads), range(64)))
    assert landing.read("chzzk", NOW) == payloads
    assert [p.name for p in landing.path("chzzk", NOW).parent.iterdir()] == ["1234.json.zst"]


def test_a_retried_tick_still_names_why_its_minute_failed(api, tmp_path):
    # The first run of a tick failed on a malformed page; its retry starts after the minute has
    # passed, so the minute is a gap, reported with the original error rather than only "late".
    state, source = api
    landing = Landing(tmp_path)
    state["mode"] = "html"
    with pytest.raises(SourceError):
        fetch_and_archive(source, landing, NOW)
    later = NOW + timedelta(minutes=2)
    frame, warnings, gaps = collect_live(
        source, landing, NOW, NOW + timedelta(minutes=1), later, past_is_gap=True
    )
    assert frame.empty and gaps == 1
    assert any("12:34" in w and "not JSON" in w for w in warnings)
    assert any("tick started after" in w for w in warnings)


def test_a_failure_that_cannot_be_recorded_still_reports_the_fetch_error(api, tmp_path):
    state, source = api
    state["mode"] = "500"
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the landing area should be")
    with pytest.raises(SourceError, match=r"HTTP 500.*not recorded"):
        fetch_and_archive(source, Landing(blocked), NOW)


def test_a_foreign_file_in_place_of_a_failure_record_is_named_not_raised(tmp_path):
    landing = Landing(tmp_path)
    path = landing.failed_path("chzzk", NOW)
    path.parent.mkdir(parents=True)
    path.write_bytes(zstandard.ZstdCompressor().compress(b"[1, 2]"))
    assert "cannot be read" in landing.failure("chzzk", NOW)


def _page(*items) -> RawPayload:
    body = {"code": 200, "message": None, "content": {"data": list(items), "page": {}}}
    return RawPayload("chzzk", "GET /open/v1/lives?size=20", 200, json.dumps(body).encode(), "json")


def _live(n: int, viewers, title: str = "방송") -> dict:
    return {
        "liveId": n, "liveTitle": title, "concurrentUserCount": viewers, "liveCategory": "LoL",
        "liveCategoryValue": "롤", "channelId": f"ch{n}", "channelName": f"name{n}",
    }  # fmt: skip


def test_hostile_live_values_are_capped_or_named_and_other_minutes_kept(tmp_path):
    source = ChzzkSource(
        ChzzkConfig(client_id="c", client_secret="s", base_url="http://127.0.0.1:9")
    )
    landing = Landing(tmp_path)
    start = NOW - timedelta(minutes=2)
    landing.write("chzzk", start, [_page(_live(1, 5, "x" * 10_000_000), _live(2, 7))])
    landing.write("chzzk", start + timedelta(minutes=1), [_page(_live(3, 10**30), _live(4, 2))])
    rejected = []
    frame, _, gaps = collect_live(source, landing, start, NOW, NOW, rejected=rejected)
    # A live with 1e30 viewers is out of range (chzzk.as_count): that item is skipped as
    # malformed, the rest of its minute is kept, and the raw page stays in the archive.
    assert frame["ts"].tolist() == [start, start + timedelta(minutes=1)]
    assert frame["viewers"].tolist() == [12, 2]
    streamers = json.loads(frame["top_streamers"].iloc[0])
    assert [len(s["title"]) for s in streamers] == [len("방송"), 300]  # the 10 MB title is cut
    assert len(frame["top_streamers"].iloc[0]) < 1000
    assert gaps == 0 and rejected == []
    assert landing.read("chzzk", start + timedelta(minutes=1)) is not None
