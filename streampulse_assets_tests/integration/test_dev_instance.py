"""What `streampulse dev` prepares, in process: an embedded Postgres that keeps UTC in any machine
zone, and a Dagster instance that logs runs at INFO. The `services` and `dev` commands themselves
run as subprocesses in system/test_cli_services.py."""

import psycopg2

from streampulse_assets.lib.services.paths import free_port


def test_embedded_postgres_keeps_utc_when_the_machine_is_in_korea(tmp_path, monkeypatch):
    # Dagster writes aware UTC datetimes into `timestamp` columns and reads them back as UTC; a
    # server in the machine's zone (initdb copies TZ) would put every run 9 hours in the future.
    from datetime import UTC, datetime

    from streampulse_assets.lib.services.postgres import EmbeddedPostgres

    monkeypatch.setenv("TZ", "Asia/Seoul")
    monkeypatch.delenv("PGTZ", raising=False)
    server = EmbeddedPostgres(tmp_path / "pg", port=free_port(), databases=("dagster",))
    server.start()
    try:
        conn = psycopg2.connect(server.url("dagster"))
        with conn, conn.cursor() as cur:
            cur.execute("SHOW timezone")
            assert cur.fetchone()[0] == "UTC"
            aware = datetime.now(UTC)
            cur.execute("SELECT %s::timestamp", (aware,))  # what Dagster stores
            assert abs((cur.fetchone()[0] - aware.replace(tzinfo=None)).total_seconds()) < 1
        conn.close()
        assert "timezone = 'Asia/Seoul'" in (server.data_dir / "postgresql.conf").read_text()
    finally:
        server.stop()


def test_dev_run_logs_are_info_by_default(tmp_path, monkeypatch, dagster_pg_env, capfd):
    """The instance `streampulse dev` prepares prints a run's console log at INFO (Dagster's
    default is DEBUG: a line per step event); the event log still has every event."""
    import dagster as dg

    from streampulse_assets.cli.dev import log_level, prepare_dagster_home

    monkeypatch.setenv("STREAMPULSE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("STREAMPULSE_LOG_LEVEL", raising=False)
    from streampulse_assets.lib.settings import get_settings

    get_settings.cache_clear()
    assert log_level() == "info"
    monkeypatch.setenv("DAGSTER_HOME", str(prepare_dagster_home(log_level())))

    @dg.asset
    def chatty(context) -> None:
        context.log.info("visible line")
        context.log.debug("hidden line")

    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([chatty], instance=instance)
        assert result.success
        kinds = {e.event_type_value for e in result.all_events}
    logged = capfd.readouterr()
    console = logged.out + logged.err
    assert "visible line" in console and "hidden line" not in console
    assert " - DEBUG - " not in console and "STEP_SUCCESS" not in console
    assert "STEP_SUCCESS" in kinds  # the event log (UI) keeps every step event

    monkeypatch.setenv("STREAMPULSE_LOG_LEVEL", "DEBUG")
    get_settings.cache_clear()
    try:
        assert log_level() == "debug"
        text = (prepare_dagster_home(log_level()) / "dagster.yaml").read_text()
        assert "python_log_level: DEBUG" in text
    finally:
        get_settings.cache_clear()
