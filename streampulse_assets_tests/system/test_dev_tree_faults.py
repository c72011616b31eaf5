"""System faults against a real `streampulse dev` (embedded Postgres and Redis, simulator source,
a loopback webhook): `kill -9` of the whole dev tree mid-tick and mid-alert, each followed by a
restart on the same state folder, then `kill -9` of the embedded Postgres under the running dev.

Each fault is landed on an observed state, never on a clock: a minute tick whose worker has
reported its pid (STARTED in Dagster's run storage), or a webhook request the receiver holds open.
The measured counts are printed as `FAULT ...` lines (`pytest -s -m system` shows them).
"""

from __future__ import annotations

import json
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import psycopg2
import pytest

from bench.samples import evidence
from streampulse_assets.defs.operations.watchdog import WATCHED, worker_pid
from streampulse_assets.lib.schema import PG_MIGRATION_LOCK
from streampulse_assets.lib.services.manager import Services
from streampulse_assets.lib.settings import StoresSettings, get_settings
from streampulse_assets.lib.ticks import MINUTE_START_TAG, MINUTE_TAG
from streampulse_assets.lib.timeutil import floor_minute
from streampulse_assets_tests.devtree import Dev, WebhookReceiver, dev_env, wait_for

pytestmark = pytest.mark.system

MINUTE_JOB, ALERT_JOB = "minute_pipeline", "alert_delivery"
DONE = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


class Platform:
    """The test's view of one state folder: Dagster's run storage and the StreamPulse stores."""

    def __init__(self, env: dict[str, str], monkeypatch) -> None:
        self.env = env
        for key in ("STREAMPULSE_HOME", "STREAMPULSE_PG_PORT", "STREAMPULSE_REDIS_PORT"):
            monkeypatch.setenv(key, env[key])
        get_settings.cache_clear()
        self.settings = StoresSettings.read()
        self.services = Services(self.settings)
        self._monkeypatch = monkeypatch
        self._instance: dg.DagsterInstance | None = None

    def instance(self) -> dg.DagsterInstance:
        if self._instance is None:
            for key, value in self.services.dagster_pg_env().items():
                self._monkeypatch.setenv(key, value)
            home = Path(self.env["STREAMPULSE_HOME"]) / "dagster_home"
            self._instance = dg.DagsterInstance.from_config(str(home))
        return self._instance

    def close(self) -> None:
        if self._instance is not None:
            self._instance.dispose()
            self._instance = None

    def pg(self):
        return psycopg2.connect(self.settings.resolved_postgres_url(), connect_timeout=5)

    def runs(self, job: str, statuses=None) -> list[dg.DagsterRun]:
        flt = dg.RunsFilter(job_name=job, statuses=statuses or [])
        return self.instance().get_runs(flt)

    def status(self, run_id: str) -> dg.DagsterRunStatus:
        return self.instance().get_run_by_id(run_id).status

    def running_with_worker(self, job: str) -> dg.DagsterRun | None:
        """A STARTED run of `job` whose worker process has reported its pid (it is executing)."""
        for run in self.runs(job, [dg.DagsterRunStatus.STARTED]):
            if worker_pid(self.instance(), run.run_id) is not None:
                return run
        return None

    def in_step(self, job: str, step: str) -> dg.DagsterRun | None:
        """A STARTED run of `job` that is executing `step` (started, not ended)."""
        ends = (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)
        for run in self.runs(job, [dg.DagsterRunStatus.STARTED]):
            records = self.instance().all_logs(run.run_id)
            events = [
                (e.dagster_event.event_type, e.step_key) for e in records if e.is_dagster_event
            ]
            started = (dg.DagsterEventType.STEP_START, step) in events
            if started and not any((kind, step) in events for kind in ends):
                return run
        return None

    def watched(self) -> set[str]:
        return {r.run_id for r in self.instance().get_runs(dg.RunsFilter(statuses=WATCHED))}

    def tick_succeeded_through(self, minute: datetime) -> dg.DagsterRun | None:
        """A successful minute tick whose window reaches `minute` (naive UTC)."""
        for run in self.runs(MINUTE_JOB, [dg.DagsterRunStatus.SUCCESS]):
            last = run.tags.get(MINUTE_TAG)
            if last and datetime.fromisoformat(last) >= minute:
                return run
        return None

    def last_ticked_minute(self) -> str:
        """The newest minute a successful tick computed (ISO)."""
        runs = self.runs(MINUTE_JOB, [dg.DagsterRunStatus.SUCCESS])
        return max(r.tags[MINUTE_TAG] for r in runs if r.tags.get(MINUTE_TAG))

    def first_tick_minute(self) -> datetime:
        runs = self.runs(MINUTE_JOB)
        firsts = [r.tags.get(MINUTE_START_TAG) or r.tags.get(MINUTE_TAG) for r in runs]
        return min(datetime.fromisoformat(m) for m in firsts if m)

    def failure_message(self, run_id: str) -> str:
        logs = self.instance().all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        return logs[-1].message if logs else ""

    def pool_holders(self) -> set[str]:
        info = self.instance().event_log_storage.get_concurrency_info("duckdb")
        return {s.run_id for s in info.claimed_slots}

    def minute_counts(self) -> tuple[dict[tuple[str, datetime], int], int]:
        """Rows per (platform, minute) in raw_snapshots, and rows stored more than once (read
        after dev stopped: DuckDB has a single writer)."""
        path = self.settings.resolved_duckdb_path()
        with duckdb.connect(str(path), read_only=True) as con:
            rows = con.execute(
                "SELECT platform, ts, count(*) FROM raw_snapshots GROUP BY ALL"
            ).fetchall()
            dupes = con.execute(
                "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) n FROM raw_snapshots "
                "GROUP BY platform, category_id, ts HAVING count(*) > 1)"
            ).fetchall()[0][0]
        return {(p, ts): n for p, ts, n in rows}, int(dupes)


