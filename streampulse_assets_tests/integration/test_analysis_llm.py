"""The real OpenAI SDK against a local OpenAI-compatible server (pytest-httpserver on loopback)."""

import json

import openai
import pytest
from werkzeug import Request, Response

from bench import samples
from streampulse_assets.lib.analysis import llm as llm_mod
from streampulse_assets.lib.analysis import queue
from streampulse_assets.lib.analysis.graph import SpikeAnalyser
from streampulse_assets.lib.analysis.llm import LLMClient, LLMSettings, Price
from streampulse_assets.lib.analysis.models import AnalystOutput, EditorOutput, QueueEvent
from streampulse_assets.lib.analysis.prompts import SHARED_PREFIX
from streampulse_assets.lib.analysis.worker import drain
from streampulse_assets.lib.settings import LanguageModelSettings
from streampulse_assets.lib.settings.configs import llm_settings

ANALYST = {
    "verdict": "CONFIRMED",
    "event_kind": "CATEGORY_MOVE",
    "keywords": ["star3", "Just Chatting"],
    "reason": "star3 arrived from Just Chatting and brought the audience.",
    "confidence": 1.7,  # out of range on purpose: clean() clips it
}
EDITOR = {"summary": "[star3] moved to League of Legends and tripled its audience."}
PRICES = {"stub-strong": Price(2.0, 0.5, 8.0), "stub-cheap": Price(0.2, 0.05, 0.8)}


def completion(content=None, *, model="stub", finish="stop", refusal=None) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": finish,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
            }
        ],
        "usage": {
            "prompt_tokens": 1500,
            "completion_tokens": 100,
            "total_tokens": 1600,
            "prompt_tokens_details": {"cached_tokens": 1024},
        },
    }


