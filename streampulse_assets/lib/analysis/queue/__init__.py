"""The Postgres analysis queue (`analysis_queue`, sql/postgres/001 + 050): the only package with
SQL on that table (and on its `alert_deliveries` / `operator_feedback` side tables where they meet
it). Detection enqueues, alerts, quality, retention, the workers and the CLI call the functions
here (the DuckDB detection output `signal_events` is another table). Callers import the package,
`from streampulse_assets.lib.analysis import queue`, and call `queue.claim(...)` etc.

- `claim` takes up to `batch` PENDING rows (SPIKE before CANDIDATE, then oldest first) with
  `FOR UPDATE SKIP LOCKED` in one statement and marks them IN_PROGRESS with a lease (claimed_at,
  worker_id) and attempts + 1. Any number of workers on any number of machines share the queue.
- `release_expired` returns rows whose lease expired (a crashed worker) to PENDING, or FAILED when
  their attempts are used up; `claim` calls it first.
- `complete` writes the result only while the caller still holds the lease; `fail` records the
  error and retries later with exponential back-off, or marks FAILED after `max_attempts`.
Connections are psycopg2 connections in autocommit mode (every call is a single statement),
except where a function says it joins the caller's transaction or commits.

Modules: `lease` (claim/renew/complete/fail/release, lease expiry), `enqueue` (inserting rows,
emptying and requeueing), `backlog` (counts per status, stale PENDING rows), `history` (DONE rows
for the search context and the warehouse copy), `alerts` (the alert gate's condition, rows to
deliver, the showcase's SPIKE rows), `feedback` (operator labels), `retention` (pruning), and
`_rows` (row helpers they share).
"""

from streampulse_assets.lib.analysis.queue.alerts import (
    ALERT_COLUMNS,
    alert_condition,
    analysed_spikes_by_id,
    count_undelivered,
    evidence_and_result,
    latest_analysed_spikes,
    undelivered,
)
from streampulse_assets.lib.analysis.queue.backlog import QueueStats, stale_pending, stats
from streampulse_assets.lib.analysis.queue.enqueue import (
    clear,
    insert_events,
    insert_pending,
    requeue_all,
)
from streampulse_assets.lib.analysis.queue.feedback import event_exists, feedback_verdicts
from streampulse_assets.lib.analysis.queue.history import (
    DONE_COLUMNS,
    done_since,
    streamer_history,
)
from streampulse_assets.lib.analysis.queue.lease import (
    LEASE_S,
    MAX_ATTEMPTS,
    RETRY_BACKOFF_S,
    claim,
    complete,
    fail,
    release,
    release_expired,
    renew,
)
from streampulse_assets.lib.analysis.queue.retention import prune_deliveries, prune_finished

__all__ = [
    "ALERT_COLUMNS",
    "DONE_COLUMNS",
    "LEASE_S",
    "MAX_ATTEMPTS",
    "RETRY_BACKOFF_S",
    "QueueStats",
    "alert_condition",
    "analysed_spikes_by_id",
    "claim",
    "clear",
    "complete",
    "count_undelivered",
    "done_since",
    "event_exists",
    "evidence_and_result",
    "fail",
    "feedback_verdicts",
    "insert_events",
    "insert_pending",
    "latest_analysed_spikes",
    "prune_deliveries",
    "prune_finished",
    "release",
    "release_expired",
    "renew",
    "requeue_all",
    "stale_pending",
    "stats",
    "streamer_history",
    "undelivered",
]
