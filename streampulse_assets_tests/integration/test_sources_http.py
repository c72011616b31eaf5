"""The shared HTTP layer of the live clients, against a real loopback server."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from werkzeug import Request, Response

from streampulse_assets.lib.sources.base import SourceConfigError, SourceError
from streampulse_assets.lib.sources.chzzk import ChzzkSource
from streampulse_assets.lib.sources.http import (
    BudgetExceeded,
    HostList,
    HttpPolicy,
    JsonHttp,
    retry_after_seconds,
)
from streampulse_assets.lib.sources.registry import build_live_sources
from streampulse_assets.lib.sources.soop import SoopSource

FAST = HttpPolicy(timeout_s=2.0, retries=2, backoff_s=1.0, backoff_max_s=10.0, budget_s=40.0)


class Sleeps(list):
    """Injectable sleep: records requested waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def session(policy: HttpPolicy = FAST, **kw) -> tuple[JsonHttp, Sleeps]:
    sleeps = Sleeps()
    return JsonHttp("test", policy, sleep=sleeps, **kw), sleeps


def base(httpserver) -> str:
    return httpserver.url_for("").rstrip("/")


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_json_and_payload_recorded(httpserver):
    httpserver.expect_request("/x", query_string="a=1").respond_with_data(
        '{"ok": true}', content_type="text/html; charset=utf-8"
    )
    http, sleeps = session()
    with http:
        doc, payload = http.get_json(base(httpserver), "/x", {"a": 1})
    assert doc == {"ok": True}
    assert payload.request == "GET /x?a=1"
    assert payload.status == 200 and payload.body == b'{"ok": true}'
    assert payload.content_type.startswith("text/html")
    assert http.payloads == [payload] and sleeps == []


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_are_config_errors(httpserver, status):
    httpserver.expect_request("/x").respond_with_json(
        {"code": status, "message": "INVALID_CLIENT"}, status=status
    )
    http, sleeps = session()
    with http, pytest.raises(SourceConfigError, match=f"HTTP {status}.*credentials"):
        http.get_json(base(httpserver), "/x")
    assert len(httpserver.log) == 1 and sleeps == []  # no retry: it cannot help


def test_429_honours_retry_after_seconds(httpserver):
    httpserver.expect_oneshot_request("/x").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "7"}
    )
    httpserver.expect_request("/x").respond_with_json({"n": 1})
    http, sleeps = session()
    with http:
        doc, _ = http.get_json(base(httpserver), "/x")
    assert doc == {"n": 1}
    assert sleeps == [7.0]
    assert [p.status for p in http.payloads] == [429, 200]


def test_429_retry_after_http_date_is_capped(httpserver):
    far = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    httpserver.expect_oneshot_request("/x").respond_with_data(
        "", status=429, headers={"Retry-After": far}
    )
    httpserver.expect_request("/x").respond_with_json([])
    policy = HttpPolicy(retries=1, retry_after_max_s=12.5)
    http, sleeps = session(policy)
    with http:
        http.get_json(base(httpserver), "/x")
    assert sleeps == [12.5]


def test_429_without_retry_after_backs_off(httpserver):
    for _ in range(2):
        httpserver.expect_ordered_request("/x").respond_with_data("quota", status=429)
    httpserver.expect_ordered_request("/x").respond_with_json({"ok": 1})
    http, sleeps = session()
    with http:
        assert http.get_json(base(httpserver), "/x")[0] == {"ok": 1}
    assert sleeps == [1.0, 2.0]


def test_429_forever_gives_up(httpserver):
    httpserver.expect_request("/x").respond_with_data("quota", status=429)
    http, sleeps = session()
    with http, pytest.raises(SourceError, match="rate limited"):
        http.get_json(base(httpserver), "/x")
    assert len(httpserver.log) == 3 and sleeps == [1.0, 2.0]


