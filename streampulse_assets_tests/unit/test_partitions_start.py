"""Partitions start where the user's data starts: a setting, else the first start's range."""

import json
from datetime import datetime, timedelta

import pytest

from streampulse_assets.lib.partitions_start import STATE_FILE, first_start, resolve_start
from streampulse_assets.lib.settings import load_settings

NOW = datetime(2026, 12, 1, 10, 37)


def test_first_start_fixes_the_bootstrap_range_and_a_restart_next_week_keeps_it(tmp_path):
    start, origin = resolve_start(None, tmp_path, NOW, 8, "simulator")
    assert (start, origin) == (datetime(2026, 11, 23, 10), "first start")
    assert json.loads((tmp_path / STATE_FILE).read_text())["start"] == "2026-11-23T10:00:00"
    later = resolve_start(None, tmp_path, NOW + timedelta(days=7), 8, "simulator")
    assert later == (datetime(2026, 11, 23, 10), "state")


def test_live_sources_start_at_the_first_start_hour(tmp_path):
    assert resolve_start(None, tmp_path, NOW, 8, "chzzk,soop")[0] == datetime(2026, 12, 1, 10)


def test_the_setting_wins_for_data_of_any_year(tmp_path):
    assert resolve_start("2019-06-01", tmp_path, NOW, 8, "replay") == (
        datetime(2019, 6, 1),
        "setting",
    )
    assert resolve_start("2024-03-01T06:30:00+09:00", tmp_path, NOW, 8, "x")[0] == datetime(
        2024, 2, 29, 21
    )
    assert not (tmp_path / STATE_FILE).exists()  # a setting records nothing


@pytest.mark.parametrize(
    ("value", "message"), [("yesterday", "not an ISO date"), ("2027-01-01", "in the future")]
)
def test_bad_settings_fail_clearly(tmp_path, value, message):
    with pytest.raises(ValueError, match=message):
        resolve_start(value, tmp_path, NOW, 8, "simulator")


def test_a_damaged_state_file_says_how_to_fix_it(tmp_path):
    (tmp_path / STATE_FILE).write_text("{")
    with pytest.raises(ValueError, match="delete it"):
        resolve_start(None, tmp_path, NOW, 8, "simulator")


@pytest.mark.parametrize("hour", [0, 1, 12, 23])
def test_the_default_bootstrap_leaves_all_of_yesterday_after_the_quality_warm_up(hour):
    """The first start shows a scored day: the default bootstrap range begins at least the
    quality warm-up before yesterday's midnight, at any hour of the day."""
    defaults = load_settings({})
    now = datetime(2026, 12, 1, hour, 59)
    start = first_start(now, defaults.partitions.bootstrap_days, "simulator")
    yesterday = datetime(2026, 11, 30)
    assert start + timedelta(days=defaults.quality.warmup_days) <= yesterday
