"""One validator for snapshot rows from every source: bad rows are rejected by name, good kept.

Every row is checked before it can reach the warehouse (replay files, live APIs, the simulator,
and the store itself as the last line of defence). A bad row is rejected with the origin (file or
source), its row label, the column, the value and why; the other rows, including those of the
same minute, are kept. Titles and names are cut to `MAX_TEXT` characters and the top streamers
to the `MAX_STREAMERS` most watched, so nothing hostile-sized reaches storage, prompts or sinks.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from streampulse_assets.lib.snapshots import SNAPSHOT_COLUMNS
from streampulse_assets.lib.timeutil import naive_utc

# Far above any real category (the largest live categories in Korea peak near 1-2 million), so
# only unit or parse errors exceed it; it also keeps sums and differences far inside int64 and
# open_lives inside DuckDB's INTEGER.
MAX_VIEWERS = 100_000_000
MAX_TEXT = 300  # characters kept of a title or name; a longer id is rejected (never cut)
MAX_STREAMERS = 5  # the canonical top 5
FUTURE_SLACK = timedelta(minutes=1)  # clock skew allowed between a source and this machine
REQUIRED = ("ts", "platform", "category_id", "viewers")
STREAMER_KEYS = ("channel_id", "channel_name", "title", "viewers")
_KEYSET = set(STREAMER_KEYS)
_MISSING_WORDS = {"", "nan", "none", "null", "<na>"}


VALIDATED = "streampulse_validated"  # frame.attrs marker: rows came out of validate_snapshots


def is_validated(frame: pd.DataFrame) -> bool:
    """True for a frame returned by validate_snapshots (or sliced/concatenated from such frames):
    the store need not check it again. Data read from files or APIs never carries the marker."""
    return bool(frame.attrs.get(VALIDATED))


class ValidationError(ValueError):
    """The frame as a whole cannot be validated (a required column is missing)."""


@dataclass(frozen=True)
class Rejection:
    """One rejected row: where it came from, which column failed, with what value, and why."""

    origin: str  # file path, landing archive or source name
    row: object  # the row's label in the input frame (a replay file's 0-based data row)
    column: str
    value: str  # repr of the bad value, cut to 80 characters
    reason: str
    ts: datetime | None = None  # the row's minute, when it parsed

    def __str__(self) -> str:
        return f"{self.origin} row {self.row}: {self.column}={self.value} rejected: {self.reason}"


def validate_snapshots(
    frame: pd.DataFrame, origin: str, *, now: datetime | None = None
) -> tuple[pd.DataFrame, list[Rejection]]:
    """(good rows as a canonical snapshot frame with the input's index, rejections).

    `frame` needs ts, platform, category_id and viewers in any dtype (strings from a CSV file are
    fine); category_name (default: the category id), open_lives (default unknown) and
    top_streamers (default []) are optional. `now` (UTC, default the clock) bounds timestamps:
    a row later than now + 1 minute is rejected. Raises ValidationError for missing columns.
    """
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValidationError(f"{origin}: missing required column(s): {', '.join(missing)}")
    now = naive_utc(now or datetime.now(UTC))
    if not frame.index.is_unique:  # row labels must name one row each
        frame = frame.reset_index(drop=True)
    checks = _Checks(frame, origin)
    platform = checks.ident("platform")
    category_id = checks.ident("category_id")
    ts = checks.timestamps(now)
    viewers = checks.count("viewers", required=True)
    open_lives = checks.count("open_lives", required=False)
    streamers = checks.streamers()
    name = frame.get("category_name", category_id)
    name = _text(name.astype("string")).mask(lambda s: s.isna() | (s == ""), category_id)
    good = ~frame.index.isin(list(checks.bad))
    out = pd.DataFrame(
        {
            "platform": platform,
            "category_id": category_id,
            "ts": ts,
            "category_name": name,
            "viewers": viewers,
            "open_lives": open_lives,
            "top_streamers": streamers,
        },
        index=frame.index,
    )[good]
    out = out.astype(
        {
            "platform": "string",
            "category_id": "string",
            "ts": "datetime64[us]",
            "category_name": "string",
            "viewers": "int64",
            "open_lives": "Int64",
            "top_streamers": "string",
        }
    )
    out = out[SNAPSHOT_COLUMNS]
    out.attrs[VALIDATED] = True
    rejected = sorted(checks.bad.values(), key=lambda r: frame.index.get_loc(r.row))
    return out, [replace(r, ts=_minute(ts.at[r.row])) for r in rejected]


def _minute(value) -> datetime | None:
    return None if pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def describe(rejected: list[Rejection], limit: int = 10) -> list[str]:
    """Warning lines for a report: the first `limit` rejections and how many more there were."""
    lines = [str(r) for r in rejected[:limit]]
    if len(rejected) > limit:
        lines.append(f"... and {len(rejected) - limit} more rejected row(s)")
    return lines


def _show(value: object) -> str:
    value = value.item() if hasattr(value, "item") else value  # numpy scalars as Python
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)  # -5.0 read from a numeric column is shown as -5
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


def _clean(value: object) -> str:
    """A title or name as storable text: lone surrogates replaced, cut to MAX_TEXT characters."""
    text = "" if value is None else str(value)
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _text(series: pd.Series) -> pd.Series:
    too_long = series.str.len() > MAX_TEXT
    if too_long.any():
        series = series.mask(too_long, series.str.slice(0, MAX_TEXT - 1) + "…")
    return series


def _whole(value: object) -> int | None:
    """A JSON number as a viewer count in 0..MAX_VIEWERS, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not 0 <= value <= MAX_VIEWERS:
        return None
    return round(value)


def _canonical_items(items: list) -> bool:
    """True when the parsed list needs no change (the common case, checked quickly)."""
    if len(items) > MAX_STREAMERS:
        return False
    for item in items:
        if type(item) is not dict or item.keys() != _KEYSET:
            return False
        viewers = item["viewers"]
        if type(viewers) is not int or not 0 <= viewers <= MAX_VIEWERS:
            return False
        for key in STREAMER_KEYS[:3]:
            value = item[key]
            if type(value) is not str or len(value) > MAX_TEXT:
                return False
    return True


def _streamers(text: str) -> tuple[str | None, str | None]:
    """(canonical top-streamers JSON, None) or (None, why it is rejected)."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg} at character {exc.pos})"
    except (ValueError, RecursionError):
        return None, "invalid JSON"
    if not isinstance(items, list):
        return None, "not a JSON list"
    if _canonical_items(items) and "\\ud" not in text.lower():  # no escaped lone surrogates
        return text, None
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or any(k not in item for k in STREAMER_KEYS):
            return None, f"item {i} is not an object with {', '.join(STREAMER_KEYS)}"
        viewers = _whole(item["viewers"])
        if viewers is None:
            return None, f"item {i} viewers is not a number in 0..{MAX_VIEWERS:,}"
        out.append({k: _clean(item[k]) for k in STREAMER_KEYS[:3]} | {"viewers": viewers})
    if len(out) > MAX_STREAMERS:
        out = sorted(out, key=lambda s: -s["viewers"])[:MAX_STREAMERS]
    return json.dumps(out, ensure_ascii=False), None


class _Checks:
    """Column checks over one frame; the first failing column of a row is its rejection."""

    def __init__(self, frame: pd.DataFrame, origin: str) -> None:
        self.frame, self.origin = frame, origin
        self.bad: dict[object, Rejection] = {}

    def reject(self, mask: pd.Series, column: str, reason, values: pd.Series) -> None:
        for label in mask[mask].index:
            if label not in self.bad:
                why = reason(label) if callable(reason) else reason
                self.bad[label] = Rejection(
                    self.origin, label, column, _show(values.at[label]), why
                )

    def ident(self, column: str) -> pd.Series:
        raw = self.frame[column]
        text = raw.astype("string")
        self.reject(text.isna() | (text.str.strip() == ""), column, "empty", raw)
        self.reject(text.str.len() > MAX_TEXT, column, f"longer than {MAX_TEXT} characters", raw)
        return text

    def timestamps(self, now: datetime) -> pd.Series:
        raw = self.frame["ts"]
        if pd.api.types.is_datetime64_any_dtype(raw):
            ts = raw
        else:
            ts = pd.to_datetime(raw.astype("string"), errors="coerce", utc=True, format="mixed")
        if getattr(ts.dt, "tz", None) is not None:
            ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
        ts = ts.dt.floor("min").astype("datetime64[us]")
        self.reject(ts.isna(), "ts", "not a timestamp", raw)
        limit = now + FUTURE_SLACK
        self.reject(ts > limit, "ts", f"in the future (after {limit:%Y-%m-%d %H:%M:%S} UTC)", raw)
        return ts

    def count(self, column: str, required: bool) -> pd.Series:
        if column not in self.frame:
            return pd.Series(pd.NA, index=self.frame.index, dtype="Int64")
        raw = self.frame[column]
        number = pd.to_numeric(raw, errors="coerce")
        word = raw.astype("string").str.strip().str.lower()
        absent = raw.isna() | word.isin(_MISSING_WORDS)
        if required:
            self.reject(absent, column, "missing or NaN", raw)
        self.reject(~absent & number.isna(), column, "not a number", raw)
        self.reject(number.isin([math.inf, -math.inf]), column, "not finite", raw)
        self.reject(number < 0, column, "negative", raw)
        self.reject(number > MAX_VIEWERS, column, f"above the maximum {MAX_VIEWERS:,}", raw)
        ok = number.where(number.between(0, MAX_VIEWERS))
        return ok.round().astype("Int64") if not required else ok.round().fillna(0)

    def streamers(self) -> pd.Series:
        index = self.frame.index
        if "top_streamers" not in self.frame:
            return pd.Series("[]", index=index, dtype="string")
        raw = self.frame["top_streamers"]
        text = raw.astype("string").fillna("").str.strip().replace("", "[]")
        codes, uniques = pd.factorize(text)  # each distinct text is parsed once
        verdicts = [_streamers(value) for value in uniques]
        why = np.array([v[1] for v in verdicts] + [None], dtype=object)[codes]
        self.reject(pd.Series(why != None, index=index), "top_streamers",  # noqa: E711
                    lambda label: why[index.get_loc(label)], raw)  # fmt: skip
        good = np.array([v[0] or "[]" for v in verdicts] + ["[]"], dtype=object)[codes]
        return pd.Series(good, index=index, dtype="string")
