"""One lineage is edited by one worker at a time, whatever the number of workers and machines.

PostgreSQL: a session-level advisory lock keyed on the model line, held for the whole apply. It
lives on the worker's own connection, so a worker that dies (SIGKILL included) releases it when
its connection drops. SQLite (`make run`, one machine): an exclusive file lock, released by the
kernel when the process dies. Neither holds a transaction open during the edit, so the web app
keeps writing while a batch is applied. `lineage_busy` asks, without waiting, whether a worker holds it
(the sweeper leaves a started batch alone while its worker is alive).
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection

# The high half of the two-key advisory lock: a namespace so other advisory locks never collide.
_LINEAGE_NAMESPACE = 4_201


def _lock_file(model_line_id: int):
    lock_dir = settings.VAR_DIR / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    return open(lock_dir / f"lineage-{model_line_id}.lock", "w")


@contextmanager
def lineage_lock(model_line_id: int) -> Iterator[None]:
    """Block until this process holds the lineage of the model line; release on exit."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_LINEAGE_NAMESPACE, model_line_id])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LINEAGE_NAMESPACE, model_line_id])
        return
    with _lock_file(model_line_id) as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lineage_busy(model_line_id: int) -> bool:
    """Whether some process holds the lineage of the model line right now (never waits)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LINEAGE_NAMESPACE, model_line_id])
            (taken,) = cursor.fetchone()
            if taken:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LINEAGE_NAMESPACE, model_line_id])
        return not taken
    with _lock_file(model_line_id) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False
