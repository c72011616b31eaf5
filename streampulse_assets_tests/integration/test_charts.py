"""Spike charts: the series captured into the queue evidence, the PNG, and where it is shown."""

from __future__ import annotations

import base64
import io
import json
import re
import warnings
from datetime import datetime, timedelta

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import psycopg2
import pytest
from matplotlib.image import imread

from bench import samples
from streampulse_assets.defs.analysis.assets import analysed_events, analysis_queue_results
from streampulse_assets.defs.resources import build_resources
from streampulse_assets.lib.alerts.message import build_message
from streampulse_assets.lib.analysis import chart
from streampulse_assets.lib.detection.baselines import refresh_baselines
from streampulse_assets.lib.detection.enqueue import enqueue_events
from streampulse_assets.lib.detection.frame import load_raw, normalise
from streampulse_assets.lib.detection.series import event_series
from streampulse_assets.lib.schema import migrate_duckdb

T0 = datetime(2026, 11, 1)
SPIKE = T0 + timedelta(hours=26)  # 26 hours of history for c1: the 24 h seasonal window exists
QUIET = T0 + timedelta(hours=25, minutes=30)  # c2 has only 4 hours: no seasonal baseline


def _history() -> pd.DataFrame:
    rows = []
    for i in range(26 * 60 + 1):
        ts = T0 + timedelta(minutes=i)
        if ts == SPIKE - timedelta(minutes=30):
            continue  # a missing minute stays absent
        rows.append(("chzzk", "c1", ts, 1_000 + (i % 7), "게임"))
    rows[-1] = ("chzzk", "c1", SPIKE, 5_000, "게임")
    for i in range(4 * 60):
        ts = QUIET - timedelta(hours=4) + timedelta(minutes=i + 1)
        rows.append(("soop", "c2", ts, 300 + i, "Talk"))
    columns = ["platform", "category_id", "ts", "viewers", "category_name"]
    frame = pd.DataFrame(rows, columns=columns)
    return normalise(frame)


class CountingConnection:
    """A real DuckDB connection that counts the queries sent through it."""

    def __init__(self, con):
        self.con, self.queries = con, 0

    def execute(self, *args, **kwargs):
        self.queries += 1
        return self.con.execute(*args, **kwargs)

    def register(self, *args):
        return self.con.register(*args)

    def unregister(self, *args):
        return self.con.unregister(*args)


@pytest.fixture(scope="module")
def warehouse():
    con = duckdb.connect()
    migrate_duckdb(con)
    load_raw(con, _history())
    refresh_baselines(con, SPIKE - timedelta(hours=4), SPIKE + timedelta(minutes=1))
    yield con
    con.close()


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "detector": ["V3", "V3", "V1"],
            "platform": ["chzzk", "soop", "chzzk"],
            "category_id": ["c1", "c2", "c1"],
            "category_name": ["게임", "Talk", "게임"],
            "ts": [SPIKE, QUIET, SPIKE],
            "level": ["SPIKE", "SPIKE", "SPIKE"],
            "cause": ["PERSON_ISSUE", "STRUCTURE_ISSUE", None],
            "current": [5_000, 539, 5_000],
            "delta": [3_997, 150, 3_997],
        }
    )


