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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from streampulse_assets.lib.detection.config import DetectionConfig, get_config
from streampulse_assets.lib.detection.engine import empty_events, refresh_all
from streampulse_assets.lib.schema import migrate_duckdb
from streampulse_assets.lib.sources.replay import iter_canonical

MEMORY_LIMIT = "1GB"
CHUNK_ROWS = 500_000
_COLUMNS = "platform, category_id, ts, category_name, viewers, open_lives, top_streamers"


@dataclass
class FileDetection:
    events: pd.DataFrame
    rows: int  # snapshot rows after removing duplicated keys
    categories: int  # distinct platform + category pairs
    first: pd.Timestamp | None  # first and last minute of the file
    last: pd.Timestamp | None


def connect(path: Path, temp: Path, memory_limit: str = MEMORY_LIMIT):
    """A DuckDB file database with capped memory that spills to `temp`."""
    return duckdb.connect(
        str(path), config={"memory_limit": memory_limit, "temp_directory": str(temp)}
    )


def _stage(con, path: Path, chunk_rows: int) -> None:
    con.execute(
        "CREATE TABLE stage (chunk INTEGER, platform VARCHAR, category_id VARCHAR, ts TIMESTAMP, "
        "category_name VARCHAR, viewers BIGINT, open_lives BIGINT, top_streamers VARCHAR)"
    )
    for i, chunk in enumerate(iter_canonical(path, chunk_rows)):
        con.register("_replay_chunk", chunk)
        try:
            con.execute(f"INSERT INTO stage SELECT {i}, {_COLUMNS} FROM _replay_chunk")
        finally:
            con.unregister("_replay_chunk")


def _infer_step(con) -> int:
    """lib/detection/frame.infer_step over the staged rows (duplicates give gaps of 0: ignored)."""
    gaps = con.execute(
        "SELECT g FROM (SELECT epoch_us(ts) // 60000000 - lag(epoch_us(ts) // 60000000) OVER "
        "(PARTITION BY platform, category_id ORDER BY ts) AS g FROM stage) WHERE g > 0"
    ).fetchnumpy()["g"]
    return max(1, int(np.round(np.median(gaps)))) if len(gaps) else 1


def _platform_events(stage: Path, db: Path, temp: Path, platform: str, dedupe: bool, cfg, span):
    con = connect(db, temp)
    try:
        migrate_duckdb(con)
        con.execute(f"ATTACH '{stage}' AS staged (READ_ONLY)")
        last = "QUALIFY chunk = max(chunk) OVER (PARTITION BY category_id, ts)" if dedupe else ""
        con.execute(
            f"INSERT INTO raw_snapshots ({_COLUMNS}, source) SELECT {_COLUMNS}, 'frame' "
            f"FROM staged.stage WHERE platform = ? {last} ORDER BY ts",
            [platform],
        )
        con.execute("DETACH staged")
        return refresh_all(con, *span, cfg)
    finally:
        con.close()
        db.unlink(missing_ok=True)


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
        stage = temp / "stage.duckdb"
        con = connect(stage, temp)
        try:
            _stage(con, Path(path), chunk_rows)
            rows, keys, cats, first, last = con.execute(
                "SELECT count(*), count(DISTINCT (platform, category_id, ts)), "
                "count(DISTINCT (platform, category_id)), min(ts), max(ts) FROM stage"
            ).fetchone()
            found = con.execute("SELECT DISTINCT platform FROM stage ORDER BY 1").fetchall()
            platforms = [p for (p,) in found]
            if keys and cfg.step_minutes is None:
                cfg = get_config(cfg, step_minutes=_infer_step(con))
        finally:
            con.close()
        if rows > keys:
            warnings.warn(
                f"{path}: {rows - keys} duplicated (platform, category_id, ts) rows across chunks "
                "of the file, kept the last",
                stacklevel=2,
            )
        if not keys:
            return FileDetection(empty_events(), 0, 0, None, None)
        span = (first, last + timedelta(minutes=1))
        parts = []
        for i, platform in enumerate(platforms):
            db = temp / f"platform_{i}.duckdb"
            part = _platform_events(stage, db, temp, platform, rows > keys, cfg, span)
            if len(part):
                parts.append(part)
    events = empty_events() if not parts else pd.concat(parts, ignore_index=True)
    events = events.sort_values(["ts", "detector", "platform", "category_id"], ignore_index=True)
    return FileDetection(events, keys, cats, pd.Timestamp(first), pd.Timestamp(last))
