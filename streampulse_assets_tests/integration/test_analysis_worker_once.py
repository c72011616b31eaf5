"""`streampulse worker --once` in process: a one-shot drain, an unreachable Postgres. The
long-running worker (SIGTERM, a killed worker) runs as a subprocess in
system/test_analysis_worker_cli.py."""

import json

import psycopg2
import typer
from typer.testing import CliRunner

from bench import samples
from streampulse_assets.cli import worker as worker_cli
from streampulse_assets.lib.services.paths import free_port
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
            cur.execute("SELECT count(*) FROM analysis_queue WHERE analysis_status = 'DONE'")
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
