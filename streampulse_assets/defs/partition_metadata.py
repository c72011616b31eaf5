"""Per-partition metadata for runs that materialise many hourly partitions at once.

Dagster has no per-partition output metadata for a range run (dagster-io/dagster#18123): the
metadata of a `MaterializeResult` is copied onto the materialisation of every partition in the
range. `context.add_asset_metadata(..., partition_key=...)` (Dagster 1.13) adds metadata to one
partition's materialisation event only, and wins over the result's keys. So each asset reports
the figures of each of its hours per partition (computed set-wise by lib/partition_stats), and
only the run's own totals in its result, under `range_*` names: a partition's Plots tab then
draws that hour's own row count, minutes and spikes, also after a single-run backfill.
"""

from datetime import datetime, timedelta

import dagster as dg

from streampulse_assets.lib.timeutil import naive_utc


def partition_hours(context: dg.AssetExecutionContext) -> dict[str, datetime]:
    """Partition key -> naive UTC start of its window, for every partition of the run."""
    partitions_def = context.assets_def.partitions_def
    return {
        key: naive_utc(partitions_def.time_window_for_partition_key(key).start)
        for key in context.partition_keys
    }


def partitions_span(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """[start, end) of all the run's partitions as whole windows (a live tick: its whole hour)."""
    window = context.partition_time_window
    return naive_utc(window.start), naive_utc(window.end)


def _value(value):
    return dg.MetadataValue.json(value) if isinstance(value, (dict, list)) else value


def add_partition_metadata(
    context: dg.AssetExecutionContext, per_hour: dict[datetime, dict], asset_key=None
) -> int:
    """Attach each partition's own figures (`per_hour[hour start]`) to its materialisation.
    Returns how many partitions got figures; a partition without an entry gets none."""
    added = 0
    for key, hour in partition_hours(context).items():
        meta = per_hour.get(hour)
        if meta is None:
            continue
        values = {name: _value(value) for name, value in meta.items()}
        context.add_asset_metadata(values, asset_key=asset_key, partition_key=key)
        added += 1
    return added


def range_metadata(
    context: dg.AssetExecutionContext, start: datetime, end: datetime, rows: int
) -> dict:
    """The run's totals, named as such (they are the same on every partition of the range)."""
    return {
        "range_start": start.isoformat(),
        "range_minutes": int((end - start) / timedelta(minutes=1)),
        "range_partitions": len(context.partition_keys),
        "range_rows": int(rows),
    }