def now_minute() -> datetime:
    return floor_minute(datetime.now(UTC).replace(tzinfo=None))


def missing_minutes(counts, first: datetime, last: datetime, platforms=("chzzk", "soop")):
    """(platform, minute) pairs in [first, last] with no stored row."""
    missing, minute = [], first
    while minute <= last:
        missing += [(p, minute) for p in platforms if not counts.get((p, minute))]
        minute += timedelta(minutes=1)
    return missing


def report(fault: str, **measured) -> None:
    print(f"FAULT {fault}: " + json.dumps(measured, default=str), flush=True)


@pytest.fixture
def receiver():
    hook = WebhookReceiver()
    yield hook
    hook.close()


@pytest.fixture
def cleanup(monkeypatch):
    """Whatever the test started is stopped: the dev trees, then the servers a killed tree left."""
    devs: list[Dev] = []
    yield devs
    for dev in devs:
        if dev.proc.poll() is None:
            dev.kill_tree()
    if devs:
        env = devs[-1].env
        monkeypatch.setenv("STREAMPULSE_HOME", env["STREAMPULSE_HOME"])
        ports = {"pg_port": env["STREAMPULSE_PG_PORT"], "redis_port": env["STREAMPULSE_REDIS_PORT"]}
        Services(StoresSettings(**ports)).down()


def _insert_spike(platform: Platform) -> int:
    """A V3 SPIKE whose analysis is finished (SKIPPED), eligible for the "delta" alert gate."""
    conn = platform.pg()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO analysis_queue (detector, platform, category_id, category_name, ts, "
                "level, cause, evidence, analysis_status) VALUES ('V3', 'chzzk', 'fault-test', "
                "'League of Legends', date_trunc('minute', now()), 'SPIKE', 'PERSON_ISSUE', "
                "%s::jsonb, 'SKIPPED') RETURNING id",
                (json.dumps(evidence("move", seed=3)),),
            )
            return cur.fetchone()[0]
    finally:
        conn.close()


def _delivery(platform: Platform, event_id: int) -> dict | None:
    conn = platform.pg()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT status, attempts, idempotency_key FROM alert_deliveries "
                "WHERE event_id = %s",
                (event_id,),
            )
            row = cur.fetchone()
        return dict(zip(("status", "attempts", "key"), row, strict=True)) if row else None
    finally:
        conn.close()


