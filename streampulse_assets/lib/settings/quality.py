"""Quality: the thresholds of the detection-quality checks, and extra label files."""

from __future__ import annotations

from streampulse_assets.lib.settings.base import Group, var


class QualitySettings(Group):
    """Quality checks"""

    v3_precision_floor: float = var(
        "STREAMPULSE_QUALITY_V3_PRECISION_FLOOR",
        0.90,
        "ERROR check on `detection_quality`",
        ge=0,
        le=1,
    )
    v3_recall_floor: float = var(
        "STREAMPULSE_QUALITY_V3_RECALL_FLOOR",
        0.90,
        "ERROR check on `detection_quality`",
        ge=0,
        le=1,
    )
    min_alerts: int = var(
        "STREAMPULSE_QUALITY_MIN_ALERTS", 5, "fewer V3 alerts in a day: precision not judged", ge=0
    )
    min_windows: int = var(
        "STREAMPULSE_QUALITY_MIN_WINDOWS", 5, "fewer labelled windows: recall not judged", ge=0
    )
    f1_tolerance: float = var(
        "STREAMPULSE_QUALITY_F1_TOLERANCE", 0.0, "V3 F1 may trail V1 by at most this (WARN)", ge=0
    )
    events_per_day_min: int = var(
        "STREAMPULSE_QUALITY_EVENTS_PER_DAY_MIN",
        1,
        "fewer V3 events in a day: silence (WARN)",
        ge=0,
    )
    events_per_day_max: int = var(
        "STREAMPULSE_QUALITY_EVENTS_PER_DAY_MAX",
        5000,
        "more V3 events in a day: a storm (WARN)",
        ge=0,
    )
    backlog_max_age_minutes: float = var(
        "STREAMPULSE_QUALITY_BACKLOG_MAX_AGE_MINUTES",
        5.0,
        "oldest PENDING analysis allowed (WARN)",
        gt=0,
    )
    warmup_days: float = var(
        "STREAMPULSE_QUALITY_WARMUP_DAYS",
        7.0,
        "each series' first days (before its seasonal baseline exists) are left out of "
        "event-level scoring; false alarms are divided by the category-days actually scored",
        ge=0,
    )
    label_files: str = var(
        "STREAMPULSE_LABEL_FILES",
        "",
        "comma list of label JSON files (e.g. from `import-nab`) for `detection_labels`",
    )

    def label_file_names(self) -> list[str]:
        return [p.strip() for p in self.label_files.split(",") if p.strip()]
