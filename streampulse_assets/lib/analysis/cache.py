"""Exact-key Redis cache of analysis results (3-hour TTL) with honest hit/miss/error counters.

Redis being down never fails an analysis: the error is logged, counted, and the event is analysed
without the cache. After an error the cache stays bypassed for `cooldown_s` (counted as
`bypassed`), so an outage costs one failed connect per cooldown rather than one per event.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis

log = logging.getLogger(__name__)
CACHE_TTL_S = 3 * 3600


@dataclass
class CacheCounters:
    hits: int = 0
    misses: int = 0
    errors: int = 0
    bypassed: int = 0
    writes: int = 0

    @property
    def hit_rate(self) -> float:
        looked = self.hits + self.misses
        return self.hits / looked if looked else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "hit_rate": round(self.hit_rate, 4)}


class SpikeCache:
    """Thread-safe; one instance may be shared by every worker thread of a process."""

    def __init__(
        self,
        redis_url: str | None,
        *,
        ttl_s: int = CACHE_TTL_S,
        socket_timeout_s: float = 0.5,
        cooldown_s: float = 5.0,
    ):
        self.ttl_s = ttl_s
        self.cooldown_s = cooldown_s
        self.counters = CacheCounters()
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._client = (
            redis.Redis.from_url(
                redis_url,
                socket_timeout=socket_timeout_s,
                socket_connect_timeout=socket_timeout_s,
            )
            if redis_url
            else None
        )

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self.counters, name, getattr(self.counters, name) + 1)

    def _available(self) -> bool:
        if self._client is None or time.monotonic() < self._down_until:
            self._count("bypassed")
            return False
        return True

    def _failed(self, op: str, exc: Exception) -> None:
        self._count("errors")
        self._down_until = time.monotonic() + self.cooldown_s
        log.warning("redis cache %s failed (%s): analysing without the cache", op, exc)

    def get(self, key: str) -> dict[str, Any] | None:
        if not self._available():
            return None
        try:
            raw = self._client.get(key)
        except redis.RedisError as exc:
            self._failed("get", exc)
            return None
        if raw is None:
            self._count("misses")
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            self._count("misses")
            return None
        self._count("hits")
        return value

    def set(self, key: str, value: dict[str, Any]) -> bool:
        if not self._available():
            return False
        try:
            self._client.set(key, json.dumps(value, ensure_ascii=False), ex=self.ttl_s)
        except redis.RedisError as exc:
            self._failed("set", exc)
            return False
        self._count("writes")
        return True

    def snapshot(self) -> CacheCounters:
        with self._lock:
            return CacheCounters(**asdict(self.counters))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
