"""Issue 16: a PostgreSQL restart costs no request; a crashed worker's batch comes back in minutes by default,
and a batch that outlives the visibility timeout is still applied with one delivery.

The web app runs as it does in docker/: gunicorn, one worker process keeping its database connection, here
through tests/faults/tcp_proxy.py so that "restarting PostgreSQL" drops that connection without touching
the shared server.
"""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from apps.releases import actions
from apps.releases.models import Batch, BatchState, ModelVersion
from tests.accounts.test_production_settings import start
from tests.conftest import token_for
from tests.faults.conftest import free_port, wait_listening

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gunicorn_through_the_proxy(transactional_db, database_proxy, tmp_path):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_proxy.database_url(), "AMEND_DEBUG": "1",
           "AMEND_DB_CONN_MAX_AGE": "600", "AMEND_VAR_DIR": str(tmp_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "amend.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "gunicorn.log").open("w"),
    )
    try:
        wait_listening(port, "gunicorn")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.kill()
        server.wait(timeout=10)


def _status(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.postgres_only("a restart of the PostgreSQL server, through a TCP proxy to it")
def test_the_first_request_after_a_postgresql_restart_answers_200(gunicorn_through_the_proxy, database_proxy,
                                                                   curator):
    token = token_for(curator)
    me = f"{gunicorn_through_the_proxy}/api/me/"
    assert _status(me, token) == 200  # the worker now keeps a connection open (CONN_MAX_AGE)
    database_proxy.restart(down_seconds=1)  # every connection through it dropped, as a restart does
    assert _status(me, token) == 200, "the kept connection is checked and replaced, not used dead"


def test_a_crashed_workers_batch_comes_back_within_minutes_by_default(tmp_path):
    probe = ("import django; django.setup(); from django.conf import settings as s; "
             "o = s.CELERY_BROKER_TRANSPORT_OPTIONS; print(o['visibility_timeout'] + o['unacked_restore_interval'])")
    started = start(tmp_path, probe, AMEND_DEBUG="1", CELERY_BROKER_URL="redis://127.0.0.1:6379/9")
    assert started.returncode == 0, started.stderr
    assert float(started.stdout) <= 6 * 60, "redelivery bound (visibility timeout + scan) in minutes"


@pytest.mark.pipeline
@pytest.mark.slow
def test_a_batch_longer_than_the_visibility_timeout_is_applied_with_one_delivery(
    workers, wait, pipeline_line, approve_edits, operator, open_gates
):
    """Two idle-able workers, a 6 s visibility timeout and a batch that takes far longer: the broker hands the
    batch to the second worker while the first applies it. That copy must wait, not count a delivery (three
    would fail a batch that is running fine)."""
    open_gates(pipeline_line)
    approve_edits(pipeline_line, 0, 4)
    for name in ("w1", "w2"):
        workers.start(name, AMEND_BUSY_LINEAGE_RECHECK_SECONDS="2")
    batch = actions.release_now(operator, pipeline_line)
    wait("the batch applied", lambda: ModelVersion.objects.filter(batch=batch).exists(), timeout=400)
    batch = Batch.objects.get(pk=batch.pk)
    seconds = (batch.finished_at - batch.created_at).total_seconds()
    assert seconds > 3 * 7, f"the batch took {seconds:.0f} s: long enough to be handed out again meanwhile"
    assert batch.state == BatchState.APPLIED and batch.deliveries == 1
    assert ModelVersion.objects.filter(batch=batch).count() == 1
