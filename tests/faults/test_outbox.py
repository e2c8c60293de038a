"""No stranded work: a task the web app sends survives a broker that is down, and operators see it waiting.

The broker here is real: Redis, and for "down" a port where nothing listens (the fault tests in this
folder stop a real Redis process instead).
"""

import threading
import time
from datetime import timedelta

import pytest
from celery import current_app
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.facts.models import FactEdit, FactState
from apps.outbox.models import OutboxMessage, OutboxState
from apps.outbox.send import publish_pending
from apps.releases import actions
from apps.releases.locks import lineage_lock
from apps.releases.models import Batch, BatchState
from apps.releases.progress import report_stage

# Measured on PostgreSQL + Redis (as deployed); on the embedded SQLite a dead Redis costs the request ~10 s (open).
pytestmark = pytest.mark.postgres_only("the deployed setup: PostgreSQL and Redis")


@pytest.fixture
def broker_down(free_port):
    """The app's broker URL points at a port where nothing listens, for the length of the test."""
    before = current_app.conf.broker_write_url
    point_broker_at(f"redis://127.0.0.1:{free_port}/0")
    yield
    point_broker_at(before)


def point_broker_at(url: str) -> None:
    current_app.conf.broker_url = current_app.conf.broker_write_url = url


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def approved_facts(make_fact, reviewer, model_line):
    from apps.facts.actions import review_fact

    facts = [make_fact() for _ in range(2)]
    for fact in facts:
        review_fact(reviewer, fact, "approve", "ok")
    return facts


def test_release_now_with_the_broker_down_answers_at_once_and_the_batch_waits_for_the_broker(
    transactional_db, broker_down, approved_facts, operator, api_client_for, model_line
):
    client = api_client_for(operator)
    started = time.monotonic()
    response = client.post("/api/batches/release-now/", {"model_line": model_line.pk}, format="json")
    assert response.status_code == 201, response.content
    assert time.monotonic() - started < 5, "the request does not hang on the broker"
    batch = Batch.objects.get(pk=response.json()["id"])
    assert batch.state == BatchState.PENDING
    assert set(FactEdit.objects.filter(pk__in=batch.fact_ids).values_list("state", flat=True)) == {FactState.QUEUED}

    shown = client.get(f"/api/batches/{batch.pk}/").json()["dispatch"]
    assert shown["waiting_for_broker"] is True and shown["attempts"] == 1
    assert "Connection refused" in shown["last_error"] or "111" in shown["last_error"]

    # Only the batch's message: the submissions' own probe messages wait in the outbox beside it.
    message = OutboxMessage.objects.get(subject=f"batch:{batch.pk}")
    assert publish_pending(only=[message.pk]) == 0, "still down: nothing sent, nothing lost"
    message.refresh_from_db()
    assert message.attempts == 2


def test_the_dispatcher_sends_it_once_the_broker_is_back(transactional_db, broker_down, approved_facts, operator,
                                                         model_line, settings):
    batch = actions.release_now(operator, model_line)
    message = OutboxMessage.objects.get(subject=f"batch:{batch.pk}")
    assert message.state == OutboxState.PENDING
    point_broker_at(settings.CELERY_BROKER_URL)  # the broker comes back
    with current_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("gpu")
    # Only the batch's message: the submissions' own probe messages wait in the outbox beside it.
    assert publish_pending(only=[message.pk]) == 1
    message.refresh_from_db()
    assert message.state == OutboxState.SENT and message.sent_at is not None
    assert publish_pending(only=[message.pk]) == 0, "sent once"
    with current_app.connection_for_write() as conn:
        assert conn.default_channel.queue_purge("gpu") == 1, "exactly one message reached the broker"


