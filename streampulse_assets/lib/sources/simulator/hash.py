"""Counter-based random numbers for the simulator: a value depends only on its keys.

Every random draw of the simulator is `uniform(seed, stream, key)` for integer keys such as
(category, minute), so any minute can be regenerated on its own, in any window, in any order.
SplitMix64 finalisers over numpy uint64 arrays (wrap-around arithmetic is intended).
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_INV53 = 1.0 / (1 << 53)


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


def hash64(seed: int, stream: int, *keys) -> np.ndarray:
    """64-bit hash of (seed, stream, keys...); keys broadcast like numpy arrays."""
    with np.errstate(over="ignore"):
        base = _mix(np.array([(seed * 1_000_003 + stream) & 0xFFFFFFFFFFFFFFFF], np.uint64))[0]
        h = None
        for key in keys:
            k = np.asarray(key).astype(np.int64).view(np.uint64)
            h = _mix((base if h is None else h) ^ (k * _GOLDEN))
        if h is None:
            h = np.asarray(base)
        return h


def uniform(seed: int, stream: int, *keys) -> np.ndarray:
    """Uniform floats in [0, 1), float64."""
    return (hash64(seed, stream, *keys) >> np.uint64(11)).astype(np.float64) * _INV53


def normal(seed: int, stream: int, *keys, dtype=np.float32) -> np.ndarray:
    """Standard normal draws (Box-Muller from two independent uniforms)."""
    h = hash64(seed, stream, *keys)
    u1 = ((h >> np.uint64(40)).astype(np.float32) + np.float32(0.5)) * np.float32(1 / (1 << 24))
    u2 = ((h & np.uint64(0xFFFFFF)).astype(np.float32)) * np.float32(1 / (1 << 24))
    z = np.sqrt(np.float32(-2.0) * np.log(u1)) * np.cos(np.float32(2 * np.pi) * u2)
    return z.astype(dtype, copy=False)


def combine(a, b, shift: int = 32) -> np.ndarray:
    """Pack two small non-negative integer keys into one int64 key (cheaper than two mixes)."""
    return (np.asarray(a, np.int64) << np.int64(shift)) + np.asarray(b, np.int64)
