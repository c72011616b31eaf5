"""SOOP client against a real loopback server serving recorded-shape pages."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from werkzeug import Request, Response

from streampulse_assets.lib.settings import SoopSettings
from streampulse_assets.lib.settings.configs import soop_config
from streampulse_assets.lib.snapshots import UNCATEGORISED, streamers_from_json
from streampulse_assets.lib.sources.base import SourceConfigError, SourceError
from streampulse_assets.lib.sources.http import HttpPolicy
from streampulse_assets.lib.sources.soop import SoopConfig, SoopSource

FIXTURES = Path(__file__).parents[1] / "fixtures" / "soop"
MINUTE = datetime(2026, 9, 27, 17, 30, 5)
POLICY = HttpPolicy(timeout_s=2.0, retries=1, backoff_s=0.5)
CATEGORY_PAGES = {"1": "categories_p1.json", "2": "categories_p2.json"}
BROAD_PAGES = {"1": "broad_p1.json", "2": "broad_p2.json", "3": "broad_p3.json"}


def page(name: str) -> Response:
    # SOOP answers JSON with a text/html content type
    return Response((FIXTURES / name).read_text(), content_type="text/html; charset=utf-8")


def down(_request: Request) -> Response:
    return Response("<html>502 Bad Gateway</html>", status=502, content_type="text/html")


def serve(
    httpserver,
    categories: dict[str, str] | None = CATEGORY_PAGES,
    broad: Callable[[Request], Response] | dict[str, str] | None = BROAD_PAGES,
) -> None:
    def api(request: Request) -> Response:
        args = request.args
        if args.get("m") == "categoryList":
            assert (args.get("nListCnt"), args.get("szOrder")) == ("120", "view_cnt")
            return page(categories[args["nPageNo"]]) if categories else down(request)
        if args.get("m") == "categoryContentsList":
            assert args.get("szType") == "live" and args.get("nPageNo") == "1"
            return page(f"contents_{args['szCateNo']}_p1.json")
        return Response("unknown mode", status=400)

    def broad_list(request: Request) -> Response:
        if broad is None:
            return down(request)
        if callable(broad):
            return broad(request)
        return page(broad[request.args["pageNo"]])

    httpserver.expect_request("/api.php").respond_with_handler(api)
    httpserver.expect_request("/api/main_broad_list_api.php").respond_with_handler(broad_list)


def source(httpserver, sleeps: list | None = None, **config) -> SoopSource:
    url = httpserver.url_for("").rstrip("/")
    cfg = SoopConfig(search_base_urls=(url,), live_base_urls=(url,), http=POLICY, **config)
    return SoopSource(cfg, sleep=(sleeps if sleeps is not None else []).append)


def rows(frame: pd.DataFrame) -> dict[str, dict]:
    return {r["category_id"]: r for r in frame.to_dict("records")}


def requests(httpserver, path: str, arg: str) -> list[str]:
    return [req.args.get(arg) for req, _ in httpserver.log if req.path == path]


def assert_replays(src: SoopSource, result) -> None:
    replayed = src.parse_payloads(MINUTE, result.payloads)
    pd.testing.assert_frame_equal(replayed, result.frame)


def test_categories_plus_complete_broadcast_list(httpserver):
    serve(httpserver)
    src = source(httpserver)
    result = src.fetch(MINUTE)
    assert requests(httpserver, "/api.php", "nPageNo") == ["1", "2"]  # is_more false on page 2
    assert requests(httpserver, "/api/main_broad_list_api.php", "pageNo") == ["1", "2", "3"]
    by_id = rows(result.frame)
    assert list(by_id) == [
        "00130000",
        "00040070",
        "00810000",
        "00040001",
        "00220000",
        "00990000",
        UNCATEGORISED,
    ]  # viewers descending; the zero-viewer category without lives is left out
    talk = by_id["00130000"]
    assert (talk["category_name"], talk["viewers"], talk["open_lives"]) == ("토크/캠방", 60739, 4)
    top = streamers_from_json(talk["top_streamers"])
    assert [(s.channel_id, s.viewers) for s in top] == [
        ("khm11903", 35614),  # total_view_cnt (PC + mobile), parsed from a string
        ("usera", 20000),
        ("userd", 5000),  # the broadcast that moved to page 2 counts once
        ("userf", 100),
    ]
    assert by_id["00040070"]["viewers"] == 12040  # string view_cnt
    assert by_id["00040070"]["open_lives"] == 2
    virtual = streamers_from_json(by_id["00810000"]["top_streamers"])
    assert virtual[0].title == "<버추얼> 첫 방송 & 노래"  # HTML entities decoded
    # viewers but no live in the complete list: unknown, never a made-up 0
    assert pd.isna(by_id["00220000"]["open_lives"])
    # live categories the category list did not show come from the broadcast list
    new = by_id["00990000"]
    assert (new["category_name"], new["viewers"], new["open_lives"]) == ("신규 카테고리", 25, 1)
    assert by_id[UNCATEGORISED]["category_name"] == "Uncategorised"
    assert (by_id[UNCATEGORISED]["viewers"], by_id[UNCATEGORISED]["open_lives"]) == (15, 1)
    (warning,) = result.warnings  # one malformed category item, one malformed broadcast
    assert "skipped 2 malformed" in warning
    assert_replays(src, result)


def test_keep_zero_categories(httpserver):
    serve(httpserver)
    result = source(httpserver, keep_zero_categories=True).fetch(MINUTE)
    empty = rows(result.frame)["00040999"]
    assert (empty["viewers"], empty["open_lives"]) == (0, 0)


def test_broadcast_list_outage_is_partial(httpserver):
    serve(httpserver, broad=None)
    sleeps: list[float] = []
    src = source(httpserver, sleeps)
    result = src.fetch(MINUTE)
    by_id = rows(result.frame)
    assert list(by_id) == ["00130000", "00040070", "00810000", "00040001", "00220000"]
    assert by_id["00130000"]["viewers"] == 60739
    assert result.frame["open_lives"].isna().all()
    assert (result.frame["top_streamers"] == "[]").all()
    assert any("partial outage" in w and "502" in w for w in result.warnings)
    assert sleeps == [0.5]  # the broadcast list was retried once
    assert_replays(src, result)


def test_broadcast_list_failing_mid_walk_keeps_top_streamers(httpserver):
    def flaky(request: Request) -> Response:
        if request.args["pageNo"] == "1":
            return page("broad_p1.json")
        return Response("<html>maintenance</html>", content_type="text/html")

    serve(httpserver, broad=flaky)
    src = source(httpserver)
    result = src.fetch(MINUTE)
    talk = rows(result.frame)["00130000"]
    assert pd.isna(talk["open_lives"])
    assert [s.channel_id for s in streamers_from_json(talk["top_streamers"])] == [
        "khm11903",
        "usera",
        "userd",
    ]
    assert any("not JSON" in w for w in result.warnings)
    assert any("broadcast list incomplete" in w for w in result.warnings)
    assert_replays(src, result)


def test_category_list_outage_uses_complete_broadcast_list(httpserver):
    serve(httpserver, categories=None)
    src = source(httpserver)
    result = src.fetch(MINUTE)
    talk = rows(result.frame)["00130000"]
    assert (talk["viewers"], talk["open_lives"]) == (35614 + 20000 + 5000 + 100, 4)
    assert any("partial outage" in w for w in result.warnings)
    assert_replays(src, result)


def test_total_failure_raises(httpserver):
    serve(httpserver, categories=None, broad=None)
    with pytest.raises(SourceError, match="neither the category list nor the broadcast list"):
        source(httpserver).fetch(MINUTE)


def test_schema_change_is_not_an_empty_platform(httpserver):
    httpserver.expect_request("/api.php").respond_with_json({"result": 1, "data": {}})
    serve(httpserver, broad=None)
    with pytest.raises(SourceError, match=r"no data\.list"):
        source(httpserver).fetch(MINUTE)


def test_category_contents_mode(httpserver):
    serve(httpserver, broad=None)
    src = source(httpserver, details="category_contents", contents_categories=3)
    result = src.fetch(MINUTE)
    assert requests(httpserver, "/api.php", "szCateNo")[2:] == ["00130000", "00040070", "00810000"]
    assert requests(httpserver, "/api/main_broad_list_api.php", "pageNo") == []
    by_id = rows(result.frame)
    talk = by_id["00130000"]
    assert pd.isna(talk["open_lives"])  # is_more true and no total_cnt: count unknown
    assert [s.viewers for s in streamers_from_json(talk["top_streamers"])] == [35729, 20010, 5002]
    assert by_id["00040070"]["open_lives"] == 2  # the list ended: the count is known
    assert streamers_from_json(by_id["00810000"]["top_streamers"])[0].title.startswith("<버추얼>")
    assert pd.isna(by_id["00040001"]["open_lives"])  # not among the biggest three
    assert result.warnings == [
        "soop: skipped 1 malformed item(s): " + ("category item without category_no/view_cnt")
    ]
    assert_replays(src, result)


def test_falls_back_to_the_next_host(httpserver):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    serve(httpserver)
    url = httpserver.url_for("").rstrip("/")
    cfg = SoopConfig(search_base_urls=(dead, url), live_base_urls=(dead, url), http=POLICY)
    sleeps: list[float] = []
    src = SoopSource(cfg, sleep=sleeps.append)
    result = src.fetch(MINUTE)
    assert rows(result.frame)["00130000"]["open_lives"] == 4
    assert sleeps == []
    assert src.search_hosts.ordered()[0] == url  # later requests go to the working host first


def test_config_hosts_from_settings():
    default = soop_config(SoopSettings.read({}))
    assert default.search_base_urls == ("https://sch.sooplive.co.kr", "https://sch.sooplive.com")
    assert default.live_base_urls == ("https://live.sooplive.co.kr", "https://live.sooplive.com")
    cfg = soop_config(
        SoopSettings.read(
            {
                "STREAMPULSE_SOOP_SEARCH_BASE_URL": "https://sch.sooplive.com",
                "STREAMPULSE_SOOP_LIVE_BASE_URL": "http://127.0.0.1:8080",
                "STREAMPULSE_SOOP_LIVE_FALLBACK_URLS": "http://127.0.0.1:8081, ",
                "STREAMPULSE_SOOP_DETAILS": "category_contents",
            }
        )
    )
    assert cfg.search_base_urls == ("https://sch.sooplive.com",)
    assert cfg.live_base_urls == ("http://127.0.0.1:8080", "http://127.0.0.1:8081")
    assert cfg.details == "category_contents"
    with pytest.raises(SourceConfigError, match="details mode"):
        SoopConfig(details="everything")
