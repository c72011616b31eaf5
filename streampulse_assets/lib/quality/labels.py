"""Ground-truth labels of one day, gathered from their three sources and stored in the warehouse.

Sources: the simulator's injected events (when the simulator source is configured), the label
files named in STREAMPULSE_LABEL_FILES (e.g. NAB windows) and operator verdicts
(lib/quality/feedback). `write_day_labels` replaces a day's rows in `detection_labels` in one
transaction, so re-running is idempotent and a bad label never touches stored labels.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from streampulse_assets.lib.duck import transaction
from streampulse_assets.lib.quality.feedback import labels_from_feedback
from streampulse_assets.lib.quality.metrics import LabelError, labels_frame
from streampulse_assets.lib.settings import QualitySettings, env_name

LABEL_FILES_ENV = env_name(QualitySettings, "label_files")
_ROW_COLUMNS = ["day", "platform", "category_id", "start_ts", "end_ts", "kind", "source"]


class LabelSourceError(ValueError):
    """A label source could not be read or holds a bad label (nothing is stored)."""


def simulator_labels(start: datetime, end: datetime, sources: str, log: logging.Logger) -> list:
    """The simulator's injected events in [start, end) when `sources` (STREAMPULSE_SOURCES)
    names the simulator, else []."""
    names = {s.strip().lower() for s in sources.split(",")}
    if "simulator" not in names:
        return []
    try:
        from streampulse_assets.lib.sources.simulator import Simulator
    except ImportError:
        log.warning("simulator source configured but lib/sources/simulator is not available")
        return []
    return list(Simulator.from_settings().labels(start, end))


def file_labels(label_files: str) -> list[dict]:
    """The label windows of every JSON file in the comma-separated `label_files`."""
    labels: list[dict] = []
    for name in filter(None, (p.strip() for p in label_files.split(","))):
        try:
            items = json.loads(Path(name).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise LabelSourceError(
                f"{LABEL_FILES_ENV}: cannot read label file {name}: {exc}"
            ) from exc
        if not isinstance(items, list):
            raise LabelSourceError(f"{LABEL_FILES_ENV}: {name} is not a JSON list of label windows")
        labels += items
    return labels


def gather_labels(
    start: datetime,
    end: datetime,
    pg_conn,
    *,
    sources: str,
    label_files: str,
    log: logging.Logger,
) -> pd.DataFrame:
    """Labels from every source overlapping [start, end), with a `source` column."""
    parts = []
    operator = labels_from_feedback(pg_conn)
    found = {
        "simulator": simulator_labels(start, end, sources, log),
        "file": file_labels(label_files),
        "operator": operator,
    }
    for source, items in found.items():
        try:
            frame = labels_frame(items)
        except LabelError as exc:
            raise LabelSourceError(f"bad {source} label: {exc}") from exc
        parts.append(frame.assign(source=source))
    labels = pd.concat(parts, ignore_index=True)
    overlapping = (labels["start"] < pd.Timestamp(end)) & (labels["end"] >= pd.Timestamp(start))
    return labels[overlapping].drop_duplicates().reset_index(drop=True)


def write_day_labels(con, day: date, labels: pd.DataFrame) -> pd.DataFrame:
    """Replace `day`'s rows of `detection_labels` with `labels` in one transaction; returns the
    rows written."""
    rows = labels.rename(columns={"start": "start_ts", "end": "end_ts"}).assign(day=day)
    rows = rows[_ROW_COLUMNS]
    with transaction(con):
        con.execute("DELETE FROM detection_labels WHERE day = ?", [day])
        con.register("new_labels", rows)
        con.execute(
            "INSERT INTO detection_labels (day, platform, category_id, start_ts, end_ts, "
            "kind, source) SELECT * FROM new_labels"
        )
        con.unregister("new_labels")
    return rows
