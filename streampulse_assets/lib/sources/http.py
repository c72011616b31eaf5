"""A small JSON-over-HTTP layer shared by the live platform clients.

One `JsonHttp` serves one fetch (one minute tick): it keeps a total time budget, records every
HTTP response it receives as a `RawPayload`, retries what is worth retrying (timeouts, connection
errors, 5xx, 429) with bounded exponential backoff, and turns the rest into clear errors.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from streampulse_assets.lib.sources.base import RawPayload, SourceConfigError, SourceError
from streampulse_assets.lib.timeutil import aware_utc

USER_AGENT = "StreamPulse/0.1 (+https://github.com/streampulse)"


class BudgetExceeded(SourceError):
    """The fetch ran out of its total time budget (a minute tick must end within the minute)."""


@dataclass(frozen=True)
class HttpPolicy:
    timeout_s: float = 10.0  # per request
    retries: int = 3  # extra attempts after the first, for timeouts, connection errors, 5xx, 429
    backoff_s: float = 1.0  # first backoff; doubles each attempt
    backoff_max_s: float = 10.0
    retry_after_max_s: float = 30.0  # cap on a server's Retry-After
    budget_s: float = 40.0  # total time for one fetch


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date); None if absent."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        when = aware_utc(when)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


def excerpt(body: bytes, limit: int = 200) -> str:
    text = " ".join(body.decode("utf-8", errors="replace").split())
    return text if len(text) <= limit else text[:limit] + "…"


def describe(path: str, params: Mapping[str, Any] | None, secret_params: Sequence[str]) -> str:
    """`GET /path?query` with secret query values masked (used in payloads and messages)."""
    shown = {k: ("***" if k in secret_params else v) for k, v in (params or {}).items()}
    query = urlencode(shown)
    return f"GET {path}?{query}" if query else f"GET {path}"


class JsonHttp:
    """One fetch's HTTP session: budgeted, retrying, recording every response."""

    def __init__(
        self,
        platform: str,
        policy: HttpPolicy | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        secret_params: Sequence[str] = (),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.platform = platform
        self.policy = policy or HttpPolicy()
        self.secret_params = tuple(secret_params)
        self.sleep = sleep
        self.clock = clock
        self.deadline = clock() + self.policy.budget_s
        self.payloads: list[RawPayload] = []
        base_headers = {"User-Agent": USER_AGENT, "Accept": "application/json, text/plain, */*"}
        self.client = httpx.Client(
            headers={**base_headers, **(headers or {})}, follow_redirects=True
        )

    def __enter__(self) -> JsonHttp:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.close()
        if isinstance(exc, SourceError) and not exc.payloads:
            exc.payloads = list(self.payloads)  # the responses received so far are kept

    def close(self) -> None:
        self.client.close()

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def _check_budget(self, what: str) -> None:
        if self.remaining() <= 0:
            raise BudgetExceeded(
                f"{self.platform}: fetch time budget of {self.policy.budget_s:g}s exhausted "
                f"before {what}"
            )

    def _wait(self, seconds: float, what: str) -> None:
        if seconds >= self.remaining():
            raise BudgetExceeded(
                f"{self.platform}: waiting {seconds:g}s before retrying {what} would exceed the "
                f"fetch time budget of {self.policy.budget_s:g}s"
            )
        self.sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        return min(self.policy.backoff_max_s, self.policy.backoff_s * (2**attempt))

    def get_json(
        self,
        base_url: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        retry_connect: bool = True,
    ) -> tuple[Any, RawPayload]:
        """GET base_url+path; returns (parsed JSON, RawPayload) or raises SourceError.

        `retry_connect=False` gives up at once when the host cannot be reached at all (used when
        another host can be tried instead).
        """
        what = describe(path, params, self.secret_params)
        url = base_url.rstrip("/") + path
        last_problem = ""
        for attempt in range(self.policy.retries + 1):
            self._check_budget(what)
            timeout = max(0.001, min(self.policy.timeout_s, self.remaining()))
            try:
                response = self.client.get(url, params=params, timeout=timeout)
            except httpx.TimeoutException:
                last_problem = f"timed out after {timeout:.3g}s"
                delay = self._backoff(attempt)
            except httpx.TransportError as exc:
                last_problem = f"connection failed ({type(exc).__name__}: {exc})"
                if not retry_connect and isinstance(exc, httpx.ConnectError):
                    break
                delay = self._backoff(attempt)
            else:
                payload = RawPayload(
                    platform=self.platform,
                    request=what,
                    status=response.status_code,
                    body=response.content,
                    content_type=response.headers.get("content-type", ""),
                )
                self.payloads.append(payload)
                status = response.status_code
                if 200 <= status < 300:
                    return self._decode(payload, base_url), payload
                if status in (401, 403):
                    raise SourceConfigError(
                        f"{self.platform}: HTTP {status} from {base_url}{what[4:]} — credentials "
                        f"or access rejected; check the configured client id/secret "
                        f"({excerpt(payload.body)})"
                    )
                if status == 429:
                    last_problem = f"rate limited (HTTP 429: {excerpt(payload.body, 80)})"
                    hinted = retry_after_seconds(response.headers.get("retry-after"))
                    if hinted is None:
                        delay = self._backoff(attempt)
                    else:
                        delay = min(hinted, self.policy.retry_after_max_s)
                elif status >= 500:
                    last_problem = f"HTTP {status} ({excerpt(payload.body, 80)})"
                    delay = self._backoff(attempt)
                else:
                    raise SourceError(
                        f"{self.platform}: HTTP {status} from {base_url}{what[4:]}: "
                        f"{excerpt(payload.body)}"
                    )
            if attempt < self.policy.retries:
                self._wait(delay, what)
        raise SourceError(
            f"{self.platform}: {base_url}{what[4:]} failed after "
            f"{attempt + 1} attempt(s): {last_problem}"
        )

    def _decode(self, payload: RawPayload, base_url: str) -> Any:
        try:
            return decode_json(payload)
        except SourceError as exc:
            raise SourceError(f"{exc} (from {base_url})") from None

    def get_json_any(
        self, hosts: HostList, path: str, params: Mapping[str, Any] | None = None
    ) -> tuple[Any, RawPayload]:
        """Like get_json, trying each host of `hosts` in turn (preferred one first)."""
        errors: list[str] = []
        ordered = hosts.ordered()
        for i, base_url in enumerate(ordered):
            try:
                result = self.get_json(base_url, path, params, retry_connect=i == len(ordered) - 1)
            except (SourceConfigError, BudgetExceeded):
                raise
            except SourceError as exc:
                errors.append(str(exc))
                continue
            hosts.prefer(base_url)
            return result
        raise SourceError("; ".join(errors))


def decode_json(payload: RawPayload) -> Any:
    """The payload's body as JSON (whatever its Content-Type says), or a clear SourceError."""
    try:
        return json.loads(payload.body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SourceError(
            f"{payload.platform}: response to {payload.request} is not JSON "
            f"(HTTP {payload.status}, content-type {payload.content_type or '?'}): "
            f"{excerpt(payload.body) or '<empty body>'}"
        ) from None


class HostList:
    """Base URLs of one API (e.g. a .co.kr host, then its .com successor); remembers what worked."""

    def __init__(self, base_urls: Sequence[str]) -> None:
        urls = [u.rstrip("/") for u in base_urls if u and u.strip()]
        if not urls:
            raise SourceConfigError("no base URL configured")
        self.urls = list(dict.fromkeys(urls))
        self.preferred = self.urls[0]

    def ordered(self) -> list[str]:
        return [self.preferred, *[u for u in self.urls if u != self.preferred]]

    def prefer(self, base_url: str) -> None:
        self.preferred = base_url
