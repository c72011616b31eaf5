import dagster as dg

ALERT_JOB = "alert_delivery"
MAINTENANCE_JOB = "maintenance"

alert_delivery_job = dg.define_asset_job(
    ALERT_JOB,
    selection=dg.AssetSelection.assets("alert_deliveries"),
    description="One alert delivery pass: enqueue, send and retry alerts for analysed spikes.",
)

maintenance_job = dg.define_asset_job(
    MAINTENANCE_JOB,
    selection=dg.AssetSelection.assets(
        "dagster_run_retention",
        "warehouse_retention",
        "landing_retention",
        "operational_store_retention",
    ),
    description="Daily retention: old Dagster runs and event logs, warehouse rows, landing "
    "payloads and finished Postgres rows; asset materialisation history is kept.",
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[alert_delivery_job, maintenance_job])
