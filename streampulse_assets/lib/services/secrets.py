"""Private files of the state folder: generated passwords (0600), private folders (0700), and
URLs with their password masked for printing."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

MASK = "***"


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents, 0700), and make `path` itself 0700. Parents that
    already exist are never changed."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600 from the first byte (atomic replace)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def secret(path: Path) -> str:
    """The password stored in `path`, generated (URL-safe, 32 characters) on first use."""
    with contextlib.suppress(FileNotFoundError):
        value = path.read_text().strip()
        if value:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
            return value
    private_dir(path.parent)
    write_private(path, secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def mask_url(url: str | None) -> str:
    """`url` with its password replaced by ***, for anything printed or shown."""
    if not url:
        return url or ""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return MASK
    if not password:
        return url
    user, _, _ = parts.netloc.rpartition("@")[0].partition(":")
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def mask_text(text: str, *urls: str | None) -> str:
    """`text` (an error message, say) with the password of every URL in `urls` masked."""
    for url in urls:
        with contextlib.suppress(ValueError):
            password = urlsplit(url or "").password
            if password:
                text = text.replace(password, MASK)
    return text
