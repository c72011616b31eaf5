"""The landing area: raw API responses kept per platform and minute, zstd-compressed JSON.

Responses are written before they are parsed, so a parser fix can be replayed over history and a
malformed payload is never lost. Layout: `<root>/<platform>/<YYYY-MM-DD>/<HHMM>.json.zst`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import zstandard

from streampulse_assets.lib.sources.base import RawPayload, SourceError
from streampulse_assets.lib.timeutil import floor_minute

# What reading a truncated, corrupted or foreign file can raise.
_DAMAGED = (OSError, ValueError, AttributeError, zstandard.ZstdError)


def _document(path: Path):
    """The JSON document of an archive or failure record."""
    return json.loads(zstandard.ZstdDecompressor().decompress(path.read_bytes()))


class Landing:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, platform: str, minute: datetime) -> Path:
        minute = floor_minute(minute)
        return self.root / platform / f"{minute:%Y-%m-%d}" / f"{minute:%H%M}.json.zst"

    def failed_path(self, platform: str, minute: datetime) -> Path:
        return self.path(platform, minute).with_name(f"{floor_minute(minute):%H%M}.failed.json.zst")

    def write(self, platform: str, minute: datetime, payloads: list[RawPayload]) -> Path:
        """Atomically store one minute's responses (replacing an earlier copy of that minute)."""
        return self._write(self.path(platform, minute), platform, minute, payloads)

    def write_failed(
        self, platform: str, minute: datetime, payloads: list[RawPayload], error: str
    ) -> Path:
        """Keep the responses of a fetch that failed (malformed or error pages) beside the archive.

        They are never parsed as the minute's data (a gap stays a gap), but nothing received is
        lost: a parser fix can be checked against them, and retention removes them with their day.
        """
        path = self.failed_path(platform, minute)
        return self._write(path, platform, minute, payloads, error=error)

    def _write(self, path: Path, platform: str, minute: datetime, payloads, **extra) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "platform": platform,
            "minute": floor_minute(minute).isoformat(),
            **extra,
            "payloads": [
                {
                    "request": p.request,
                    "status": p.status,
                    "content_type": p.content_type,
                    "body_b64": base64.b64encode(p.body).decode("ascii"),
                }
                for p in payloads
            ],
        }
        data = zstandard.ZstdCompressor(level=6).compress(json.dumps(document).encode())
        # A temp file of its own: a tick and a live_fetch run may archive the same minute at once;
        # each rename is atomic, so a reader sees one whole copy or the other.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o644)  # like any other file here (mkstemp creates 0600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return path

    def read(self, platform: str, minute: datetime) -> list[RawPayload] | None:
        """The archived responses of a minute, None if there is no archive; a damaged archive
        raises SourceError (the caller reports that minute, the others are unaffected)."""
        path = self.path(platform, minute)
        if not path.exists():
            return None
        try:
            document = _document(path)
            return [
                RawPayload(
                    platform=platform,
                    request=item["request"],
                    status=item["status"],
                    body=base64.b64decode(item["body_b64"]),
                    content_type=item.get("content_type", ""),
                )
                for item in document["payloads"]
            ]
        except (*_DAMAGED, KeyError, TypeError) as exc:
            raise SourceError(f"{platform}: archive {path} cannot be read: {exc!r}") from exc

    def failure(self, platform: str, minute: datetime) -> str | None:
        """The error kept with a failed fetch of that minute (see write_failed), if any."""
        path = self.failed_path(platform, minute)
        if not path.exists():
            return None
        try:
            return str(_document(path).get("error") or "unknown error")
        except _DAMAGED as exc:
            return f"(its record {path} cannot be read: {exc!r})"

    def minutes(self, platform: str, start: datetime, end: datetime) -> list[datetime]:
        """Archived minutes in [start, end)."""
        found = []
        minute = floor_minute(start)
        while minute < end:
            if self.path(platform, minute).exists():
                found.append(minute)
            minute += timedelta(minutes=1)
        return found