def test_event_series_reads_all_events_in_one_query(warehouse):
    counting = CountingConnection(warehouse)
    found = event_series(counting, _events())
    assert counting.queries == 1
    assert set(found) == {("chzzk", "c1", pd.Timestamp(SPIKE)), ("soop", "c2", pd.Timestamp(QUIET))}
    s = found[("chzzk", "c1", pd.Timestamp(SPIKE))]
    assert s["event_ts"] == s["ts"][-1] == SPIKE.strftime("%Y-%m-%dT%H:%M")
    assert len(s["ts"]) == 179  # 180 minutes up to and including the spike, one missing
    assert (SPIKE - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M") not in s["ts"]
    assert s["ts"][0] == (SPIKE - timedelta(minutes=179)).strftime("%Y-%m-%dT%H:%M")
    assert s["viewers"][-1] == 5_000 and s["viewers"][-2] < 1_010
    assert 1_000 <= s["rolling"][-1] <= 1_006  # the 60-minute median before the spike
    assert s["seasonal"][-1] is not None and 1_000 <= s["seasonal"][-1] <= 1_006
    # baselines were computed for the last 4 hours only: all 3 hours have rolling values
    assert all(v is not None for v in s["rolling"])
    quiet = found[("soop", "c2", pd.Timestamp(QUIET))]
    assert quiet["viewers"][-1] == 539 and len(quiet["ts"]) == 180
    assert all(v is None for v in quiet["seasonal"])  # no history a day earlier


def test_enqueue_puts_the_series_into_the_evidence(warehouse, pg_url):
    events = _events()
    series = event_series(warehouse, events)
    conn = psycopg2.connect(pg_url)
    try:
        stats = enqueue_events(conn, events, series)
        assert (stats.offered, stats.inserted, stats.ignored) == (2, 2, 1)
        with conn.cursor() as cur:
            cur.execute("SELECT category_id, evidence FROM analysis_queue ORDER BY category_id")
            stored = dict(cur.fetchall())
        assert stored["c1"]["series"] == series[("chzzk", "c1", pd.Timestamp(SPIKE))]
        assert stored["c2"]["series"]["viewers"][-1] == 539
        assert len(json.dumps(stored["c1"]["series"])) < 12_000  # compact: minutes, whole numbers
        assert enqueue_events(conn, events).duplicates == 2  # without a series: still once
    finally:
        conn.close()


def _evidence(series: dict | None) -> dict:
    ev = samples.evidence("collab", seed=3, category_name="리그 오브 레전드")
    ev["top_streamers"][0]["channel_name"] = "동아민"
    if series is not None:
        ev["series"] = series
    return ev


def _pixels(png: bytes) -> np.ndarray:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return imread(io.BytesIO(png), format="png")


def _red(img: np.ndarray) -> int:
    """Pixels of the spike marker's red (#c0392b)."""
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return int(((abs(r - 0.75) < 0.08) & (abs(g - 0.22) < 0.08) & (abs(b - 0.17) < 0.08)).sum())


def test_spike_chart_is_a_real_picture_of_the_series_and_the_contributions(warehouse):
    series = event_series(warehouse, _events())[("chzzk", "c1", pd.Timestamp(SPIKE))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing Hangul glyph warns: fail on it
        png = chart.render_spike_chart(_evidence(series), {"verdict": "CONFIRMED"})
    assert 15_000 < len(png) < 150_000
    img = _pixels(png)
    height, width = img.shape[:2]
    assert 550 <= width <= 800 and 380 <= height <= 560
    assert img[..., :3].std() > 0.05  # not blank
    assert _red(img) > 30  # the spike marker and line
    # the right-hand edge of the top panel (the spike minute) holds the marker, the left does not
    top = img[: height // 2]
    assert _red(top[:, int(width * 0.8) :]) > _red(top[:, : int(width * 0.5)])
    without = _pixels(chart.render_spike_chart(_evidence(None), None))
    assert _red(without) < _red(img) and without[..., :3].std() > 0.02  # says what is missing
    assert chart.chart_for(_evidence(None), None) is None  # alerts attach nothing then
    assert _pixels(chart.render_spike_chart({}, None)).shape[2] in (3, 4)  # empty evidence: ok


def test_analysed_events_writes_charts_and_shows_the_alert_text_with_them(
    stores, tmp_path, monkeypatch, warehouse
):
    monkeypatch.setenv("STREAMPULSE_HOME", str(tmp_path / "home"))
    series = event_series(warehouse, _events())[("chzzk", "c1", pd.Timestamp(SPIKE))]
    rows = samples.sample_rows(2)
    rows[0]["evidence"] = _evidence(series)
    rows[0]["category_name"] = "리그 오브 레전드"
    conn = psycopg2.connect(stores["postgres"])
    try:
        with_chart, without_chart = samples.insert_rows(conn, rows)
        result = dg.materialize(
            [analysis_queue_results, analysed_events], resources=build_resources()
        )
        assert result.success
        (mat,) = result.asset_materializations_for_node("analysed_events")
        md = mat.metadata["latest_spikes"]
        assert isinstance(md, dg.MarkdownMetadataValue)
        assert mat.metadata["charts_written"].value == 1
        path = tmp_path / "home" / "charts" / f"{with_chart}.png"
        assert path.read_bytes().startswith(b"\x89PNG") and path.stat().st_mode & 0o077 == 0
        images = re.findall(
            r"!\[spike chart\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", md.value
        )
        assert len(images) == 1 and base64.b64decode(images[0]) == path.read_bytes()
        with conn.cursor() as cur:
            cur.execute(
                "SELECT id, platform, category_id, category_name, ts, cause, evidence, result, "
                "analysis_status FROM analysis_queue WHERE id = %s",
                (with_chart,),
            )
            names = [c.name for c in cur.description]
            event = dict(zip(names, cur.fetchone(), strict=True))
        text = build_message(event).text
        assert chart.md_escape(text) in md.value  # the alert's own words, verbatim
        assert f"#{without_chart} " in md.value and "has no chart" in md.value
    finally:
        conn.close()