def test_retry_after_parsing():
    now = datetime(2026, 9, 27, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("3", now) == 3.0
    assert retry_after_seconds("Sun, 27 Sep 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Sun, 27 Sep 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_5xx_then_success(httpserver):
    httpserver.expect_ordered_request("/x").respond_with_data("boom", status=500)
    httpserver.expect_ordered_request("/x").respond_with_data("<h1>bad gateway</h1>", status=502)
    httpserver.expect_ordered_request("/x").respond_with_json({"ok": 2})
    http, sleeps = session()
    with http:
        assert http.get_json(base(httpserver), "/x")[0] == {"ok": 2}
    assert sleeps == [1.0, 2.0]
    assert [p.status for p in http.payloads] == [500, 502, 200]


def test_persistent_5xx_raises(httpserver):
    httpserver.expect_request("/x").respond_with_data("down", status=503)
    http, sleeps = session(HttpPolicy(retries=3, backoff_s=1.0, backoff_max_s=3.0))
    with http, pytest.raises(SourceError, match=r"failed after 4 attempt.*HTTP 503"):
        http.get_json(base(httpserver), "/x")
    assert len(httpserver.log) == 4
    assert sleeps == [1.0, 2.0, 3.0]  # exponential, capped


def test_timeout_is_retried_then_raises(httpserver):
    def slow(_request: Request) -> Response:
        time.sleep(0.3)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    http, sleeps = session(HttpPolicy(timeout_s=0.05, retries=1))
    with http, pytest.raises(SourceError, match="timed out"):
        http.get_json(base(httpserver), "/slow")
    assert sleeps == [1.0]


def test_connection_refused_is_retried_then_raises():
    http, sleeps = session(HttpPolicy(retries=2))
    with http, pytest.raises(SourceError, match="connection failed"):
        http.get_json(dead_url(), "/x")
    assert sleeps == [1.0, 2.0]


def test_non_json_body_names_url_and_excerpt(httpserver):
    httpserver.expect_request("/x").respond_with_data(
        "<html><body>Service temporarily unavailable</body></html>", content_type="text/html"
    )
    http, _ = session(secret_params=("client_id",))
    with http, pytest.raises(SourceError) as err:
        http.get_json(base(httpserver), "/x", {"client_id": "s3cr3t", "page": 2})
    message = str(err.value)
    assert "not JSON" in message and "temporarily unavailable" in message
    assert "/x?client_id=%2A%2A%2A&page=2" in message and "s3cr3t" not in message
    assert "s3cr3t" not in http.payloads[0].request


def test_other_4xx_fails_without_retry(httpserver):
    httpserver.expect_request("/x").respond_with_json({"code": 404}, status=404)
    http, sleeps = session()
    with http, pytest.raises(SourceError, match="HTTP 404"):
        http.get_json(base(httpserver), "/x")
    assert sleeps == [] and len(httpserver.log) == 1


def test_budget_exhaustion_raises_before_waiting(httpserver):
    httpserver.expect_request("/x").respond_with_data("down", status=500)
    now = [0.0]

    def fake_sleep(seconds: float) -> None:
        now[0] += seconds

    policy = HttpPolicy(retries=5, backoff_s=4.0, backoff_max_s=60.0, budget_s=10.0)
    with JsonHttp("test", policy, sleep=fake_sleep, clock=lambda: now[0]) as http:
        with pytest.raises(BudgetExceeded, match="budget of 10s"):
            http.get_json(base(httpserver), "/x")
        assert now[0] == 4.0  # slept 4, then 8 more would pass the 10 s budget
        assert len(httpserver.log) == 2
        now[0] = 11.0
        with pytest.raises(BudgetExceeded, match="exhausted"):
            http.get_json(base(httpserver), "/x")
        assert len(httpserver.log) == 2


def test_redirect_is_followed(httpserver):
    httpserver.expect_request("/old").respond_with_data(
        "", status=301, headers={"Location": httpserver.url_for("/new")}
    )
    httpserver.expect_request("/new").respond_with_json({"moved": True})
    http, _ = session()
    with http:
        assert http.get_json(base(httpserver), "/old")[0] == {"moved": True}


def test_host_fallback_and_preference(httpserver):
    httpserver.expect_request("/x").respond_with_json({"ok": True})
    hosts = HostList([dead_url(), base(httpserver)])
    http, sleeps = session()
    with http:
        assert http.get_json_any(hosts, "/x")[0] == {"ok": True}
        assert sleeps == []  # an unreachable host with a fallback is not retried
        assert hosts.ordered()[0] == base(httpserver)


def test_all_hosts_failing_reports_each(httpserver):
    httpserver.expect_request("/x").respond_with_data("down", status=500)
    hosts = HostList([dead_url(), base(httpserver)])
    http, _ = session(HttpPolicy(retries=0))
    with http, pytest.raises(SourceError, match=r"connection failed.*; .*HTTP 500"):
        http.get_json_any(hosts, "/x")


def test_registry_builds_named_sources():
    env = {"STREAMPULSE_CHZZK_CLIENT_ID": "id", "STREAMPULSE_CHZZK_CLIENT_SECRET": "secret"}
    sources = build_live_sources([" SOOP", "chzzk", "soop", ""], env=env)
    assert [type(s) for s in sources] == [SoopSource, ChzzkSource]
    assert [s.platform for s in sources] == ["soop", "chzzk"]


def test_registry_rejects_unknown_names():
    with pytest.raises(SourceConfigError, match=r"'twitch'.*known: chzzk, soop"):
        build_live_sources(["soop", "twitch"], env={})
    with pytest.raises(SourceConfigError, match="history sources"):
        build_live_sources(["simulator"], env={})


def test_registry_reports_missing_chzzk_credentials():
    with pytest.raises(SourceConfigError, match="STREAMPULSE_CHZZK_CLIENT_SECRET"):
        build_live_sources(["chzzk"], env={"STREAMPULSE_CHZZK_CLIENT_ID": "id"})
