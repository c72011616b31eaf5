"""Row helpers the queue modules share: the claimed-row columns, a row as a `QueueEvent`, and a
cursor's rows as dicts."""

from __future__ import annotations

import json
from typing import Any

from streampulse_assets.lib.analysis.models import QueueEvent

_COLUMNS = (
    "id, detector, platform, category_id, category_name, ts, level, cause, evidence, "
    "created_at, attempts"
)


def _event(row: tuple) -> QueueEvent:
    evidence = row[8] if isinstance(row[8], dict) else json.loads(row[8] or "{}")
    return QueueEvent(*row[:8], evidence, row[9], row[10])


def _dicts(cur) -> list[dict[str, Any]]:
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
