import dagster as dg

from streampulse_assets.defs.operations.jobs import ALERT_JOB, alert_delivery_job
from streampulse_assets.defs.resources import PostgresResource
from streampulse_assets.defs.runs import run_in_flight
from streampulse_assets.lib.alerts.delivery import count_deliverable
from streampulse_assets.lib.settings.configs import alert_gate, alert_sinks, sending_lease


@dg.sensor(
    job=alert_delivery_job,
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def alert_delivery_sensor(context: dg.SensorEvaluationContext, postgres: PostgresResource):
    """Launch an alert delivery pass when Postgres holds alerts to send (reads Postgres only)."""
    sinks = alert_sinks()
    if not sinks:
        return dg.SkipReason(
            "no alert sink configured (STREAMPULSE_TELEGRAM_BOT_TOKEN + _CHAT_ID, "
            "STREAMPULSE_SLACK_WEBHOOK_URL or STREAMPULSE_ALERT_WEBHOOK_URL)"
        )
    in_flight = run_in_flight(context.instance, ALERT_JOB)
    if in_flight:
        return dg.SkipReason(f"delivery run {in_flight} is in progress")
    with postgres.connect() as conn:
        names = [s.name for s in sinks]
        waiting = count_deliverable(conn, names, alert_gate(), sending_lease())
    if not waiting:
        return dg.SkipReason("no alert to deliver")
    return dg.RunRequest(tags={"streampulse/alerts_waiting": str(waiting)})


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(sensors=[alert_delivery_sensor])
