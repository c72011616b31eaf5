"""Retention: how many days each store keeps (0 or less = forever)."""

from __future__ import annotations

from streampulse_assets.lib.settings.base import Group, var


def _days(table: str, default: int, what: str = "") -> int:
    return var(
        f"STREAMPULSE_RETENTION_{table.upper()}_DAYS", default, what or f"warehouse `{table}`"
    )


class RetentionSettings(Group):
    """Retention (days; 0 or less = keep forever)"""

    blank_is_unset = True

    raw_snapshots_days: int = _days(
        "raw_snapshots", 35, "warehouse `raw_snapshots` (at least 8: the seasonal baseline)"
    )
    rolling_baselines_days: int = _days("rolling_baselines", 14)
    seasonal_baselines_days: int = _days("seasonal_baselines", 14)
    signal_events_days: int = _days("signal_events", 365)
    analysed_events_days: int = _days("analysed_events", 365)
    learned_scores_days: int = _days("learned_scores", 14)
    learned_state_days: int = _days("learned_state", 14)
    landing_days: int = _days("landing", 14, "landing payload files")
    pg_events_days: int = _days("pg_events", 365, "finished Postgres queue rows")
    alert_deliveries_days: int = _days("alert_deliveries", 90, "Postgres `alert_deliveries` rows")
    run_days: int = var(
        "STREAMPULSE_RUN_RETENTION_DAYS",
        7,
        "Dagster runs and their event logs kept (asset history is kept)",
    )

    def warehouse_days(self) -> dict[str, int]:
        """Days per warehouse table (the fields named `<table>_days`)."""
        skip = {"landing_days", "pg_events_days", "alert_deliveries_days", "run_days"}
        return {
            name.removesuffix("_days"): getattr(self, name)
            for name in type(self).model_fields
            if name not in skip
        }
