"""The unprivileged account an embedded PostgreSQL runs as when StreamPulse runs as root.

PostgreSQL refuses to run as root. Rather than opening the state folder's parents to another
user (o+x on every parent), the server's own files (data, socket, log) live in a folder that
account owns: `/var/lib/streampulse-postgres/<instance id>/` (0700). The state folder keeps the
password, a `pgpass` file, the instance id and a `data` symlink to the data folder. The server
process runs with the account's own group and no supplementary groups (never gid 0).
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from streampulse_assets.lib.services.secrets import private_dir, write_private
from streampulse_assets.lib.settings import StoresSettings

SYSTEM_USER = "embedded_postgres"
SYSTEM_HOME = Path(StoresSettings.read().pg_system_home)


@dataclass(frozen=True)
class Account:
    uid: int
    gid: int

    def run_kwargs(self) -> dict:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, *paths: Path) -> None:
        for path in paths:
            os.chown(path, self.uid, self.gid, follow_symlinks=False)


def system_account() -> Account:
    """The `embedded_postgres` user and group, created (system, no login) when missing."""
    if not _exists(grp.getgrnam):
        subprocess.run(["groupadd", "--system", SYSTEM_USER], capture_output=True, check=False)
    if not _exists(pwd.getpwnam):
        subprocess.run(
            ["useradd", "--system", "--gid", SYSTEM_USER, "--no-create-home",
             "--home-dir", str(SYSTEM_HOME), "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            capture_output=True, check=False,
        )  # fmt: skip
    gid = grp.getgrnam(SYSTEM_USER).gr_gid  # KeyError here: neither we nor a racer created it
    uid = pwd.getpwnam(SYSTEM_USER).pw_uid
    if uid == 0 or gid == 0:
        raise RuntimeError(f"the {SYSTEM_USER} account must not be root (uid {uid}, gid {gid})")
    return Account(uid, gid)


def _exists(lookup) -> bool:
    try:
        lookup(SYSTEM_USER)
    except KeyError:
        return False
    return True


def server_dir_for(root: Path, account: Account) -> Path:
    """The account-owned folder (0700) of the server whose state folder is `root`."""
    id_file = root / "instance"
    if not id_file.exists():
        write_private(id_file, secrets.token_hex(8) + "\n")
    instance = id_file.read_text().strip()
    home = private_dir(SYSTEM_HOME)
    account.own(home)
    _collect_orphans(home, keep=instance)
    server = private_dir(home / instance)
    account.own(server)
    write_private(server / "owner", f"{root}\n")
    account.own(server / "owner")
    return server


def _collect_orphans(home: Path, keep: str) -> None:
    """Remove servers whose state folder was a temporary one (tests, scratch) and is gone."""
    scratch = Path(tempfile.gettempdir()).resolve()
    for server in home.iterdir():
        if server.name == keep or not (server / "owner").exists():
            continue
        owner = Path(server.joinpath("owner").read_text().strip())
        if not owner.is_relative_to(scratch):
            continue  # never collected: a real state folder may only have moved
        with contextlib.suppress(OSError):
            if (owner / "instance").read_text().strip() == server.name:
                continue
        if _postmaster_alive(server / "data"):
            continue
        shutil.rmtree(server, ignore_errors=True)


def _postmaster_alive(data: Path) -> bool:
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True
