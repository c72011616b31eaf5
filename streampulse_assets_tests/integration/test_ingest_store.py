"""Landing area and warehouse upserts: idempotent, and a failure never loses stored rows."""

from datetime import datetime, timedelta

import duckdb
import pandas as pd

from streampulse_assets.lib.ingest.landing import Landing
from streampulse_assets.lib.ingest.quality import (
    category_collapse,
    duplicate_keys,
    hour_completeness,
)
from streampulse_assets.lib.ingest.store import upsert_snapshots
from streampulse_assets.lib.schema import migrate_duckdb
from streampulse_assets.lib.snapshots import CategorySnapshot, Streamer, to_frame
from streampulse_assets.lib.sources.base import RawPayload

T0 = datetime(2026, 11, 20, 12, 0)


def _rows(platform, minutes, categories=3, viewers=100):
    snaps = [
        CategorySnapshot(
            platform, f"c{c}", f"Cat {c}", T0 + timedelta(minutes=m), viewers + c, 2,
            (Streamer("s1", "스트리머", "제목", viewers),),
        )
        for m in minutes
        for c in range(categories)
    ]  # fmt: skip
    return to_frame(snaps)


def _con(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    migrate_duckdb(con)
    return con


def _count(con, where="TRUE"):
    return con.execute(f"SELECT count(*) FROM raw_snapshots WHERE {where}").fetchall()[0][0]


def test_landing_round_trip_keeps_bytes_exactly(tmp_path):
    landing = Landing(tmp_path / "landing")
    payloads = [
        RawPayload("chzzk", "GET /open/v1/lives?size=20", 200, '{"a": "한글"}'.encode(), "json"),
        RawPayload("chzzk", "GET /open/v1/lives?next=x", 500, b"\x00\xffnot json", "text/html"),
    ]
    minute = datetime(2026, 11, 20, 12, 34, 56)
    path = landing.write("chzzk", minute, payloads)
    assert path.name == "1234.json.zst" and path.parent.name == "2026-11-20"
    assert landing.read("chzzk", minute) == payloads
    assert landing.read("chzzk", minute + timedelta(minutes=1)) is None
    assert landing.minutes("chzzk", T0, T0 + timedelta(hours=1)) == [minute.replace(second=0)]


def test_upsert_is_idempotent(tmp_path):
    con = _con(tmp_path)
    frame = _rows("chzzk", range(5))
    assert upsert_snapshots(con, frame, "simulator") == 15
    assert upsert_snapshots(con, frame, "simulator") == 15
    assert _count(con) == 15
    assert duplicate_keys(con, T0, T0 + timedelta(hours=1)) == 0


def test_upsert_replaces_only_minutes_it_has_rows_for(tmp_path):
    con = _con(tmp_path)
    upsert_snapshots(con, _rows("chzzk", range(5)), "simulator")
    upsert_snapshots(con, _rows("soop", range(5)), "simulator")
    # A later re-run where soop answered nothing and chzzk only for minute 2 with fewer categories:
    upsert_snapshots(con, _rows("chzzk", [2], categories=1, viewers=999), "simulator")
    assert _count(con, "platform = 'soop'") == 15  # the failed platform lost nothing
    assert _count(con, "platform = 'chzzk'") == 13  # minute 2 replaced: 3 rows -> 1
    assert con.execute(
        "SELECT viewers FROM raw_snapshots WHERE platform = 'chzzk' AND ts = ?",
        [T0 + timedelta(minutes=2)],
    ).fetchall() == [(999,)]


def test_duplicate_keys_in_input_keep_the_last_row(tmp_path):
    con = _con(tmp_path)
    frame = _rows("chzzk", [0], categories=1)
    later = frame.assign(viewers=frame["viewers"] + 50)
    assert upsert_snapshots(con, pd.concat([frame, later]), "replay") == 1
    assert con.execute("SELECT viewers FROM raw_snapshots").fetchone()[0] == 150


def test_failed_insert_rolls_back_and_keeps_old_rows(tmp_path):
    con = _con(tmp_path)
    upsert_snapshots(con, _rows("chzzk", [0]), "simulator")
    # A failure inside the transaction, after the delete (valid rows the table refuses):
    con.execute("ALTER TABLE raw_snapshots ALTER COLUMN open_lives SET NOT NULL")
    bad = _rows("chzzk", [0]).assign(open_lives=pd.NA).astype({"open_lives": "Int64"})
    try:
        upsert_snapshots(con, bad, "simulator")
    except duckdb.Error:
        pass
    else:
        raise AssertionError("the NOT NULL violation should have raised")
    assert _count(con) == 3


def test_hour_completeness_and_collapse(tmp_path):
    con = _con(tmp_path)
    minutes = [m for m in range(60) if m != 17]
    upsert_snapshots(con, _rows("chzzk", minutes, categories=10), "simulator")
    upsert_snapshots(con, _rows("soop", range(60), categories=10), "simulator")
    assert hour_completeness(con, T0) == {"chzzk": 1}
    assert category_collapse(con, T0 + timedelta(hours=1)) == []
    # A minute where chzzk returns half its categories:
    upsert_snapshots(con, _rows("chzzk", [60], categories=4), "simulator")
    found = category_collapse(con, T0 + timedelta(minutes=61))
    assert any(f.startswith("chzzk: 4 categories") for f in found)


def test_history_sources_are_reused_until_the_replay_file_changes(tmp_path):
    import os

    from streampulse_assets.lib.settings import ReplaySettings, Settings, SourcesSettings
    from streampulse_assets.lib.sources.registry import build_history
    from streampulse_assets.lib.sources.replay import write_snapshots

    path = tmp_path / "replay.parquet"
    write_snapshots(_rows("chzzk", range(3)), path)
    settings = Settings(sources=SourcesSettings(replay=ReplaySettings(path=str(path))))
    first = build_history("replay", settings)
    assert build_history("replay", settings) is first  # read once per process
    assert build_history("simulator", settings) is build_history("simulator", settings)
    write_snapshots(_rows("chzzk", range(5)), path)
    os.utime(path, ns=(1, 1))  # a new version even within the file system's time resolution
    changed = build_history("replay", settings)
    assert changed is not first
    assert len(changed.frame(T0, T0 + timedelta(hours=1))) == 15


def test_two_sources_of_one_platform_are_refused_in_configuration():
    import pytest

    from streampulse_assets.lib.ingest.collect import parse_source_names
    from streampulse_assets.lib.sources.base import SourceOverlapError
    from streampulse_assets.lib.sources.registry import SIMULATED_PLATFORMS
    from streampulse_assets.lib.sources.simulator import Simulator

    assert Simulator(seed=1, categories_per_platform=2).platforms == SIMULATED_PLATFORMS
    for text, live in (("simulator,chzzk", "chzzk"), ("soop, simulator", "soop")):
        with pytest.raises(SourceOverlapError, match=rf"'simulator' and '{live}' both write "
                           rf"platform '{live}'"):  # fmt: skip
            parse_source_names(text)
    assert parse_source_names("simulator,replay") == ["simulator", "replay"]
    assert parse_source_names("chzzk,soop,chzzk") == ["chzzk", "soop"]


def test_two_sources_answering_for_one_platform_minute_store_nothing(tmp_path):
    import pytest

    from streampulse_assets.lib.ingest.collect import collect
    from streampulse_assets.lib.ingest.landing import Landing
    from streampulse_assets.lib.sources.base import SourceOverlapError

    class Feed:
        def __init__(self, frame):
            self.data = frame

        def frame(self, start, end):
            return self.data[(self.data["ts"] >= start) & (self.data["ts"] < end)]

    feeds = {"simulator": Feed(_rows("chzzk", range(5))), "replay": Feed(_rows("chzzk", [4, 5]))}

    def run(start, end):
        return collect(
            ["simulator", "replay"], start, end, landing=Landing(tmp_path), now_minute=T0,
            build_history=feeds.__getitem__, build_live=None,
        )  # fmt: skip

    clash = r"'simulator' and 'replay' both have rows for platform 'chzzk' \(1 minute\(s\) from "
    with pytest.raises(SourceOverlapError, match=clash + "2026-11-20 12:04 UTC"):
        run(T0, T0 + timedelta(minutes=10))
    result = run(T0, T0 + timedelta(minutes=4))  # the replay file has no row here: no overlap
    assert len(result.frames["simulator"]) == 12 and result.frames["replay"].empty


def test_the_store_never_lets_one_source_erase_another(tmp_path):
    import pytest

    from streampulse_assets.lib.sources.base import SourceOverlapError

    con = _con(tmp_path)
    upsert_snapshots(con, _rows("chzzk", range(3), categories=100), "simulator")
    live = _rows("chzzk", [1, 2, 3], categories=10)
    clash = r"platform 'chzzk' has 2 minute\(s\) from 2026-11-20 12:01 UTC stored from source "
    with pytest.raises(SourceOverlapError, match=clash + "'simulator'; source 'chzzk' would"):
        upsert_snapshots(con, live, "chzzk")
    assert _count(con, "source = 'simulator'") == 300 and _count(con, "source = 'chzzk'") == 0
    assert upsert_snapshots(con, _rows("chzzk", [3], categories=10), "chzzk") == 10  # new minute
    assert upsert_snapshots(con, _rows("soop", [1]), "chzzk") == 3  # another platform
    assert upsert_snapshots(con, live, "chzzk", replace_other=True) == 30  # a deliberate switch
    assert _count(con, "source = 'simulator'") == 100 and _count(con, "source = 'chzzk'") == 33
