"""Small DuckDB helpers shared by every warehouse writer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def registered(con, name: str, rows) -> Iterator[None]:
    """`rows` (a pandas frame or Arrow table) visible to SQL as `name` for the block."""
    con.register(name, rows)
    try:
        yield
    finally:
        con.unregister(name)


@contextmanager
def transaction(con) -> Iterator[None]:
    """One explicit transaction: committed when the block ends, rolled back if it raises."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
