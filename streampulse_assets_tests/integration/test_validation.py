"""Hostile input: every bad row kind is rejected by name (file, row, column, value), the good rows
of the same minute are stored, and titles and names are capped before storage."""

import json
import logging
from datetime import datetime, timedelta

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streampulse_assets.lib.ingest.collect import collect
from streampulse_assets.lib.ingest.landing import Landing
from streampulse_assets.lib.ingest.store import upsert_snapshots
from streampulse_assets.lib.ingest.validate import (
    MAX_TEXT,
    MAX_VIEWERS,
    ValidationError,
    is_validated,
    validate_snapshots,
)
from streampulse_assets.lib.schema import migrate_duckdb
from streampulse_assets.lib.sources.replay import ReplaySource

T = "2024-05-01T00:00:00"
MINUTE = datetime(2024, 5, 1)
HEADER = "ts,platform,category_id,viewers,top_streamers\n"
GOOD = [f"{T},chzzk,good1,10,[]", f"{T},chzzk,good2,20,[]"]
LONG_ID = "x" * (MAX_TEXT + 1)
HOSTILE = {
    # (a column of numbers only is read as floats: the value is shown as read)
    "viewers 1e30": (f"{T},chzzk,bad,1e30,[]", "viewers=1e+30", "above the maximum 100,000,000"),
    "viewers inf": (f"{T},chzzk,bad,inf,[]", "viewers=inf", "not finite"),
    "viewers -inf": (f"{T},chzzk,bad,-inf,[]", "viewers=-inf", "not finite"),
    "viewers nan": (f"{T},chzzk,bad,nan,[]", "viewers='nan'", "missing or NaN"),
    "viewers empty": (f"{T},chzzk,bad,,[]", "viewers=nan", "missing or NaN"),
    "viewers text": (f"{T},chzzk,bad,lots,[]", "viewers='lots'", "not a number"),
    "negative viewers": (f"{T},chzzk,bad,-5,[]", "viewers=-5", "negative"),
    "empty platform": (f"{T},,bad,5,[]", "platform=''", "empty"),
    "blank category_id": (f"{T},chzzk, ,5,[]", "category_id=' '", "empty"),
    "empty category_id": (f"{T},chzzk,,5,[]", "category_id=''", "empty"),
    "over-long id": (f"{T},chzzk,{LONG_ID},5,[]", "category_id='xxx", "longer than 300 characters"),
    "broken JSON": (f"{T},chzzk,bad,5,[broken", "top_streamers='[broken'", "invalid JSON"),
    "JSON not a list": (f'{T},chzzk,bad,5,"{{""a"": 1}}"', "top_streamers='{", "not a JSON list"),
    "streamer lacks keys": (
        f'{T},chzzk,bad,5,"[{{""title"": ""t""}}]"',
        "top_streamers='[",
        "item 0 is not an object with channel_id, channel_name, title, viewers",
    ),
    "streamer viewers 1e30": (
        f'{T},chzzk,bad,5,"[{{""channel_id"": ""a"", ""channel_name"": ""b"", ""title"": ""c"", '
        f'""viewers"": 1e30}}]"',
        "top_streamers='[",
        "item 0 viewers is not a number in 0..100,000,000",
    ),
    "future minute": ("2099-01-01T00:00:00,chzzk,bad,5,[]", "ts='2099-01-01T00:00:00'", "in the"),
    "unparseable ts": ("yesterday,chzzk,bad,5,[]", "ts='yesterday'", "not a timestamp"),
}


