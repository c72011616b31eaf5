"""Realistic queue rows for tests, benchmarks and demos (shaped like detection's enqueue output)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from streampulse_assets.lib.analysis import queue

KINDS = ("move", "start", "title", "collab", "surge", "artifact")
_GAMES = [
    ("lol", "League of Legends"),
    ("valorant", "VALORANT"),
    ("talk", "Just Chatting"),
    ("maple", "MapleStory"),
    ("lostark", "Lost Ark"),
    ("fc", "EA SPORTS FC"),
]


def _streamer(i: int, viewers: int, before: int | None, **kw) -> dict[str, Any]:
    title = kw.get("title", f"daily stream #{i}")
    return {
        "channel_id": kw.get("channel_id", f"ch{i:04d}"),
        "channel_name": kw.get("channel_name", f"streamer{i}"),
        "title": title,
        "viewers": viewers,
        "viewers_before": before,
        "title_before": kw.get("title_before", title if before is not None else None),
        "category_before": kw.get("category_before"),
    }


def evidence(kind: str, *, seed: int = 0, category_name: str = "League of Legends") -> dict:
    """Evidence JSON for one event of a given story (see KINDS)."""
    rng = random.Random(seed)
    base = rng.randint(8_000, 30_000)
    small = [_streamer(10 + j, 900 - 100 * j, 880 - 100 * j) for j in range(3)]
    person = kind in {"move", "start", "title", "collab"}
    gain = rng.randint(15_000, 40_000) if person else rng.randint(5_000, 12_000)
    lead_id, lead_name = f"ch{seed % 50:04d}", f"star{seed % 50}"
    lives_before = rng.randint(40, 90)
    lives = lives_before + (12 if kind == "surge" else rng.randint(-1, 1))
    if kind == "move":
        lead = _streamer(
            0,
            gain,
            None,
            channel_id=lead_id,
            channel_name=lead_name,
            title="오늘은 롤 랭크 도전",
            category_before="Just Chatting",
        )
    elif kind == "start":
        lead = _streamer(
            0,
            gain,
            None,
            channel_id=lead_id,
            channel_name=lead_name,
            title="방송 시작! 신규 시즌 첫 방송",
        )
    elif kind == "title":
        lead = _streamer(
            0,
            gain + 3_000,
            3_000,
            channel_id=lead_id,
            channel_name=lead_name,
            title="LCK 결승 같이보기 중계",
            title_before="랭크 게임",
        )
    elif kind == "collab":
        lead = _streamer(
            0,
            gain,
            2_000,
            channel_id=lead_id,
            channel_name=lead_name,
            title="4인 합방 with friends",
        )
        small[0] = _streamer(11, gain // 2, 1_000, title="4인 합방")
    else:
        lead = _streamer(0, 4_000, 3_800, channel_id=lead_id, channel_name=lead_name)
    tops = [lead, *small]
    if kind == "surge":
        tops = [_streamer(20 + j, 2_500, 1_500, title="대규모 업데이트 첫날") for j in range(5)]
    if kind == "artifact":
        tops = [_streamer(30 + j, 2_000 - j * 100, 2_000 - j * 100) for j in range(5)]
    top_gain = sum(max(0, s["viewers"] - (s["viewers_before"] or 0)) for s in tops)
    delta = gain if kind != "artifact" else rng.randint(8_000, 15_000)
    current = base + delta
    contribution = min(1.0, top_gain / delta) if kind != "surge" else 0.35
    lead_gain = tops[0]["viewers"] - (tops[0]["viewers_before"] or 0)
    return {
        "category_name": category_name,
        "current": current,
        "baseline_short": base,
        "baseline_season": base * 1.05,
        "season_source": "7d",
        "growth_ratio": round(current / base, 3),
        "season_ratio": round(current / (base * 1.05), 3),
        "delta": delta,
        "required_delta": max(1500, 0.3 * base),
        "is_major": base > 20_000,
        "contribution_ratio": round(contribution, 3),
        "dominance_index": round(max(0.0, lead_gain / delta), 3),
        "market_proof": kind in {"surge", "collab"},
        "candidate_reasons": [],
        "open_lives": lives,
        "open_lives_before": lives_before,
        "profile": "default",
        "top_streamers": tops,
    }


def sample_rows(n: int, *, seed: int = 7, start: datetime | None = None) -> list[dict[str, Any]]:
    """`n` queue rows with distinct (platform, category, minute), cycling through KINDS."""
    start = start or datetime(2026, 11, 2, 12, 0)
    rows = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        cat_id, cat_name = _GAMES[(i // len(KINDS)) % len(_GAMES)]
        ev = evidence(kind, seed=seed + i, category_name=cat_name)
        rows.append(
            {
                "detector": "V3",
                "platform": "chzzk" if i % 2 == 0 else "soop",
                "category_id": f"{cat_id}-{i // (len(KINDS) * len(_GAMES))}",
                "category_name": cat_name,
                "ts": start + timedelta(minutes=i),
                "level": "SPIKE" if kind != "artifact" else "CANDIDATE",
                "cause": "PERSON_ISSUE" if ev["contribution_ratio"] >= 0.5 else "STRUCTURE_ISSUE",
                "evidence": ev,
            }
        )
    return rows


def insert_rows(conn, rows: list[dict[str, Any]]) -> list[int]:
    """Insert queue rows (PENDING) and return their ids; existing keys are left alone."""
    return queue.insert_pending(conn, rows)
