"""`streampulse worker`: one-shot drain, unreachable Postgres, SIGTERM of the long-running loop."""

import json
import os
import signal
import subprocess
import sys
import time

import psycopg2
import typer
from typer.testing import CliRunner

from streampulse_assets.cli import worker as worker_cli
from streampulse_assets.lib.analysis import samples
from streampulse_assets.lib.services.paths import REPO_ROOT, free_port
from streampulse_assets.lib.settings import get_settings


def app() -> typer.Typer:
    cli = typer.Typer()
    cli.callback()(lambda: None)
    worker_cli.register(cli)
    return cli


def done_count(pg_url: str) -> int:
    conn = psycopg2.connect(pg_url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM signal_events WHERE analysis_status = 'DONE'")
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_worker_once_drains_and_prints_stats(stores, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    conn = psycopg2.connect(stores["postgres"])
    samples.insert_rows(conn, samples.sample_rows(8))
    conn.close()
    result = CliRunner().invoke(app(), ["worker", "--once", "--concurrency", "2", "--batch", "3"])
    assert result.exit_code == 0, result.output
    assert "tier=offline" in result.output
    stats = json.loads(result.output.strip().splitlines()[-1])
    assert stats["events_analysed"] == 8 and stats["tiers"] == {"offline": 8}
    assert done_count(stores["postgres"]) == 8


def test_worker_explains_an_unreachable_postgres(monkeypatch):
    monkeypatch.setenv(
        "STREAMPULSE_POSTGRES_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/x"
    )
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app(), ["worker", "--once"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "Postgres is not reachable" in result.output
    assert "streampulse services up" in result.output


def test_long_running_worker_stops_cleanly_on_sigterm(stores):
    conn = psycopg2.connect(stores["postgres"])
    samples.insert_rows(conn, samples.sample_rows(6))
    conn.close()
    env = {
        **os.environ,
        "STREAMPULSE_POSTGRES_URL": stores["postgres"],
        "STREAMPULSE_REDIS_URL": stores["redis"],
    }
    env.pop("OPENAI_API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streampulse_assets.cli.main", "worker", "--concurrency", "2"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        give_up = time.monotonic() + 60
        while done_count(stores["postgres"]) < 6 and time.monotonic() < give_up:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        assert done_count(stores["postgres"]) == 6  # still running: it polls for more work
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["events_analysed"] == 6
