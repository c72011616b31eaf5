"""Detection over a replay file without holding the file in memory.

The file is validated chunk by chunk (`lib/sources/replay.iter_canonical`) into a temporary
on-disk DuckDB database. Then each platform runs through the engine in its own temporary
database: every detector rule is per platform (major = top N of the platform, top-N candidates
per platform and minute, cooldowns per platform and category, streamer context within the
platform), so the events are those of `detect_frame` over the whole file (tested). DuckDB's
memory is capped and spills to disk; Python holds one platform's numeric arrays at a time.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from streampulse_assets.lib.detection.config import DetectionConfig, get_config
from streampulse_assets.lib.detection.engine import empty_events, refresh_all
from streampulse_assets.lib.detection.frame import step_from_gaps
from streampulse_assets.lib.detection.learned.store import ALERT_COLUMNS, stored_alerts
from streampulse_assets.lib.schema import migrate_duckdb
from streampulse_assets.lib.settings import get_settings
from streampulse_assets.lib.sources.replay import iter_canonical

CHUNK_ROWS = 500_000
_COLUMNS = "platform, category_id, ts, category_name, viewers, open_lives, top_streamers"


@dataclass
class FileDetection:
    events: pd.DataFrame
    rows: int  # snapshot rows after removing duplicated keys
    categories: int  # distinct platform + category pairs
    first: pd.Timestamp | None  # first and last minute of the file
    last: pd.Timestamp | None
    # The learned detector's alerts on either side (platform, category_id, ts): what NAB scores
    # for it; its SPIKE events (alerts on rises) are in `events`.
    learned_alerts: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=ALERT_COLUMNS)
    )


def _config(temp: Path, memory_limit: str | None) -> dict[str, str]:
    # Scratch databases: storing strings uncompressed writes ~3x faster than the default analysis.
    # Memory: the warehouse's own limit (STREAMPULSE_DUCKDB_MEMORY_LIMIT) unless one is given.
    return {
        "memory_limit": memory_limit or get_settings().stores.duckdb_memory_limit,
        "temp_directory": str(temp),
        "force_compression": "uncompressed",
    }


def connect(path: Path, temp: Path, memory_limit: str | None = None):
    """A DuckDB file database with capped memory that spills to `temp`."""
    return duckdb.connect(str(path), config=_config(temp, memory_limit))


def _load(path: Path, temp: Path, chunk_rows: int) -> dict[str, Path]:
    """Validated chunks of the file appended to one database file per platform (file order)."""
    con = duckdb.connect(config=_config(temp, None))
    dbs: dict[str, Path] = {}
    try:
        for frame in iter_canonical(path, chunk_rows):
            chunk = pa.Table.from_pandas(frame, preserve_index=False)
            for platform in pc.unique(chunk["platform"]).to_pylist():
                if platform not in dbs:
                    dbs[platform] = temp / f"platform_{len(dbs)}.duckdb"
                    con.execute(f"ATTACH '{dbs[platform]}' AS p{len(dbs)}")
                    con.execute(f"USE p{len(dbs)}")
                    migrate_duckdb(con)
                    con.execute("USE memory")
                name = f"p{list(dbs).index(platform) + 1}"
                part = chunk.filter(pc.equal(chunk["platform"], platform))  # noqa: F841
                con.execute(
                    f"INSERT INTO {name}.raw_snapshots ({_COLUMNS}, source) "
                    f"SELECT {_COLUMNS}, 'frame' FROM part"
                )
    finally:
        con.close()
    return dbs


def _dedupe(con) -> tuple[int, int, int, datetime | None, datetime | None]:
    """Keep the last row (of the file) per key; (rows read, rows kept, categories, first, last)."""
    rows, keys, cats, first, last = con.execute(
        "SELECT count(*), count(DISTINCT (category_id, ts)), count(DISTINCT category_id), "
        "min(ts), max(ts) FROM raw_snapshots"
    ).fetchone()
    if rows > keys:  # rowid follows insertion (file) order
        con.execute(
            "DELETE FROM raw_snapshots WHERE rowid NOT IN "
            "(SELECT max(rowid) FROM raw_snapshots GROUP BY category_id, ts)"
        )
    return rows, keys, cats, first, last


def _gaps(con) -> np.ndarray:
    """Positive gaps between a series' consecutive minutes (see frame.step_from_gaps)."""
    return con.execute(
        "SELECT g FROM (SELECT epoch_us(ts) // 60000000 - lag(epoch_us(ts) // 60000000) OVER "
        "(PARTITION BY category_id ORDER BY ts) AS g FROM raw_snapshots) WHERE g > 0"
    ).fetchnumpy()["g"]


def detect_file(
    path: str | Path,
    config: DetectionConfig | str = "default",
    *,
    workdir: str | Path | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> FileDetection:
    """Both detectors over a replay file (.csv or .parquet); SourceError on bad input."""
    cfg = get_config(config)
    with tempfile.TemporaryDirectory(prefix="streampulse-detect-", dir=workdir) as tmp:
        temp = Path(tmp)
        dbs = _load(Path(path), temp, chunk_rows)
        stats, gaps = [], []
        for db in dbs.values():
            con = connect(db, temp)
            try:
                stats.append(_dedupe(con))
                gaps.append(_gaps(con) if cfg.step_minutes is None else np.zeros(0, np.int64))
            finally:
                con.close()
        rows, keys, cats = (sum(s[i] for s in stats) for i in range(3))
        if rows > keys:
            warnings.warn(
                f"{path}: {rows - keys} duplicated (platform, category_id, ts) rows across chunks "
                "of the file, kept the last",
                stacklevel=2,
            )
        if not keys:
            return FileDetection(empty_events(), 0, 0, None, None)
        first, last = min(s[3] for s in stats), max(s[4] for s in stats)
        if cfg.step_minutes is None:
            cfg = get_config(cfg, step_minutes=step_from_gaps(np.concatenate(gaps)))
        span = (first, last + timedelta(minutes=1))
        parts, alerts = [], []
        for db in dbs.values():
            con = connect(db, temp)
            try:
                part = refresh_all(con, *span, cfg)
                alerts.append(stored_alerts(con))
            finally:
                con.close()
                db.unlink()
            if len(part):
                parts.append(part)
    events = empty_events() if not parts else pd.concat(parts, ignore_index=True)
    events = events.sort_values(["ts", "detector", "platform", "category_id"], ignore_index=True)
    learned = pd.concat([pd.DataFrame(columns=ALERT_COLUMNS), *alerts], ignore_index=True)
    learned = learned.sort_values(ALERT_COLUMNS, ignore_index=True)
    return FileDetection(events, keys, cats, pd.Timestamp(first), pd.Timestamp(last), learned)
