"""First-start history: launch a Dagster backfill of the last N days of simulated data.

The backfill is launched through the webserver's GraphQL API, exactly as the UI's "Materialize"
dialog does, so the user sees it under Overview → Backfills. It runs once per state folder.
While it is being launched, `bootstrap.pending` (beside the marker) tells the minute sensor to
wait; once launched, the sensor waits for the backfill itself (tag `lib/ticks.BOOTSTRAP_TAG`), so
no live tick computes minutes whose history does not exist yet.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from streampulse_assets.lib.ticks import BOOTSTRAP_TAG, hour_key

PENDING_NAME = "bootstrap.pending"
PENDING_MAX_AGE = timedelta(minutes=10)  # a marker left by a crashed launcher is ignored
BOOTSTRAP_ASSETS = ["raw_snapshots", "rolling_baselines", "seasonal_baselines", "signal_events"]

MUTATION = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { stepKey invalidOutputName }
  }
}
"""


def hourly_partition_keys(days: int, now: datetime) -> list[str]:
    """Hourly keys from `days` ago up to and including the current (open) hour."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    first = hour - timedelta(days=days)
    keys = []
    while first <= hour:
        keys.append(hour_key(first))
        first += timedelta(hours=1)
    return keys


def pending_since(state: Path, now: datetime | None = None) -> datetime | None:
    """When a launcher started waiting to launch the bootstrap (None: none is waiting)."""
    path = state / PENDING_NAME
    try:
        since = datetime.fromisoformat(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return since if (now or datetime.now(UTC)) - since < PENDING_MAX_AGE else None


def launch_bootstrap_backfill(port: int, days: int, marker: Path, timeout: float = 300) -> str:
    """Wait for the UI, launch the backfill, record it in `marker`; returns the backfill id.
    Live ticks wait meanwhile (`bootstrap.pending` beside `marker`)."""
    pending = marker.parent / PENDING_NAME
    pending.write_text(datetime.now(UTC).isoformat() + "\n")
    try:
        return _launch(port, days, marker, timeout)
    finally:
        pending.unlink(missing_ok=True)


def _launch(port: int, days: int, marker: Path, timeout: float) -> str:
    url = f"http://127.0.0.1:{port}/graphql"
    params = {
        "partitionNames": hourly_partition_keys(days, datetime.now(UTC)),
        "assetSelection": [{"path": [key]} for key in BOOTSTRAP_ASSETS],
        "fromFailure": False,
        "tags": [{"key": BOOTSTRAP_TAG, "value": f"{days}d"}],
    }
    deadline = time.monotonic() + timeout
    last_error = "webserver not reachable"
    while time.monotonic() < deadline:
        try:
            response = httpx.post(
                url, json={"query": MUTATION, "variables": {"params": params}}, timeout=60
            )
            body = response.json()
            result = (body.get("data") or {}).get("launchPartitionBackfill") or {}
            if result.get("__typename") == "LaunchBackfillSuccess":
                marker.write_text(
                    json.dumps({"backfill_id": result["backfillId"], "days": days}) + "\n"
                )
                return result["backfillId"]
            last_error = result.get("message") or json.dumps(body.get("errors") or result)[:500]
        except (httpx.HTTPError, ValueError) as exc:
            last_error = str(exc)
        time.sleep(3)
    raise RuntimeError(f"could not launch the first-start backfill: {last_error}")