def _con(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    migrate_duckdb(con)
    return con


def _stored(con):
    return con.execute(
        "SELECT category_id, viewers FROM raw_snapshots ORDER BY category_id"
    ).fetchall()


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_each_bad_row_kind_is_named_and_the_good_rows_of_its_minute_are_stored(tmp_path, kind):
    row, shown, reason = HOSTILE[kind]
    path = tmp_path / "in.csv"
    path.write_text(HEADER + "\n".join([GOOD[0], row, GOOD[1]]) + "\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="rejected") as caught:
        source = ReplaySource(path)
    [rejection] = source.rejected
    message = str(rejection)
    assert message.startswith(f"{path} row 1: {shown}"), message  # file, row, column, value
    assert reason in message
    assert any(message == str(w.message) for w in caught)  # reported as a warning
    con = _con(tmp_path)
    assert upsert_snapshots(con, source.frame(MINUTE, MINUTE + timedelta(hours=1)), "replay") == 2
    assert _stored(con) == [("good1", 10), ("good2", 20)]


def test_numeric_parquet_values_are_bounded_too(tmp_path):
    path = tmp_path / "in.parquet"
    viewers = [1e30, float("inf"), float("nan"), 9.2e18, 12.0]
    table = pa.table(
        {
            "ts": pa.array([MINUTE] * 5, pa.timestamp("us")),
            "platform": ["soop"] * 5,
            "category_id": [f"c{i}" for i in range(5)],
            "viewers": pa.array(viewers, pa.float64()),
        }
    )
    pq.write_table(table, path)
    with pytest.warns(UserWarning):
        source = ReplaySource(path)
    assert [(r.row, r.value, r.reason) for r in source.rejected] == [
        (0, "1e+30", "above the maximum 100,000,000"),
        (1, "inf", "not finite"),
        (2, "nan", "missing or NaN"),
        (3, "9.2e+18", "above the maximum 100,000,000"),
    ]
    assert source.data[["category_id", "viewers"]].values.tolist() == [["c4", 12]]


def test_the_stored_warehouse_stays_computable(tmp_path):
    """1e30 used to be stored as INT64 min and then fail every signal_events window."""
    path = tmp_path / "in.csv"
    rows = [f"2024-05-01T00:{m:02d}:00,chzzk,cat,{100 + m},[]" for m in range(60)]
    rows[30] = "2024-05-01T00:30:00,chzzk,cat,1e30,[]"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.warns(UserWarning, match=r"row 30: viewers=1e\+30 rejected"):
        source = ReplaySource(path)
    con = _con(tmp_path)
    upsert_snapshots(con, source.frame(MINUTE, MINUTE + timedelta(hours=1)), "replay")
    low, high, count = con.execute(
        "SELECT min(viewers), max(viewers), count(*) FROM raw_snapshots"
    ).fetchall()[0]
    assert (low, high, count) == (100, 159, 59)
    # the subtraction that overflowed before
    assert con.execute(
        "SELECT max(d) FROM (SELECT viewers - lag(viewers) OVER (ORDER BY ts) AS d "
        "FROM raw_snapshots)"
    ).fetchall() == [(2,)]


def test_titles_and_names_are_capped_before_storage(tmp_path):
    huge = "제" * 10_000_000  # a 10 MB title
    streamers = [
        {"channel_id": f"id{i}", "channel_name": "n" * 5000, "title": huge, "viewers": i}
        for i in range(8)
    ]
    streamers.append({"channel_id": "s", "channel_name": "\ud800bad", "title": "t", "viewers": 100})
    frame = pd.DataFrame(
        {
            "ts": [MINUTE],
            "platform": ["chzzk"],
            "category_id": ["cat"],
            "category_name": ["이름" * 1000],
            "viewers": [36],
            "top_streamers": [json.dumps(streamers)],  # ASCII escapes, so \ud800 survives
        }
    )
    con = _con(tmp_path)
    assert upsert_snapshots(con, frame, "chzzk") == 1
    name, text = con.execute("SELECT category_name, top_streamers FROM raw_snapshots").fetchall()[0]
    assert len(name) == MAX_TEXT and name.endswith("…")
    stored = json.loads(text)
    assert [s["viewers"] for s in stored] == [100, 7, 6, 5, 4]  # the top 5 by viewers
    assert stored[0]["channel_name"] == "?bad"  # a lone surrogate is replaced, not stored
    assert all(len(s["title"]) <= MAX_TEXT and len(s["channel_name"]) <= MAX_TEXT for s in stored)
    assert len(text) < 5 * 3 * MAX_TEXT  # bounded whatever arrives


def test_the_store_is_the_last_line_of_defence(tmp_path, caplog):
    frame = pd.DataFrame(
        {
            "ts": [MINUTE, MINUTE, MINUTE],
            "platform": ["chzzk", "chzzk", ""],
            "category_id": ["ok", "huge", "nameless"],
            "viewers": [5.0, 1e30, 3.0],
        }
    )
    con = _con(tmp_path)
    with caplog.at_level(logging.WARNING, "streampulse_assets.lib.ingest.store"):
        assert upsert_snapshots(con, frame, "detector") == 1
    assert "detector rows to store row 1: viewers=1e+30 rejected: above the maximum" in caplog.text
    assert "detector rows to store row 2: platform='' rejected: empty" in caplog.text
    assert _stored(con) == [("ok", 5)]


def test_a_history_source_through_collect_is_validated_and_counted(tmp_path):
    class Feed:  # a history source (like the simulator) that produced one impossible row
        name = "simulator"

        def frame(self, start, end):
            return pd.DataFrame(
                {
                    "ts": [MINUTE] * 3,
                    "platform": ["chzzk"] * 3,
                    "category_id": ["a", "b", "c"],
                    "viewers": [1, -7, 3],
                }
            )

    result = collect(
        ["simulator"],
        MINUTE,
        MINUTE + timedelta(minutes=1),
        landing=Landing(tmp_path),
        now_minute=MINUTE,
        build_history=lambda name: Feed(),
        build_live=None,
    )
    assert [str(r) for r in result.rejected] == ["simulator row 1: viewers=-7 rejected: negative"]
    assert result.warnings == ["simulator row 1: viewers=-7 rejected: negative"]
    frame = result.frames["simulator"]
    assert frame["category_id"].tolist() == ["a", "c"] and is_validated(frame)


def test_validator_contract():
    frame = pd.DataFrame({"ts": [MINUTE], "platform": ["p"], "viewers": [1]})
    with pytest.raises(ValidationError, match=r"origin\.csv: missing required column.*category_id"):
        validate_snapshots(frame, "origin.csv")
    now = datetime(2024, 5, 1, 0, 10)
    frame = pd.DataFrame(
        {
            "ts": ["2024-05-01T00:11:59Z", "2024-05-01T00:12:00Z", "2024-05-01T09:10:00+09:00"],
            "platform": ["p"] * 3,
            "category_id": ["a", "b", "c"],
            "viewers": ["1", "2", str(MAX_VIEWERS)],
            "open_lives": ["", "nan", "many"],
        },
        index=[7, 8, 9],
    )
    good, rejected = validate_snapshots(frame, "o", now=now)
    # now + 1 minute is accepted (clock skew); the second after it is not
    assert [(r.row, r.column, r.reason) for r in rejected] == [
        (8, "ts", "in the future (after 2024-05-01 00:11:00 UTC)"),
        (9, "open_lives", "not a number"),
    ]
    assert rejected[0].ts == datetime(2024, 5, 1, 0, 12)
    assert good.index.tolist() == [7] and good["open_lives"].isna().all()
    assert good.dtypes.astype(str).tolist() == [
        "string", "string", "datetime64[us]", "string", "int64", "Int64", "string"
    ]  # fmt: skip
