"""The Dagster CLI works from the repo root with no extra environment (issue 13 item 7).

`dg list defs`, `dg check defs` and `dagster definitions validate -w workspace.yaml` run as
subprocesses from the repo root with a clean environment: no DAGSTER_HOME, no DAGSTER_PG_*, no
STREAMPULSE_*. The repo-root dagster.yaml is then the instance config, and its storage falls back
to SQLite instead of failing on the missing Postgres variables.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streampulse_assets.lib.services.paths import REPO_ROOT

BIN = Path(sys.executable).parent
COMMANDS = {
    "dg list defs": [str(BIN / "dg"), "list", "defs", "--json"],
    "dg check defs": [str(BIN / "dg"), "check", "defs"],
    "dagster definitions validate": [
        str(BIN / "dagster"),
        "definitions",
        "validate",
        "-w",
        "workspace.yaml",
    ],
}
ASSETS = {"raw_snapshots", "signal_events", "detection_quality", "detection_labels"}


def clean_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture(scope="module")
def cli_results() -> dict[str, subprocess.CompletedProcess]:
    """The three commands, started together (each loads the definitions in ~10 s)."""
    env = clean_env()
    assert not any(k.startswith(("DAGSTER_", "STREAMPULSE_")) for k in env)
    procs = {
        name: subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, cmd in COMMANDS.items()
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        results[name] = subprocess.CompletedProcess(COMMANDS[name], proc.returncode, out, err)
    return results


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_exits_zero_from_the_repo_root(cli_results, name):
    result = cli_results[name]
    assert result.returncode == 0, f"{name}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "DAGSTER_PG_PASSWORD is not set" not in result.stderr


def test_dg_list_defs_lists_the_assets_sensors_and_checks(cli_results):
    listed = json.loads(cli_results["dg list defs"].stdout)
    assert {a["asset_key"] for a in listed["assets"]} >= ASSETS
    assert "quality_automation_sensor" in {s["name"] for s in listed["sensors"]}
    checks = {c["key"] for c in listed["asset_checks"]}
    assert "detection_quality:v3_precision_above_floor" in checks


def test_check_and_validate_report_success(cli_results):
    assert "All definitions loaded successfully" in cli_results["dg check defs"].stdout
    validate = cli_results["dagster definitions validate"]
    assert (
        "Validation successful for code location streampulse" in validate.stdout + validate.stderr
    )
