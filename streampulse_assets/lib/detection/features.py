"""Per-minute detector inputs: both baselines joined, the seasonal source chosen, the scale unit."""

from __future__ import annotations

import math

from streampulse_assets.lib.detection.config import DetectionConfig


def min_short_points(cfg: DetectionConfig) -> int:
    """Rows the short window must hold before its median is trusted."""
    return max(1, math.ceil(cfg.min_short_coverage * cfg.short_window_minutes / cfg.step))


def features_sql(cfg: DetectionConfig, keys: str | None = None) -> str:
    """SELECT of one row per (platform, category, minute) in [$start, $end); only those of the
    (platform, category_id, ts) rows of table `keys` if given.

    `unit` is 1 for absolute profiles; for robust ones it is the series' robust deviation, at least
    the Poisson deviation sqrt(level + 1) so that a flat or all-zero series still has a scale.
    """
    cov = float(cfg.min_season_coverage)
    if cfg.robust:
        level = "greatest(coalesce(r.median_60, r.prev_viewers, 0), 0)"
        unit = f"greatest(coalesce(r.noise_sd, 0), sqrt({level} + 1))"
    else:
        unit = "1.0"
    rolling = "rolling_baselines"
    if keys:  # `ts IN` lets the scan skip the other minutes' row groups
        rolling = f"""(SELECT b.* FROM rolling_baselines b SEMI JOIN {keys} k
                       ON k.platform = b.platform AND k.category_id = b.category_id AND k.ts = b.ts
                       WHERE b.ts IN (SELECT ts FROM {keys}))"""
    return f"""
        SELECT r.platform, r.category_id, r.ts, r.viewers AS "current", r.median_60, r.n_60,
               r.prev_viewers, r.ago_ts, r.viewers_60_ago,
               CASE WHEN s.coverage_7d >= {cov} THEN '7d'
                    WHEN s.coverage_24h >= {cov} THEN '24h' ELSE 'fallback' END AS season_source,
               CASE WHEN s.coverage_7d >= {cov} THEN s.mean_7d
                    WHEN s.coverage_24h >= {cov} THEN s.mean_24h
                    ELSE r.median_60 END AS baseline_season,
               {unit} AS unit
        FROM {rolling} r
        JOIN seasonal_baselines s
          ON s.platform = r.platform AND s.category_id = r.category_id AND s.ts = r.ts
        WHERE r.ts >= $start AND r.ts < $end AND s.ts >= $start AND s.ts < $end
    """
