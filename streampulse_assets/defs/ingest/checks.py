"""Data checks evaluated inside the raw_snapshots step (they share its DuckDB connection)."""

from datetime import datetime, timedelta

import dagster as dg

from streampulse_assets.lib.ingest.collect import CollectResult
from streampulse_assets.lib.ingest.quality import (
    category_collapse,
    duplicate_keys,
    hour_completeness,
    window_summary,
)

_ASSET = dg.AssetKey("raw_snapshots")
RAW_SNAPSHOT_CHECKS = [
    dg.AssetCheckSpec("has_no_duplicate_keys", asset=_ASSET, description="One row per "
                      "(platform, category_id, ts)."),
    dg.AssetCheckSpec("sealed_hour_is_complete", asset=_ASSET, description="The last closed "
                      "hour has 60 minutes for every platform."),
    dg.AssetCheckSpec("category_count_is_stable", asset=_ASSET, description="The newest minute "
                      "has not lost half its categories or viewers (partial outage)."),
    dg.AssetCheckSpec("all_sources_answered", asset=_ASSET, description="Every configured "
                      "source answered for every minute of the window."),
]  # fmt: skip


def evaluate_raw_checks(con, start: datetime, end: datetime, collected: CollectResult):
    """Window summary for metadata, plus one AssetCheckResult per spec."""
    summary = window_summary(con, start, end)
    dups = duplicate_keys(con, start, end)
    sealed_hour = end.replace(minute=0) - timedelta(hours=1)
    missing = hour_completeness(con, sealed_hour)
    collapse = category_collapse(con, end)
    problems = [f"{name}: {error}" for name, error in collected.errors.items()]
    problems += [f"{platform}: {n} minute(s) without data" for platform, n in
                 collected.gaps.items()]  # fmt: skip
    warn = dg.AssetCheckSeverity.WARN
    checks = [
        dg.AssetCheckResult(
            check_name="has_no_duplicate_keys",
            passed=dups == 0,
            metadata={"duplicate_keys": dups},
        ),
        dg.AssetCheckResult(
            check_name="sealed_hour_is_complete",
            passed=not missing,
            severity=warn,
            metadata={
                "hour": sealed_hour.isoformat(),
                "minutes_missing": dg.MetadataValue.json(missing),
            },
        ),
        dg.AssetCheckResult(
            check_name="category_count_is_stable",
            passed=not collapse,
            severity=warn,
            description="; ".join(collapse) or None,
            metadata={"collapses": dg.MetadataValue.json(collapse)},
        ),
        dg.AssetCheckResult(
            check_name="all_sources_answered",
            passed=not problems,
            severity=warn,
            description="; ".join(problems)[:2000] or None,
            metadata={
                "errors": dg.MetadataValue.json(collected.errors),
                "gaps": dg.MetadataValue.json(collected.gaps),
                "warnings": dg.MetadataValue.json(collected.warnings[:50]),
            },
        ),
    ]
    return summary, checks