def test_an_operator_cancels_a_batch_waiting_for_the_broker_and_its_facts_are_approved_again(
    transactional_db, broker_down, approved_facts, operator, api_client_for, model_line, curator
):
    batch = actions.release_now(operator, model_line)
    client = api_client_for(operator)
    assert client.post(f"/api/batches/{batch.pk}/cancel/", {}, format="json").status_code == 400, "say why"
    assert api_client_for(curator).post(f"/api/batches/{batch.pk}/cancel/", {"reason": "x"}).status_code == 403
    response = client.post(f"/api/batches/{batch.pk}/cancel/", {"reason": "broker migration"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == BatchState.FAILED
    assert "cancelled by otto: broker migration" in response.json()["failure_reason"]
    assert set(FactEdit.objects.filter(pk__in=batch.fact_ids).values_list("state", flat=True)) == {FactState.APPROVED}
    assert OutboxMessage.objects.get(subject=f"batch:{batch.pk}").state == OutboxState.CANCELLED
    assert AuditEvent.objects.filter(action="batch.cancelled", actor_name="otto").exists()
    assert client.post(f"/api/batches/{batch.pk}/resend/").status_code == 409, "nothing left to send"


def test_an_operator_resends_a_batch_and_a_started_one_is_refused(
    transactional_db, broker_down, approved_facts, operator, api_client_for, model_line
):
    batch = actions.release_now(operator, model_line)
    client = api_client_for(operator)
    response = client.post(f"/api/batches/{batch.pk}/resend/")
    assert response.status_code == 200 and response.json()["dispatch"]["sends"] == 1, "the waiting one replaced"
    assert AuditEvent.objects.filter(action="batch.resent", actor_name="otto").exists()
    actions.count_delivery(batch.pk)  # a worker starts it
    assert client.post(f"/api/batches/{batch.pk}/resend/").status_code == 409
    assert client.post(f"/api/batches/{batch.pk}/cancel/", {"reason": "x"}, format="json").status_code == 409


def assert_swept_out(batch: Batch, why: str) -> None:
    """The sweeper's last word on a batch: failed with `why`, its facts approved again; its copies dropped."""
    assert actions.sweep_stranded_batches() == {batch.pk: "failed"}
    batch.refresh_from_db()
    assert batch.state == BatchState.FAILED and why in batch.failure_reason
    assert set(FactEdit.objects.filter(pk__in=batch.fact_ids).values_list("state", flat=True)) == {FactState.APPROVED}
    with current_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("gpu")


def test_the_sweeper_resends_a_batch_no_worker_took_and_at_last_fails_it(
    transactional_db, approved_facts, operator, model_line, settings
):
    settings.AMEND_BATCH_PICKUP_SECONDS = 60
    settings.AMEND_BATCH_MAX_RESENDS = 1
    batch = actions.release_now(operator, model_line)  # the broker took it... and lost it (no worker ever starts)
    assert OutboxMessage.objects.get(subject=f"batch:{batch.pk}").state == OutboxState.SENT
    assert actions.sweep_stranded_batches() == {}, "within the bound: left alone"

    def an_hour_later() -> None:
        earlier = timezone.now() - timedelta(hours=1)
        Batch.objects.filter(pk=batch.pk).update(created_at=earlier)
        OutboxMessage.objects.filter(subject=f"batch:{batch.pk}").update(sent_at=earlier)

    an_hour_later()
    assert actions.sweep_stranded_batches() == {batch.pk: "resent"}
    assert OutboxMessage.objects.filter(subject=f"batch:{batch.pk}", state=OutboxState.SENT).count() == 2
    an_hour_later()
    assert_swept_out(batch, "no worker took this batch in 2 sends")


def test_the_sweeper_resends_a_started_batch_whose_worker_is_gone_never_one_whose_worker_is_alive(
    transactional_db, approved_facts, operator, model_line, settings
):
    settings.AMEND_BATCH_STALL_SECONDS = 600
    settings.AMEND_BATCH_MAX_RESENDS = 1
    batch = actions.release_now(operator, model_line)
    actions.count_delivery(batch.pk)  # a worker starts it...
    report_stage(batch.pk, "editing")
    assert actions.sweep_stranded_batches() == {}, "within the bound: left alone"

    def an_hour_of_silence() -> None:
        earlier = timezone.now() - timedelta(hours=1)
        Batch.objects.filter(pk=batch.pk).update(created_at=earlier, stage_at=earlier)
        OutboxMessage.objects.filter(subject=f"batch:{batch.pk}").update(sent_at=earlier)

    an_hour_of_silence()
    # ...and is still on it (one long edit): it holds the lineage from its own database session.
    held, release = threading.Event(), threading.Event()

    def live_worker() -> None:
        with lineage_lock(model_line.pk):
            held.set()
            release.wait(30)
        connection.close()

    worker = threading.Thread(target=live_worker)
    worker.start()
    try:
        assert held.wait(10)
        assert actions.sweep_stranded_batches() == {}, "a live worker's batch is never taken from it"
    finally:
        release.set()
        worker.join()

    # The worker gave up (the database stayed away past its retries) and let go of the lineage.
    assert actions.sweep_stranded_batches() == {batch.pk: "resent"}
    assert AuditEvent.objects.filter(action="batch.resent", after__why="abandoned").exists()
    an_hour_of_silence()
    assert_swept_out(batch, "its worker stopped answering in 2 sends")
