"""The time module: UTC only (no daylight saving), naive = UTC, minute resolution."""

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from streampulse_assets.lib.timeutil import (
    EPOCH,
    aware_utc,
    datetime64_to_minutes,
    floor_minute,
    minute_to_dt,
    minutes_to_datetime64,
    naive_utc,
    naive_utc_minutes,
    naive_utc_now,
    now_minute,
    to_minute,
)

KST = timezone(timedelta(hours=9))
NAIVE = datetime(2025, 3, 30, 1, 30, 15, 250)  # the night Europe moves its clocks: no effect
AWARE = datetime(2025, 3, 30, 10, 30, 15, 250, tzinfo=KST)  # the same instant


def test_naive_and_aware_conversions():
    assert naive_utc(NAIVE) is NAIVE
    assert naive_utc(AWARE) == NAIVE and naive_utc(AWARE).tzinfo is None
    assert aware_utc(NAIVE) == AWARE and aware_utc(NAIVE).tzinfo is UTC
    assert aware_utc(AWARE).utcoffset() == timedelta(0)
    assert naive_utc(pd.Timestamp(AWARE)) == NAIVE


def test_minute_flooring():
    assert floor_minute(NAIVE) == datetime(2025, 3, 30, 1, 30)
    assert floor_minute(AWARE) == datetime(2025, 3, 30, 1, 30)
    assert floor_minute(datetime(2025, 3, 30, 1, 30)) == datetime(2025, 3, 30, 1, 30)
    assert now_minute().second == 0 and now_minute().tzinfo is None
    assert abs(naive_utc_now() - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=1)


def test_utc_days_are_always_1440_minutes():
    for day in ("2025-03-30", "2025-10-26", "2025-03-09", "2025-11-02"):  # EU and US switches
        start = datetime.fromisoformat(day)
        assert to_minute(start + timedelta(days=1)) - to_minute(start) == 1440


@pytest.mark.parametrize("value", [NAIVE, AWARE, pd.Timestamp(NAIVE), NAIVE.isoformat()])
def test_minute_indexes(value):
    whole = datetime(2025, 3, 30, 1, 30)
    index = int((whole - EPOCH) / timedelta(minutes=1))
    assert to_minute(value, ceil=False) == index
    assert to_minute(value) == index + 1  # inside a minute: rounded up by default
    assert to_minute(whole) == to_minute(whole, ceil=False) == index
    assert minute_to_dt(index) == whole
    assert minutes_to_datetime64(np.array([index]))[0] == np.datetime64(whole, "us")
    assert datetime64_to_minutes(minutes_to_datetime64(np.array([index]))).tolist() == [index]
    inside = np.array([np.datetime64(whole + timedelta(seconds=59, microseconds=9), "us")])
    assert datetime64_to_minutes(inside).tolist() == [to_minute(inside[0], ceil=False)] == [index]


def test_timestamp_columns_as_naive_utc_minutes():
    values = ["2025-03-30T10:30:15+09:00", "2025-03-30T01:31:59Z", AWARE]
    out = naive_utc_minutes(values)
    assert out.dtype == "datetime64[us]"
    minutes = ["2025-03-30 01:30", "2025-03-30 01:31", "2025-03-30 01:30"]
    assert list(out) == [pd.Timestamp(m) for m in minutes]
