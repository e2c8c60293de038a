"""The database: PostgreSQL in production (DATABASE_URL), a SQLite file under var/ when nothing is set."""

import os

import dj_database_url

from amend.settings.environment import VAR_DIR

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'amend.sqlite3'}"),
        conn_max_age=int(os.environ.get("AMEND_DB_CONN_MAX_AGE", "60")),
        # A kept connection is pinged before a request's first query: after a PostgreSQL restart (or a failover)
        # the dead one is replaced instead of failing the request with a 500 (issue 16).
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The worker and the web app write to the same file: wait for the lock instead of failing.
    # IMMEDIATE: a writer takes the lock at BEGIN, so read-then-write (the audit chain's tail) is safe.
    # WAL: readers (pages, the test process) never wait for the writer, nor it for them.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=30, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL"
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
