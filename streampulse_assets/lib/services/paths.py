"""Where StreamPulse keeps local state: a git-ignored `.streampulse/` folder at the repo root."""

from __future__ import annotations

import socket
from pathlib import Path

from streampulse_assets.lib.services.secrets import private_dir

REPO_ROOT = Path(__file__).resolve().parents[3]


def state_dir() -> Path:
    """`STREAMPULSE_HOME` or `<repo>/.streampulse`, created on first use (absolute, 0700: no
    other local user may list or read what it holds; its parents are left as they are)."""
    from streampulse_assets.lib.settings import StoresSettings  # the settings import this module

    root = Path(StoresSettings.read().home or REPO_ROOT / ".streampulse").resolve()
    return private_dir(root)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float, host: str = "127.0.0.1") -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.1)
    return False
