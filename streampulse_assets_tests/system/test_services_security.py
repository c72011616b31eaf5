"""The embedded servers are private: another local user gets neither Postgres, Redis nor the
state folder, and no password is ever printed or shown as a plain value in the Dagster UI."""

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2
import pytest

from streampulse_assets.lib.services.paths import free_port
from streampulse_assets.lib.services.postgres import POSTGRES_BIN_PATH
from streampulse_assets.lib.services.secrets import mask_text, mask_url

PSQL = str(POSTGRES_BIN_PATH / "psql")


@pytest.fixture
def open_scratch():
    """A scratch folder every user may traverse (0755, as a repo checkout usually is), so that
    only the state folder's own permissions keep another user out."""
    scratch = Path(tempfile.mkdtemp(prefix="sp-sec-"))
    scratch.chmod(0o755)
    yield scratch
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def running_services(open_scratch, monkeypatch):
    from streampulse_assets.lib.services.manager import Services
    from streampulse_assets.lib.settings import StoresSettings

    monkeypatch.setenv("STREAMPULSE_HOME", str(open_scratch / "home"))
    for name in ("STREAMPULSE_POSTGRES_URL", "STREAMPULSE_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    services = Services(StoresSettings(pg_port=free_port(), redis_port=free_port()))
    parents = [open_scratch, *open_scratch.parents]
    before = {p: p.stat().st_mode for p in parents}
    services.up()
    try:
        yield services
    finally:
        services.down()
    assert {p: p.stat().st_mode for p in parents} == before  # no parent was opened up


def _as_nobody(script: str, **env: str) -> subprocess.CompletedProcess:
    nobody = pwd.getpwnam("nobody")
    return subprocess.run(
        ["/bin/bash", "-c", script],
        user=nobody.pw_uid,
        group=nobody.pw_gid,
        extra_groups=[],
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", **env},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )


def _redis_say(port: int, command: str) -> str:
    return (
        f"exec 3<>/dev/tcp/127.0.0.1/{port} && printf '{command}\\r\\n' >&3 && "
        "timeout 20 head -n 1 <&3"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another local user")
def test_another_local_user_gets_no_server_and_no_state_file(running_services):
    pg, rd = running_services.postgres, running_services.redis
    home = pg.root.parent
    select = f"-p {pg.port} -U postgres -w -At -c 'SELECT 42' streampulse"

    # Control: the owner connects with the password files.
    own = subprocess.run(
        f"{PSQL} -h 127.0.0.1 {select}", shell=True, capture_output=True, text=True,
        env={**os.environ, "PGPASSFILE": str(pg.passfile)}, timeout=60, check=False,
    )  # fmt: skip
    assert own.stdout.strip() == "42", own.stderr
    assert _as_root_bash(_redis_say(rd.port, f"AUTH {rd.password}")).startswith("+OK")

    # Another user: TCP without a password, with a guessed one, through the socket.
    tcp = _as_nobody(f"{PSQL} -h 127.0.0.1 {select}", PGPASSFILE=str(pg.passfile))
    assert tcp.returncode != 0 and "no password supplied" in tcp.stderr, tcp.stderr
    guess = _as_nobody(f"{PSQL} -h 127.0.0.1 {select}", PGPASSWORD="postgres")
    assert guess.returncode != 0 and "password authentication failed" in guess.stderr
    sock = _as_nobody(f"{PSQL} -h {pg.server_dir} {select}")
    assert sock.returncode != 0 and "42" not in sock.stdout
    assert "Permission denied" in sock.stderr or "no password" in sock.stderr, sock.stderr
    # Redis refuses every command without the password.
    ping = _as_nobody(_redis_say(rd.port, "PING"))
    assert ping.stdout.startswith("-NOAUTH"), (ping.stdout, ping.stderr)
    keys = _as_nobody(_redis_say(rd.port, "CONFIG GET dir"))
    assert keys.stdout.startswith("-NOAUTH")
    # Nor can it list or read the state folder, the password files, the data or the AOF.
    files = [pg.root / "password", pg.passfile, rd.root / "password", rd.root / "redis.conf"]
    for target in [home, *files, pg.data_dir / "PG_VERSION", pg.log_file]:
        peek = _as_nobody(f"ls {target} || cat {target}")
        assert peek.returncode != 0 and "Permission denied" in peek.stderr, (target, peek)


def _as_root_bash(script: str) -> str:
    return subprocess.run(
        ["/bin/bash", "-c", script], capture_output=True, text=True, timeout=60, check=False
    ).stdout


def test_state_files_and_server_are_private(running_services):
    pg, rd = running_services.postgres, running_services.redis
    home = pg.root.parent
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for folder in (pg.root, rd.root, pg.server_dir, pg.data_dir):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in (*rd.root.iterdir(), pg.root / "password", pg.passfile, pg.log_file):
        if path.is_file() and not path.is_symlink():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    hba = (pg.data_dir / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line and not line.startswith("#")]
    assert rules and all(rule[-1] == "scram-sha-256" for rule in rules)
    # The password is in no command line any local user can read.
    for pid in (pg.pid(), rd.pid()):
        assert pg.password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert rd.password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    conn = psycopg2.connect(pg.url("postgres"))
    with conn, conn.cursor() as cur:
        cur.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'")
        assert cur.fetchone()[0].startswith("SCRAM-SHA-256$")
        cur.execute("SHOW listen_addresses")
        assert cur.fetchone()[0] == "127.0.0.1"
    conn.close()
    if os.geteuid() == 0:  # its own account and group, no supplementary group, never root's
        status = Path(f"/proc/{pg.pid()}/status").read_text().splitlines()
        fields = {line.split(":")[0]: line.split(":")[1].split() for line in status}
        assert "0" not in fields["Uid"] and "0" not in fields["Gid"]
        assert fields["Groups"] == []


def test_urls_are_masked():
    url = "postgresql://app:s3cr%40t@db.example:5432/sp"
    assert mask_url(url) == "postgresql://app:***@db.example:5432/sp"
    assert mask_url("redis://:hunter2@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert mask_text("failed for s3cr%40t", url) == "failed for ***"


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streampulse_assets.cli.main", *args],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_commands_never_print_an_external_password(tmp_path):
    password = "Sup3rSecretPw"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPULSE_")}
    env.update(
        STREAMPULSE_HOME=str(tmp_path / "home"),
        STREAMPULSE_POSTGRES_URL=f"postgresql://app:{password}@127.0.0.1:{free_port()}/sp",
        STREAMPULSE_REDIS_URL=f"redis://:{password}@127.0.0.1:{free_port()}/0",
    )
    for args in (("worker", "--once"), ("services", "status"), ("label", "list")):
        result = _cli(*args, env=env)
        output = result.stdout + result.stderr
        assert result.returncode != 0, args  # nothing listens there
        assert password not in output, (args, output)
    status = _cli("services", "status", env=env)
    assert "postgresql://app:***@127.0.0.1" in status.stdout
    assert "redis://:***@127.0.0.1" in status.stdout
    worker = _cli("worker", "--once", env=env)
    assert "postgresql://app:***@127.0.0.1" in worker.stderr


RESOURCES_QUERY = """
query ($selector: RepositorySelector!) {
  allTopLevelResourceDetailsOrError(repositorySelector: $selector) {
    __typename
    ... on ResourceDetailsList { results { name configuredValues { key value type } } }
  }
}
"""


def test_ui_shows_no_url_value(tmp_path, monkeypatch):
    """GraphQL `configuredValues` (what the UI's resource page shows): the env var's name for
    an external URL, a mask for the embedded one; never the password."""
    import dagster as dg
    from dagster_graphql.test.utils import (
        define_out_of_process_context,
        execute_dagster_graphql,
        infer_repository_selector,
    )

    password = "Sup3rSecretPw"
    monkeypatch.setenv("STREAMPULSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STREAMPULSE_POSTGRES_URL", f"postgresql://app:{password}@db:5432/sp")
    monkeypatch.delenv("STREAMPULSE_REDIS_URL", raising=False)
    module = tmp_path / "resources_only.py"
    module.write_text(
        "import dagster as dg\n"
        "from streampulse_assets.defs.resources import build_resources\n\n"
        "@dg.definitions\n"
        "def defs():\n"
        "    return dg.Definitions(resources=build_resources())\n"
    )
    with (
        dg.instance_for_test() as instance,
        define_out_of_process_context(str(module), "defs", instance) as context,
    ):
        result = execute_dagster_graphql(
            context, RESOURCES_QUERY, {"selector": infer_repository_selector(context)}
        )
    assert password not in json.dumps(result.data)
    embedded_password = (tmp_path / "home" / "redis" / "password").read_text().strip()
    assert embedded_password not in json.dumps(result.data)
    details = result.data["allTopLevelResourceDetailsOrError"]["results"]
    values = {r["name"]: {v["key"]: v for v in r["configuredValues"]} for r in details}
    assert values["postgres"]["url"]["type"] == "ENV_VAR"
    assert values["postgres"]["url"]["value"] == "STREAMPULSE_POSTGRES_URL"
    assert values["redis"]["url"]["type"] == "SECRET"


@pytest.mark.skipif(os.geteuid() != 0, reason="the old layout only existed when running as root")
def test_an_old_open_cluster_is_moved_out_and_secured(open_scratch):
    """Before: data in the state folder, `trust` for every local user, running. After start():
    stopped, moved to the server account's own folder, password set, `trust` gone, data kept."""
    from streampulse_assets.lib.services.postgres import EmbeddedPostgres
    from streampulse_assets.lib.services.system_account import system_account

    account = system_account()
    root = open_scratch / "postgres"
    root.mkdir()
    os.chown(root, account.uid, account.gid)
    port = free_port()

    def old(*args: str) -> None:
        subprocess.run(
            [str(POSTGRES_BIN_PATH / args[0]), *args[1:]], check=True, capture_output=True,
            timeout=120, cwd=root, **account.run_kwargs(),
        )  # fmt: skip

    old("initdb", "-D", str(root / "data"), "-U", "postgres", "--auth=trust")
    old("pg_ctl", "-D", str(root / "data"), "-l", str(root / "server.log"), "-w", "start",
        "-o", f"-p {port} -h 127.0.0.1 -k {root}")  # fmt: skip
    open_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    conn = psycopg2.connect(open_url, passfile="/nonexistent")
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)")
    conn.close()

    server = EmbeddedPostgres(root, port=port, databases=())
    try:
        assert server.start() is True
        assert (root / "data").is_symlink() and server.data_dir.resolve() != root / "data"
        conn = psycopg2.connect(server.url("postgres"))
        with conn, conn.cursor() as cur:
            cur.execute("SELECT x FROM kept")
            assert cur.fetchall() == [(1,)]
        conn.close()
        with pytest.raises(psycopg2.OperationalError, match="no password supplied"):
            psycopg2.connect(open_url, passfile="/nonexistent", connect_timeout=5)
        assert "trust" not in (server.data_dir / "pg_hba.conf").read_text()
    finally:
        server.stop()
