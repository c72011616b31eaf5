"""The small interfaces every snapshot source implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import pandas as pd


class SourceError(RuntimeError):
    """A source could not produce a snapshot; the message says why in plain words.

    `payloads` holds the raw responses received before it failed (a malformed page, an error
    envelope), so the caller can keep them: bad input is reported, never lost.
    """

    def __init__(self, *args: object, payloads: list[RawPayload] | None = None) -> None:
        super().__init__(*args)
        self.payloads: list[RawPayload] = list(payloads or [])


class SourceConfigError(SourceError):
    """Credentials or settings are wrong (e.g. HTTP 401/403); retrying will not help."""


class SourceOverlapError(SourceConfigError):
    """Two sources would write rows of one platform and minute (one would erase the other, or
    detection would count both); the configuration must name one source per platform."""


@dataclass(frozen=True)
class RawPayload:
    """One HTTP response as received, kept in the landing area so parsers can be replayed."""

    platform: str
    request: str  # method + URL path and query, never secrets
    status: int
    body: bytes
    content_type: str = ""


@dataclass
class FetchResult:
    """What a live source returns for one minute: canonical rows plus the raw responses."""

    platform: str
    minute: datetime
    frame: pd.DataFrame  # canonical snapshot frame (lib/snapshots.py)
    payloads: list[RawPayload] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class LiveSource(Protocol):
    """A platform API polled once a minute (CHZZK, SOOP)."""

    platform: str

    def fetch(self, minute: datetime) -> FetchResult: ...

    def parse_payloads(self, minute: datetime, payloads: list[RawPayload]) -> pd.DataFrame:
        """Re-parse archived raw responses of one minute into canonical rows."""
        ...


class HistorySource(Protocol):
    """A source that can answer for any past window (simulator, replay files)."""

    name: str

    def frame(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Canonical rows with start <= ts < end (naive UTC)."""
        ...
