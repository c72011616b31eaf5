"""Collect canonical snapshot rows for a time window from the configured sources.

History sources (simulator, replay) answer for any window. Live APIs (CHZZK, SOOP) answer only for
the current minute: their responses are archived in the landing area first, and any other minute is
re-parsed from that archive, or reported as a gap. One failing platform never stops the others.
Every row passes `lib/ingest/validate.validate_snapshots`: bad rows are rejected by name (origin =
the landing archive, the replay file or the source) and counted; the good rows are kept. Two
sources answering for one platform are refused (`lib/sources/registry.check_overlap`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

from streampulse_assets.lib.ingest.landing import Landing
from streampulse_assets.lib.ingest.validate import (
    Rejection,
    describe,
    is_validated,
    validate_snapshots,
)
from streampulse_assets.lib.snapshots import empty_frame
from streampulse_assets.lib.sources.base import SourceError
from streampulse_assets.lib.sources.registry import (
    LIVE_PLATFORMS,
    SOURCE_NAMES,
    check_frames_overlap,
    check_overlap,
)

log = logging.getLogger(__name__)
# What a parser raises on a value it did not expect (e.g. 1e30 viewers overflowing int64): named
# as that platform's SourceError (a gap with its reason), never a bare crash of every source.
PARSE_FAULTS = (OverflowError, ValueError, TypeError, KeyError)


def _parse_fault(platform: str, exc: Exception) -> SourceError:
    return SourceError(
        f"{platform}: the response could not be parsed ({type(exc).__name__}: {exc})"
    )


@dataclass
class CollectResult:
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)  # source name -> rows
    errors: dict[str, str] = field(default_factory=dict)  # source name -> why it failed
    warnings: list[str] = field(default_factory=list)
    gaps: dict[str, int] = field(default_factory=dict)  # live platform -> minutes without data
    rejected: list[Rejection] = field(default_factory=list)  # bad rows, never stored

    def frame(self) -> pd.DataFrame:
        frames = [f for f in self.frames.values() if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else empty_frame()


def parse_source_names(text: str) -> list[str]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise SourceError("STREAMPULSE_SOURCES is empty; use e.g. 'simulator' or 'chzzk,soop'")
    unknown = sorted(set(names) - set(SOURCE_NAMES))
    if unknown:
        raise SourceError(
            f"unknown source(s) {unknown} in STREAMPULSE_SOURCES; known: {', '.join(SOURCE_NAMES)}"
        )
    names = list(dict.fromkeys(names))
    check_overlap(names)
    return names


def _minutes(start: datetime, end: datetime) -> list[datetime]:
    count = int((end - start) / timedelta(minutes=1))
    return [start + timedelta(minutes=i) for i in range(count)]


def fetch_and_archive(source, landing: Landing, minute: datetime):
    """Fetch the current minute of a live platform and archive its raw responses; when the fetch
    fails, the error and any responses that arrived are kept beside the archive (a later re-run
    of that minute reports why it is a gap) and the error says where."""
    try:
        try:
            result = source.fetch(minute)
        except PARSE_FAULTS as exc:
            raise _parse_fault(source.platform, exc) from exc
    except SourceError as exc:
        try:
            kept = landing.write_failed(source.platform, minute, exc.payloads, str(exc))
            where = f"{'responses kept' if exc.payloads else 'error recorded'} in {kept}"
        except OSError as write_error:  # a full disk must not hide the fetch's own error
            where = f"not recorded: {write_error}"
        raise type(exc)(f"{exc} [{where}]", payloads=exc.payloads) from exc
    landing.write(source.platform, minute, result.payloads)
    return result


def fetch_unarchived(
    names: list[str], landing: Landing, minute: datetime, build_live
) -> tuple[dict[str, str], dict[str, str]]:
    """Archive `minute` (the current one) for each live platform in `names` that lacks it.

    Used while the minute pipeline waits (for example on the DuckDB pool behind a long backfill):
    the next tick re-parses these archives instead of finding gaps. Returns (done, errors): what
    happened per platform, and why a platform failed.
    """
    done: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in names:
        if name not in LIVE_PLATFORMS:
            continue
        if landing.path(name, minute).exists():
            done[name] = "already archived"
            continue
        try:
            result = fetch_and_archive(build_live(name), landing, minute)
            done[name] = f"archived {len(result.payloads)} response(s), {len(result.frame)} rows"
        except SourceError as exc:
            log.warning("live fetch of %s failed: %s", name, exc)
            errors[name] = str(exc)
    return done, errors


def collect_live(
    source,
    landing: Landing,
    start: datetime,
    end: datetime,
    now_minute: datetime,
    past_is_gap: bool = False,
    rejected: list[Rejection] | None = None,
) -> tuple[pd.DataFrame, list[str], int]:
    """Rows of one live platform for [start, end): fetch `now_minute`, re-parse archived minutes.

    A minute that fails (its archive no longer parses, or the current fetch fails) is a gap with
    its reason in the warnings, and the other minutes are still returned; the platform fails
    (SourceError) only when no minute produced rows. With `past_is_gap` (a live tick that started
    after its minutes had passed, with nothing archived for them) that is a gap too: retrying
    cannot fetch the past, so failing the run would only add noise. Each minute's rows are
    validated (origin: its archive file); rejected rows go to `rejected` and the warnings.
    """
    frames, warnings, gaps, failures = [], [], 0, []
    archived = set(landing.minutes(source.platform, start, end))
    for minute in _minutes(start, end):
        try:
            if minute in archived:
                payloads = landing.read(source.platform, minute) or []
                try:
                    rows = source.parse_payloads(minute, payloads)
                except PARSE_FAULTS as exc:
                    raise _parse_fault(source.platform, exc) from exc
            elif minute == now_minute:
                result = fetch_and_archive(source, landing, minute)
                rows = result.frame
                warnings += [f"{source.platform}: {w}" for w in result.warnings]
            else:
                gaps += 1
                failed = landing.failure(source.platform, minute)
                if failed:  # fetched once and failed: the reason, not only "no data"
                    warnings.append(f"{source.platform} {minute:%Y-%m-%d %H:%M}: {failed}")
                continue
            good, bad = validate_snapshots(rows, str(landing.path(source.platform, minute)))
            frames.append(good)
            warnings += describe(bad)
            if rejected is not None:
                rejected += bad
        except SourceError as exc:
            gaps += 1
            failures.append(exc)
            warnings.append(f"{source.platform} {minute:%Y-%m-%d %H:%M}: {exc}")
    if failures and not frames:
        if len(failures) == 1 and gaps == 1:
            raise failures[0]  # the one minute asked for (a live tick): its own error
        raise SourceError(
            f"{source.platform}: no minute of {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC "
            f"could be read ({len(failures)} failed); first failure: {failures[0]}"
        )
    if gaps and not frames and past_is_gap:
        warnings.append(
            f"{source.platform}: the tick started after {start:%H:%M}-{end:%H:%M} UTC had passed "
            "and nothing was archived for it; those minutes stay gaps"
        )
    elif gaps and not frames:
        raise SourceError(
            f"{source.platform} is a live API and cannot answer for the past: no archived "
            f"responses in {landing.root / source.platform} for {start:%Y-%m-%d %H:%M} to "
            f"{end:%Y-%m-%d %H:%M} UTC. Backfill it from a replay file instead "
            "(STREAMPULSE_SOURCES=replay, STREAMPULSE_REPLAY_PATH=...)."
        )
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame()
    return frame, warnings, gaps


def collect(
    names: list[str],
    start: datetime,
    end: datetime,
    *,
    landing: Landing,
    now_minute: datetime,
    build_history,
    build_live,
    past_is_gap: bool = False,
) -> CollectResult:
    """Rows for [start, end) from every named source; failures are recorded per source.
    `past_is_gap`: a live tick, see `collect_live`. Bad rows are rejected (`result.rejected`,
    named in the warnings). Raises SourceOverlapError when `names` (or the rows collected) give
    one platform two sources: nothing of the window is stored then.
    """
    check_overlap(names)
    result = CollectResult()
    for name in names:
        try:
            if name in LIVE_PLATFORMS:
                frame, warnings, gaps = collect_live(
                    build_live(name), landing, start, end, now_minute, past_is_gap,
                    result.rejected,
                )  # fmt: skip
                result.warnings += warnings
                if gaps:
                    result.gaps[name] = gaps
            else:
                frame = _history(build_history(name), name, start, end, result)
            result.frames[name] = frame
        except SourceError as exc:
            log.warning("source %s failed: %s", name, exc)
            result.errors[name] = str(exc)
    check_frames_overlap(result.frames)
    return result


def _history(source, name: str, start: datetime, end: datetime, result: CollectResult):
    """A history source's validated rows of [start, end). A replay file is validated when it is
    read: its rejected rows of this window (and those without a usable timestamp) are reported."""
    frame = source.frame(start, end)
    bad = [r for r in getattr(source, "rejected", []) if r.ts is None or start <= r.ts < end]
    if not is_validated(frame):  # the simulator: checked here, once (the store trusts the mark)
        frame, more = validate_snapshots(frame, name)
        bad += more
    result.rejected += bad
    result.warnings += describe(bad)
    return frame
