import dagster as dg

from streampulse_assets.defs.operations.jobs import maintenance_job

maintenance_schedule = dg.ScheduleDefinition(
    name="daily_maintenance",
    job=maintenance_job,
    cron_schedule="17 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Retention once a day at 03:17 UTC, off the top of the hour.",
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(schedules=[maintenance_schedule])