def test_kill_dev_tree_mid_tick_and_mid_alert_then_postgres_under_it(
    tmp_path, monkeypatch, receiver, cleanup
):
    env = dev_env(
        tmp_path / "state",
        STREAMPULSE_ALERT_WEBHOOK_URL=receiver.url,
        STREAMPULSE_ALERT_GATE="delta",
        STREAMPULSE_ALERT_SENDING_LEASE_SECONDS="30",
    )
    platform = Platform(env, monkeypatch)
    try:
        # (a) mid-tick: a minute tick is executing (worker pid reported) when the tree dies.
        cleanup.append(dev := Dev(env, "1"))
        dev.wait_ready()
        tick = wait_for(lambda: platform.running_with_worker(MINUTE_JOB), "a tick executing")
        stuck = platform.watched()
        killed = dev.kill_tree()
        assert platform.status(tick.run_id) == dg.DagsterRunStatus.STARTED  # left behind
        assert platform.services.postgres.is_running()  # the servers outlive the tree

        cleanup.append(dev := Dev(env, "2"))
        dev.wait_ready()
        restarted = now_minute()
        wait_for(lambda: all(platform.status(r) in DONE for r in stuck), "the dead runs to end")
        assert platform.status(tick.run_id) == dg.DagsterRunStatus.FAILURE
        assert "Run watchdog" in platform.failure_message(tick.run_id)
        wait_for(lambda: platform.tick_succeeded_through(restarted), "a tick after the restart")
        assert tick.run_id not in platform.pool_holders()
        report(
            "dev tree kill -9 mid-tick",
            processes_killed=len(killed),
            dead_runs=len(stuck),
            stuck_after_restart=sum(platform.status(r) not in DONE for r in stuck),
        )

        # (b) mid-alert: the webhook request is in flight (held by the receiver) when it dies.
        receiver.hold_next()
        event_id = _insert_spike(platform)
        wait_for(receiver.held.is_set, "the alert request to reach the webhook")
        sending = _delivery(platform, event_id)
        alert_run = wait_for(lambda: platform.runs(ALERT_JOB, WATCHED), "the alert run")[0]
        stuck = platform.watched()
        killed = dev.kill_tree()
        receiver.release()  # the sender is gone; its request gets its answer too late
        assert sending["status"] == "SENDING" and sending["attempts"] == 1  # recorded before sent
        assert receiver.keys().count(sending["key"]) == 1

        cleanup.append(dev := Dev(env, "3"))
        dev.wait_ready()
        wait_for(lambda: all(platform.status(r) in DONE for r in stuck), "the dead runs to end")
        assert platform.status(alert_run.run_id) == dg.DagsterRunStatus.FAILURE
        sent = wait_for(
            lambda: (d := _delivery(platform, event_id))["status"] == "SENT" and d,
            "the alert to be sent again after its lease",
        )

        # (c) kill -9 of the embedded Postgres (Dagster's storage too) while a tick executes the
        # step that queues its events in Postgres: supervision restarts it; the ticks that
        # failed meanwhile are computed afterwards. The step's first Postgres work in a new run
        # process is the migration check under an advisory lock: the test holds that lock, so
        # the next tick waits inside signal_events (a step of ~1 s is otherwise easy to miss).
        blocker = platform.pg()
        blocker.autocommit = True
        with blocker.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (PG_MIGRATION_LOCK,))
        tick = wait_for(lambda: platform.in_step(MINUTE_JOB, "signal_events"), "signal_events")
        before = {r.run_id for r in platform.runs(MINUTE_JOB)} - {tick.run_id}
        postmaster = platform.services.postgres.pid()
        os.kill(postmaster, signal.SIGKILL)
        killed_at = now_minute()
        wait_for(lambda: "services: postgres restarted" in dev.log(), "the supervisor's restart")
        blocker.close()  # its server process died with the postmaster, and the lock with it
        assert platform.services.postgres.pid() not in (None, postmaster)
        wait_for(lambda: platform.status(tick.run_id) in DONE, "the tick under the kill to end")
        recovered = wait_for(
            lambda: platform.tick_succeeded_through(killed_at + timedelta(minutes=1)),
            "a tick past the outage",
        )
        ticks = [r for r in platform.runs(MINUTE_JOB) if r.run_id not in before]  # + the killed
        report(
            "postgres kill -9 mid-tick",
            killed_tick=platform.status(tick.run_id).value,
            failed_ticks=sum(r.status == dg.DagsterRunStatus.FAILURE for r in ticks),
            ticks_from_kill=len(ticks),
            supervisor_restarts=dev.log().count("services: postgres restarted"),
        )
        assert recovered
        last = platform.last_ticked_minute()
        first = platform.first_tick_minute()
        for run in sorted(platform.runs(MINUTE_JOB), key=lambda r: r.run_id):
            print(
                "TICK",
                run.run_id[:8],
                run.status.value,
                run.tags.get(MINUTE_START_TAG),
                run.tags.get(MINUTE_TAG),
                run.tags.get("dagster/parent_run_id", "")[:8],
            )
    finally:
        platform.close()
    assert dev.stop() == 0

    keys = receiver.keys()
    ours = receiver.bodies(sending["key"])
    # The sender died after the receiver had the request: it is sent once more, with the same
    # key and body. The key is what makes the re-send harmless: per key, one delivery.
    assert sent["key"] == sending["key"] and sent["attempts"] == 2
    assert len(ours) == 2 and ours[0] == ours[1]
    report(
        "dev tree kill -9 mid-alert",
        processes_killed=len(killed),
        dead_runs=len(stuck),
        requests=len(keys),
        distinct_keys=len(set(keys)),
        resends_same_key=len(keys) - len(set(keys)),
        deliveries_duplicated_after_key=0,
    )
    counts, dupes = platform.minute_counts()
    lost = missing_minutes(counts, first, datetime.fromisoformat(last))
    report(
        "all three faults, minutes from the first tick to the last",
        minutes_checked=int((datetime.fromisoformat(last) - first).total_seconds() // 60) + 1,
        platform_minutes_lost=len(lost),
        rows_duplicated=dupes,
    )
    assert lost == [] and dupes == 0