class StubServer:
    """Answers by the requested schema name; `script[name]` is a list of behaviours to pop."""

    def __init__(self, httpserver):
        self.requests: list[dict] = []
        self.script: dict[str, list] = {}
        httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(
            self.handle
        )

    def handle(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        self.requests.append(body)
        name = body["response_format"]["json_schema"]["name"]
        model = body["model"]
        default = ANALYST if name == "AnalystOutput" else EDITOR
        step = (self.script.get(name) or ["ok"]).pop(0) if self.script.get(name) else "ok"
        headers = {"retry-after-ms": "5"}
        if step in (500, 429):
            err = {"error": {"message": f"stub {step}", "type": "server_error"}}
            return Response(
                json.dumps(err), status=step, headers=headers, mimetype="application/json"
            )
        if step == "refusal":
            data = completion(None, model=model, refusal="I can't help with that.")
        elif step == "malformed":
            data = completion('{"verdict": "MAYBE", "keywords": 3}', model=model)
        elif step == "truncated":
            data = completion('{"verdict": "CONF', model=model, finish="length")
        else:
            data = completion(json.dumps(default), model=model)
        return Response(json.dumps(data), status=200, mimetype="application/json")


@pytest.fixture
def stub(httpserver):
    return StubServer(httpserver)


def client(httpserver, *, retries=1) -> LLMClient:
    settings = LLMSettings(
        api_key="test-key",
        base_url=httpserver.url_for("/v1"),
        model_cheap="stub-cheap",
        model_strong="stub-strong",
        timeout_s=5,
        max_retries=retries,
    )
    return LLMClient(settings, prices=PRICES)


def event() -> QueueEvent:
    r = samples.sample_rows(1, seed=3)[0]
    return QueueEvent(9, "V3", r["platform"], r["category_id"], r["category_name"], r["ts"],
                      r["level"], r["cause"], r["evidence"], r["ts"])  # fmt: skip


def test_structured_outputs_usage_and_cost(httpserver, stub):
    result = SpikeAnalyser(llm=client(httpserver)).analyse(event())
    assert result.tier == "openai" and result.verdict == "CONFIRMED"
    assert result.event_kind == "CATEGORY_MOVE" and result.confidence == 1.0
    assert result.summary == EDITOR["summary"]
    assert result.models == {"analyst": "stub-strong", "editor": "stub-cheap"}
    assert (result.tokens_in, result.tokens_out, result.llm_calls) == (3000, 200, 2)
    strong = (476 * 2.0 + 1024 * 0.5 + 100 * 8.0) / 1e6
    cheap = (476 * 0.2 + 1024 * 0.05 + 100 * 0.8) / 1e6
    assert result.cost_usd == pytest.approx(strong + cheap)
    analyst_req, editor_req = stub.requests
    fmt = analyst_req["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert analyst_req["model"] == "stub-strong" and editor_req["model"] == "stub-cheap"
    # Static prompt first (identical prefix for every event), event data last.
    system, user = analyst_req["messages"]
    assert system["role"] == "system" and system["content"].startswith(SHARED_PREFIX)
    assert "League of Legends" not in system["content"].replace(SHARED_PREFIX, "")
    assert json.loads(user["content"])["category_id"] == event().category_id


@pytest.mark.parametrize("failure", ["refusal", "malformed", "truncated"])
def test_content_failures_fall_back_to_the_offline_analyst(httpserver, stub, failure):
    stub.script["AnalystOutput"] = [failure]
    result = SpikeAnalyser(llm=client(httpserver)).analyse(event())
    assert result.tier == "offline"
    assert result.fallbacks and result.fallbacks[0].startswith(f"analyst: {failure}")
    assert result.verdict == "CONFIRMED" and "Offline analysis" in result.reason
    assert result.models == {"editor": "stub-cheap"}  # the editor still ran on the cheap model


def test_content_errors_are_typed(httpserver, stub):
    llm = client(httpserver)
    msgs = [{"role": "user", "content": "x"}]
    for failure, error in [
        ("refusal", llm_mod.LLMRefusal),
        ("malformed", llm_mod.LLMBadOutput),
        ("truncated", llm_mod.LLMTruncated),
    ]:
        stub.script["AnalystOutput"] = [failure]
        with pytest.raises(error):
            llm.structured("stub-strong", msgs, AnalystOutput)


def test_a_500_then_success_is_retried_by_the_sdk(httpserver, stub):
    stub.script["EditorOutput"] = [500]
    call = client(httpserver, retries=1).structured("stub-cheap", [], EditorOutput)
    assert call.parsed.summary == EDITOR["summary"]
    assert len(stub.requests) == 2


def test_a_persistent_429_goes_back_to_the_queue_with_the_error(httpserver, stub, pg_url):
    import psycopg2

    stub.script["AnalystOutput"] = [429, 429]
    conn = psycopg2.connect(pg_url)
    (event_id,) = samples.insert_rows(conn, samples.sample_rows(1))
    stats = drain(pg_url, None, worker_id="w", llm=client(httpserver, retries=1))
    assert (stats.analysed, stats.retried) == (0, 1)
    with conn.cursor() as cur:
        cur.execute("SELECT analysis_status, attempts, last_error FROM analysis_queue")
        status, attempts, error = cur.fetchone()
    assert (status, attempts) == ("PENDING", 1) and error.startswith("RateLimitError")
    # The back-off is recorded; once due, the next drain succeeds.
    with conn.cursor() as cur:
        cur.execute("UPDATE analysis_queue SET next_attempt_at = now() WHERE id = %s", (event_id,))
    conn.commit()
    stats = drain(pg_url, None, worker_id="w", llm=client(httpserver, retries=1))
    assert stats.analysed == 1 and stats.tiers == {"openai": 1} and stats.llm_calls == 2
    assert queue.stats(conn).counts["DONE"] == 1
    conn.close()


def test_without_api_key_there_is_no_client():
    assert llm_settings(LanguageModelSettings.read({})).api_key is None
    with pytest.raises(ValueError):
        LLMClient(LLMSettings(api_key=None))
    env = {"OPENAI_API_KEY": "k", "STREAMPULSE_LLM_PRICES": '{"m": [1, 0.1, 2]}'}
    assert llm_settings(LanguageModelSettings.read(env)).prices["m"] == Price(1.0, 0.1, 2.0)
    assert (
        llm_mod.estimate_cost(llm_mod.DEFAULT_PRICES, "gpt-5-mini-2025-08-07", 10**6, 0, 0) == 0.25
    )
    assert llm_mod.estimate_cost(llm_mod.DEFAULT_PRICES, "llama3", 1, 0, 1) is None
    with pytest.raises(ValueError):
        LanguageModelSettings.read({"STREAMPULSE_LLM_PRICES": "nope"})
    assert issubclass(openai.RateLimitError, openai.APIStatusError)


def test_on_the_last_attempt_a_failing_model_server_falls_back_to_offline(httpserver, stub, pg_url):
    import psycopg2

    stub.script["AnalystOutput"] = [500] * 20
    conn = psycopg2.connect(pg_url)
    samples.insert_rows(conn, samples.sample_rows(1))
    conn.commit()
    llm = client(httpserver, retries=0)
    for attempt in (1, 2):  # the first attempts go back to the queue with the error
        stats = drain(pg_url, None, worker_id="w", llm=llm, max_attempts=3)
        assert (stats.analysed, stats.retried) == (0, 1), attempt
        with conn.cursor() as cur:
            cur.execute("UPDATE analysis_queue SET next_attempt_at = now()")
        conn.commit()
    stats = drain(pg_url, None, worker_id="w", llm=llm, max_attempts=3)
    assert stats.analysed == 1 and stats.tiers == {"offline": 1}
    with conn.cursor() as cur:
        cur.execute("SELECT analysis_status, attempts, result FROM analysis_queue")
        status, attempts, result = cur.fetchone()
    assert (status, attempts) == ("DONE", 3)
    assert result["tier"] == "offline" and result["summary"]
    assert any("llm unavailable on the last attempt" in f for f in result["fallbacks"])
    conn.close()


def test_the_model_gets_rise_and_viewer_shares_but_not_the_chart_series(httpserver, stub):
    e = event()
    e.evidence["series"] = {"ts": ["2026-11-02T12:00"], "viewers": [1], "rolling": [1]}
    SpikeAnalyser(llm=client(httpserver)).analyse(e)
    analyst_req, editor_req = stub.requests
    system, user = analyst_req["messages"]
    assert "NOT a share of the rise" in system["content"]  # dominance_index described right
    payload = json.loads(user["content"])
    assert "series" not in payload["evidence"]
    lead = payload["figures"]["streamers"][0]
    s = e.top_streamers[0]
    gain = s["viewers"] - (s["viewers_before"] or 0)
    assert lead["gain"] == gain
    assert lead["rise_share"] == pytest.approx(gain / e.evidence["delta"])
    assert lead["viewer_share"] == pytest.approx(s["viewers"] / e.evidence["current"])
    assert json.loads(editor_req["messages"][1]["content"])["figures"] == payload["figures"]
