"""CHZZK Open API client against a real loopback server serving recorded-shape pages."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from werkzeug import Request, Response

from streampulse_assets.lib.settings import ChzzkSettings
from streampulse_assets.lib.settings.configs import chzzk_config
from streampulse_assets.lib.snapshots import SNAPSHOT_COLUMNS, UNCATEGORISED, streamers_from_json
from streampulse_assets.lib.sources.base import SourceConfigError, SourceError
from streampulse_assets.lib.sources.chzzk import ChzzkConfig, ChzzkSource
from streampulse_assets.lib.sources.http import HttpPolicy

FIXTURES = Path(__file__).parents[1] / "fixtures" / "chzzk"
MINUTE = datetime(2026, 9, 27, 13, 5, 42)
POLICY = HttpPolicy(timeout_s=2.0, retries=2, backoff_s=1.0)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def serve(httpserver, pages: dict[str | None, str]) -> None:
    """Serve /open/v1/lives: the `next` query value picks the fixture file."""

    def handler(request: Request) -> Response:
        assert request.headers.get("Client-Id") == "cid"
        assert request.headers.get("Client-Secret") == "csecret"
        assert request.args.get("size") == "20"
        return Response(fixture(pages[request.args.get("next")]), content_type="application/json")

    httpserver.expect_request("/open/v1/lives").respond_with_handler(handler)


def source(httpserver, sleeps: list | None = None, **config) -> ChzzkSource:
    cfg = ChzzkConfig(
        client_id="cid",
        client_secret="csecret",
        base_url=httpserver.url_for("").rstrip("/"),
        http=POLICY,
        **config,
    )
    return ChzzkSource(cfg, sleep=(sleeps if sleeps is not None else []).append)


def rows(frame: pd.DataFrame) -> dict[str, dict]:
    return {r["category_id"]: r for r in frame.to_dict("records")}


def cursors(httpserver) -> list[str | None]:
    return [req.args.get("next") for req, _ in httpserver.log]


FULL = {None: "lives_p1.json", "cur-2": "lives_p2.json", "cur-3": "lives_p3.json"}


def test_walks_all_pages_and_aggregates(httpserver):
    serve(httpserver, FULL)
    result = source(httpserver).fetch(MINUTE)
    assert cursors(httpserver) == [None, "cur-2", "cur-3"]
    frame = result.frame
    assert list(frame.columns) == SNAPSHOT_COLUMNS
    assert (frame["platform"] == "chzzk").all()
    assert (frame["ts"] == pd.Timestamp("2026-09-27 13:05:00")).all()
    by_id = rows(frame)
    assert list(by_id) == ["League_of_Legends", "talk", UNCATEGORISED, "Minecraft"]
    lol = by_id["League_of_Legends"]
    assert lol["category_name"] == "리그 오브 레전드"
    assert lol["viewers"] == 52000 + 2500 + 2400 + 800 + 700 + 600
    assert lol["open_lives"] == 6
    top = streamers_from_json(lol["top_streamers"])
    assert [s.viewers for s in top] == [52000, 2500, 2400, 800, 700]
    assert (top[0].channel_id, top[0].channel_name, top[0].title) == (
        f"{1:032x}",
        "페이커",
        "솔랭 <챌린저>",
    )
    # the live that moved from page 1 to page 2 is counted once, with its first-seen numbers
    assert by_id["talk"]["viewers"] == 15000 + 12000
    assert by_id["talk"]["open_lives"] == 2
    uncategorised = by_id[UNCATEGORISED]
    assert uncategorised["category_name"] == "Uncategorised"
    assert (uncategorised["viewers"], uncategorised["open_lives"]) == (3900, 2)
    assert result.warnings == []
    assert frame["viewers"].dtype == "int64" and str(frame["open_lives"].dtype) == "Int64"


def test_parse_payloads_reproduces_fetch(httpserver):
    serve(httpserver, FULL)
    src = source(httpserver)
    result = src.fetch(MINUTE)
    assert len(result.payloads) == 3
    assert all("csecret" not in p.request for p in result.payloads)
    pd.testing.assert_frame_equal(src.parse_payloads(MINUTE, result.payloads), result.frame)


def test_parse_payloads_skips_failed_attempts(httpserver):
    httpserver.expect_oneshot_request("/open/v1/lives").respond_with_data("oops", status=500)
    serve(httpserver, FULL)
    sleeps: list[float] = []
    src = source(httpserver, sleeps)
    result = src.fetch(MINUTE)
    assert sleeps == [1.0]
    assert [p.status for p in result.payloads] == [500, 200, 200, 200]
    pd.testing.assert_frame_equal(src.parse_payloads(MINUTE, result.payloads), result.frame)
    assert rows(result.frame)["League_of_Legends"]["open_lives"] == 6


def test_repeated_cursor_stops(httpserver):
    serve(httpserver, {None: "lives_p1.json", "cur-2": "lives_repeat.json"})
    result = source(httpserver).fetch(MINUTE)
    assert cursors(httpserver) == [None, "cur-2"]
    assert rows(result.frame)["League_of_Legends"]["open_lives"] == 2
    assert result.warnings == []


def test_empty_page_stops(httpserver):
    serve(httpserver, {None: "lives_p1.json", "cur-2": "lives_empty.json"})
    result = source(httpserver).fetch(MINUTE)
    assert cursors(httpserver) == [None, "cur-2"]
    assert sum(rows(result.frame)[c]["open_lives"] for c in rows(result.frame)) == 4


def test_page_cap_leaves_open_lives_unknown(httpserver):
    serve(httpserver, FULL)
    src = source(httpserver, max_pages=2)
    result = src.fetch(MINUTE)
    assert cursors(httpserver) == [None, "cur-2"]
    assert result.frame["open_lives"].isna().all()
    assert any("stopped after 2 pages" in w for w in result.warnings)
    pd.testing.assert_frame_equal(src.parse_payloads(MINUTE, result.payloads), result.frame)


def test_malformed_items_are_skipped_with_warning(httpserver):
    serve(httpserver, {None: "lives_malformed.json"})
    result = source(httpserver).fetch(MINUTE)
    talk = rows(result.frame)["talk"]
    assert (talk["viewers"], talk["open_lives"]) == (400 + 250, 2)
    (warning,) = result.warnings
    assert "skipped 3 malformed" in warning and "missing channelId" in warning


def test_code_not_200_in_http_200_is_an_error(httpserver):
    httpserver.expect_request("/open/v1/lives").respond_with_data(
        fixture("envelope_9004.json"), content_type="application/json"
    )
    with pytest.raises(SourceError, match="code 9004"):
        source(httpserver).fetch(MINUTE)


def test_auth_code_in_body_is_a_config_error(httpserver):
    httpserver.expect_request("/open/v1/lives").respond_with_data(
        fixture("error_invalid_client.json"), content_type="application/json"
    )
    with pytest.raises(SourceConfigError, match="INVALID_CLIENT"):
        source(httpserver).fetch(MINUTE)


def test_http_401_is_a_config_error_without_secret(httpserver):
    httpserver.expect_request("/open/v1/lives").respond_with_data(
        fixture("error_invalid_client.json"), status=401, content_type="application/json"
    )
    with pytest.raises(SourceConfigError) as err:
        source(httpserver).fetch(MINUTE)
    assert "credentials" in str(err.value) and "csecret" not in str(err.value)


def test_failure_mid_walk_fails_the_minute(httpserver):
    pages = iter([fixture("lives_p1.json")])

    def handler(request: Request) -> Response:
        body = next(pages, None)
        if body is None:
            return Response("<html>maintenance</html>", content_type="text/html")
        return Response(body, content_type="application/json")

    httpserver.expect_request("/open/v1/lives").respond_with_handler(handler)
    with pytest.raises(SourceError, match=r"not JSON.*maintenance"):
        source(httpserver).fetch(MINUTE)


def test_envelope_without_data_is_a_schema_error(httpserver):
    httpserver.expect_request("/open/v1/lives").respond_with_json(
        {"code": 200, "message": None, "content": {"page": {"next": None}}}
    )
    with pytest.raises(SourceError, match=r"no content\.data"):
        source(httpserver).fetch(MINUTE)


def test_config_from_settings():
    with pytest.raises(SourceConfigError) as err:
        chzzk_config(ChzzkSettings.read({}))
    assert "STREAMPULSE_CHZZK_CLIENT_ID and STREAMPULSE_CHZZK_CLIENT_SECRET" in str(err.value)
    cfg = chzzk_config(
        ChzzkSettings.read(
            {
                "STREAMPULSE_CHZZK_CLIENT_ID": "a",
                "STREAMPULSE_CHZZK_CLIENT_SECRET": "topsecret",
                "STREAMPULSE_CHZZK_BASE_URL": "http://127.0.0.1:9",
                "STREAMPULSE_CHZZK_MAX_PAGES": "7",
            }
        )
    )
    assert (cfg.base_url, cfg.max_pages) == ("http://127.0.0.1:9", 7)
    assert "topsecret" not in repr(cfg)
    env = {"STREAMPULSE_CHZZK_CLIENT_ID": "a", "STREAMPULSE_CHZZK_CLIENT_SECRET": "b"}
    assert chzzk_config(ChzzkSettings.read(env)).base_url == "https://openapi.chzzk.naver.com"
    with pytest.raises(SourceConfigError, match="page_size"):
        ChzzkConfig(client_id="a", client_secret="b", page_size=21)


def test_fixture_pages_have_the_open_api_item_shape():
    item = json.loads(fixture("lives_p1.json"))["content"]["data"][0]
    assert len(item) == 13 and {"liveId", "channelId", "concurrentUserCount"} <= set(item)
