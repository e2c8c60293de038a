"""Without DATABASE_URL the suite runs on SQLite the way `make run` does (issue 17, item 13): the test
database is a file in WAL mode that the pipeline tests' worker processes open by its URL."""

from pathlib import Path

import pytest
from django.db import connection

from tests.fixtures.pipeline import database_url


def test_on_sqlite_the_test_database_is_a_wal_file_the_workers_open(db):
    if connection.vendor != "sqlite":
        pytest.skip("this run is on DATABASE_URL's database; the SQLite mode is make test's default")
    name = connection.settings_dict["NAME"]
    assert Path(name).is_file()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
    assert database_url() == f"sqlite:///{name}"
