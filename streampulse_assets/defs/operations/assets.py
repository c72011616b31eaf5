from datetime import UTC, datetime, timedelta

import dagster as dg

from streampulse_assets.defs.operations.run_retention import (
    KEPT_EVENT_TYPES,
    event_storage_is_postgres,
    prune_dagster_runs,
)
from streampulse_assets.defs.resources import PostgresResource, WarehouseResource
from streampulse_assets.lib.alerts.delivery import deliver_alerts
from streampulse_assets.lib.retention import (
    prune_landing,
    prune_postgres,
    prune_warehouse,
)
from streampulse_assets.lib.settings import get_settings
from streampulse_assets.lib.settings.configs import (
    alert_gate,
    alert_sinks,
    retention_policy,
    sending_lease,
)

MAINTENANCE_ASSETS = [
    "dagster_run_retention",
    "warehouse_retention",
    "landing_retention",
    "operational_store_retention",
]


def _now() -> datetime:
    return datetime.now(UTC)


@dg.asset(
    deps=[dg.AssetKey("analysed_events")],
    group_name="operations",
    kinds={"postgres", "python"},
)
def alert_deliveries(postgres: PostgresResource) -> dg.MaterializeResult:
    """Alerts sent for analysed spikes that pass the alert gate, recorded once per event and sink.
    One delivery pass over Postgres (never DuckDB): eligible queued events (gate "confirmed" =
    CONFIRMED V3 spikes, or "delta" = every V3 spike above STREAMPULSE_ALERT_MIN_DELTA) get one
    `alert_deliveries` row per configured sink (Telegram, Slack, generic webhook), which is sent,
    or retried with backoff in later passes, or marked FAILED after bounded attempts; a restart
    never sends twice nor drops one. Fails, after recording, if a delivery was given up on.
    """
    sinks, gate = alert_sinks(), alert_gate()
    metadata: dict = {"sinks": ", ".join(s.name for s in sinks) or "none configured"}
    metadata["gate"] = (
        f"{gate.mode} (min delta {gate.min_delta:g})" if gate.mode == "delta" else (gate.mode)
    )
    if not sinks:
        return dg.MaterializeResult(metadata={**metadata, "sent": 0, "failed": 0, "retried": 0})
    with postgres.connect() as conn:
        stats = deliver_alerts(conn, sinks, gate, sending_lease=sending_lease())
    metadata |= stats.as_dict()
    if stats.errors:
        metadata["errors"] = dg.MetadataValue.md("\n".join(f"- {e}" for e in stats.errors[:20]))
    if stats.failed:
        raise dg.Failure(
            description=f"{stats.failed} alert deliveries were given up on:\n"
            + "\n".join(stats.errors[:20]),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name="operations", kinds={"dagster", "postgres"})
def dagster_run_retention(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """Dagster runs older than STREAMPULSE_RUN_RETENTION_DAYS (default 7) and their event logs.
    A minute pipeline writes tens of thousands of event-log rows a day and Dagster 1.13 has no run
    or event-log retention, so finished runs older than the cutoff are deleted with their
    operational event rows (step, log and run events, compute logs), while asset materialisation,
    observation and check-evaluation events are kept so asset history stays complete.
    """
    days = retention_policy().run_days
    if days <= 0:
        return dg.MaterializeResult(metadata={"skipped": "STREAMPULSE_RUN_RETENTION_DAYS <= 0"})
    if not event_storage_is_postgres(context.instance):
        reason = (
            f"event storage {type(context.instance.event_log_storage).__name__} is not Postgres"
        )
        context.log.warning(f"run retention skipped: {reason}")
        return dg.MaterializeResult(metadata={"skipped": reason})
    cutoff = _now() - timedelta(days=days)
    removed = prune_dagster_runs(context.instance, cutoff)
    return dg.MaterializeResult(
        metadata={
            "cutoff": cutoff.isoformat(),
            "runs_deleted": removed["runs"],
            "event_rows_deleted": removed["event_rows"],
            "kept_event_types": ", ".join(KEPT_EVENT_TYPES),
        }
    )


@dg.asset(group_name="operations", kinds={"duckdb"}, pool="duckdb")
def warehouse_retention(duckdb: WarehouseResource) -> dg.MaterializeResult:
    """Warehouse rows older than each table's retention, deleted (STREAMPULSE_RETENTION_*_DAYS).
    Defaults: raw_snapshots 35 days (the seasonal baseline needs 7 days + 2 hours; at least 8 are
    enforced), rolling and seasonal baselines 14, signal_events and analysed_events 365. Tables
    not created yet are skipped; metadata lists the rows removed per table.
    """
    policy = retention_policy()
    with duckdb.get_connection() as con:
        removed = prune_warehouse(con, policy.warehouse_days, now=_now())
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(removed.values()),
            **{f"{table}_deleted": n for table, n in removed.items()},
            "retention_days": dg.MetadataValue.json(policy.warehouse_days),
        }
    )


@dg.asset(group_name="operations", kinds={"python"})
def landing_retention() -> dg.MaterializeResult:
    """Landing payload days older than STREAMPULSE_RETENTION_LANDING_DAYS (default 14), removed.
    Raw API responses are archived per platform and day so parsers can be replayed; whole day
    folders whose every minute is past retention are deleted, and files and bytes freed reported.
    """
    policy = retention_policy()
    root = get_settings().stores.resolved_landing_dir()
    removed = prune_landing(root, policy.landing_days, now=_now())
    return dg.MaterializeResult(
        metadata={
            "landing_dir": str(root),
            "retention_days": policy.landing_days,
            "files_deleted": removed["files"],
            "bytes_freed": removed["bytes"],
            "day_folders_deleted": removed["folders"],
        }
    )


@dg.asset(group_name="operations", kinds={"postgres"})
def operational_store_retention(postgres: PostgresResource) -> dg.MaterializeResult:
    """Finished Postgres queue rows and alert deliveries older than their retention, deleted.
    `analysis_queue` DONE/FAILED/SKIPPED older than STREAMPULSE_RETENTION_PG_EVENTS_DAYS (365) and
    `alert_deliveries` older than STREAMPULSE_RETENTION_ALERT_DELIVERIES_DAYS (90); pending work is
    never deleted. Delivery retention must exceed the alert gate's max age, or a pruned delivery
    could make an event look undelivered.
    """
    policy, gate = retention_policy(), alert_gate()
    if 0 < policy.alert_deliveries_days * 24 <= gate.max_age_hours:
        raise dg.Failure(
            description="STREAMPULSE_RETENTION_ALERT_DELIVERIES_DAYS must be longer than "
            f"STREAMPULSE_ALERT_MAX_AGE_HOURS ({gate.max_age_hours:g} h)"
        )
    with postgres.connect() as conn:
        removed = prune_postgres(
            conn, events_days=policy.pg_events_days, deliveries_days=policy.alert_deliveries_days
        )
    return dg.MaterializeResult(
        metadata={
            "analysis_queue_deleted": removed["analysis_queue"],
            "alert_deliveries_deleted": removed["alert_deliveries"],
            "analysis_queue_retention_days": policy.pg_events_days,
            "alert_deliveries_retention_days": policy.alert_deliveries_days,
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[
            alert_deliveries,
            dagster_run_retention,
            warehouse_retention,
            landing_retention,
            operational_store_retention,
        ]
    )
