"""The package lib/analysis/queue/ is the only code with SQL on the Postgres `analysis_queue`."""

import re

from streampulse_assets.lib.services.paths import REPO_ROOT

SQL_ON_QUEUE = re.compile(r"\b(FROM|INTO|UPDATE|JOIN|TABLE|USING)\s+analysis_queue\b", re.I)
OWNER = REPO_ROOT / "streampulse_assets" / "lib" / "analysis" / "queue"


def sql_on_queue(path) -> list[str]:
    text = path.read_text()
    return [
        f"{path.relative_to(REPO_ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
        for m in SQL_ON_QUEUE.finditer(text)
    ]


def test_only_the_queue_package_has_sql_on_analysis_queue():
    offenders = [
        hit
        for root in ("streampulse_assets", "bench")
        for path in sorted((REPO_ROOT / root).rglob("*.py"))
        if OWNER not in path.parents
        for hit in sql_on_queue(path)
    ]
    assert offenders == [], "call lib/analysis/queue instead of writing SQL on analysis_queue"


def test_the_scan_finds_the_queue_packages_own_sql():
    owned = {
        hit.split(":")[0].rsplit("/", 1)[1] for p in OWNER.glob("*.py") for hit in sql_on_queue(p)
    }
    assert {"lease.py", "enqueue.py", "backlog.py", "alerts.py", "retention.py"} <= owned
    assert not (OWNER.parent / "queue.py").exists(), "the queue is a package, not queue.py"
