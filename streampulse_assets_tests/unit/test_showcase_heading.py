"""The showcase heading shows an event's time in UTC whatever the machine's time zone is."""

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from streampulse_assets.lib.alerts.showcase import _heading


@pytest.fixture
def seoul_machine(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Seoul")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _event(ts):
    return {"id": 7, "platform": "chzzk", "category_id": "talk", "ts": ts}


def test_a_naive_warehouse_time_is_taken_as_utc_on_a_machine_in_seoul(seoul_machine):
    assert datetime(2025, 1, 1, 12, 0).astimezone().utcoffset() == timedelta(hours=9)
    assert "2025-01-01 12:00 UTC" in _heading(_event(datetime(2025, 1, 1, 12, 0)))


def test_an_aware_time_is_converted_to_utc(seoul_machine):
    kst = timezone(timedelta(hours=9))
    assert "2025-01-01 03:00 UTC" in _heading(_event(datetime(2025, 1, 1, 12, 0, tzinfo=kst)))
    assert "2025-01-01 12:00 UTC" in _heading(_event(datetime(2025, 1, 1, 12, 0, tzinfo=UTC)))
