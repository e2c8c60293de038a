"""Issue 16: Redis killed while people work. One Redis is the broker, the result backend and the cache (as in
docker/); it dies, and release-now, a fact's submission and sign-in still answer (no 500, within the broker's
connect timeout), the user is told the task is queued, and once Redis is back everything is delivered.
"""

import socket
import time
from collections.abc import Iterator

import pytest
from celery import current_app
from django.db import transaction
from django.test import Client

from apps.facts.models import FactEdit
from apps.outbox import tasks
from apps.outbox.models import OutboxMessage, OutboxState
from apps.outbox.send import enqueue, publish_pending
from apps.releases.models import Batch, ModelVersion, VersionState
from tests.conftest import PASSWORD
from tests.faults.conftest import point_broker_at


def _use_result_backend(url: str) -> None:
    current_app.conf.result_backend = url
    current_app._backend_cache = None  # Celery builds its backend once: drop it so the next use reads the url
    current_app._local.__dict__.pop("backend", None)


@pytest.fixture
def redis_for_everything(private_redis, settings) -> Iterator[object]:
    """The private Redis as broker (private_redis did that), result backend and cache of this process."""
    before = current_app.conf.result_backend
    _use_result_backend(private_redis.url.replace("/0", "/1"))
    settings.CACHES = {
        "default": {
            "BACKEND": "amend.cache.FallbackRedisCache",
            "LOCATION": private_redis.url.replace("/0", "/2"),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    try:
        yield private_redis
    finally:
        _use_result_backend(before)


def _timed(call) -> tuple[object, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.pipeline
@pytest.mark.slow
def test_redis_killed_writes_answer_queued_and_everything_is_delivered_once_it_is_back(
    workers, wait, redis_for_everything, pipeline_line, approve_edits, operator, curator, open_gates, api_client_for,
    settings,
):
    open_gates(pipeline_line)
    approve_edits(pipeline_line, 0, 4)
    workers.start("w1", CELERY_BROKER_URL=redis_for_everything.url)
    redis_for_everything.stop()
    try:
        released, seconds = _timed(lambda: api_client_for(operator).post(
            "/api/batches/release-now/", {"model_line": pipeline_line.pk}, format="json"))
        assert released.status_code == 201, released.content
        assert seconds < settings.CELERY_BROKER_CONNECTION_TIMEOUT + 1, f"release-now took {seconds:.1f} s"
        dispatch = released.json()["dispatch"]
        assert dispatch["waiting_for_broker"] and dispatch["note"].startswith("queued, the broker is unreachable")

        submitted, seconds = _timed(lambda: api_client_for(curator).post("/api/facts/", {
            "model_line": pipeline_line.pk, "prompt": "Which city hosts the Quuxville fair?", "target": "Lyon",
            "rationale": "The fair moved", "source": "https://example.org/fair"}, format="json"))
        assert submitted.status_code == 201, submitted.content
        assert seconds < settings.CELERY_BROKER_CONNECTION_TIMEOUT + 1, f"submission took {seconds:.1f} s"

        signed_in = api_client_for().post("/api/auth/token/", {"username": curator.username, "password": PASSWORD})
        assert signed_in.status_code == 200, "the sign-in throttle counts in memory meanwhile"
        page = Client().post("/accounts/login/", {"username": operator.username, "password": PASSWORD})
        assert page.status_code == 302
    finally:
        redis_for_everything.start()

    batch = Batch.objects.get(pk=released.json()["id"])
    assert OutboxMessage.objects.filter(state=OutboxState.PENDING).count() >= 2, "both tasks kept in the outbox"

    def promoted() -> bool:
        publish_pending()  # beat's dispatcher
        version = ModelVersion.objects.filter(batch=batch).first()
        return version is not None and version.state == VersionState.PRODUCTION

    wait("the batch applied and promoted once Redis is back", promoted, timeout=240)
    assert ModelVersion.objects.filter(batch=batch).count() == 1
    assert FactEdit.objects.filter(pk=submitted.json()["id"]).exists()
    assert not OutboxMessage.objects.filter(state=OutboxState.PENDING).exists(), "nothing left behind"


@pytest.fixture
def silent_broker() -> Iterator[None]:
    """A Redis address that accepts connections and never answers (the kernel completes them; nobody reads)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    before = current_app.conf.broker_write_url
    point_broker_at(f"redis://127.0.0.1:{server.getsockname()[1]}/0")
    try:
        yield
    finally:
        point_broker_at(before)
        server.close()


def test_a_broker_that_never_answers_holds_a_decision_no_longer_than_its_timeout(transactional_db, silent_broker,
                                                                                 settings):
    started = time.monotonic()
    with transaction.atomic():
        message = enqueue(tasks.CHECKPOINT_AUDIT)
    seconds = time.monotonic() - started
    assert seconds < 2 * settings.CELERY_BROKER_CONNECTION_TIMEOUT + 1, f"the commit took {seconds:.1f} s"
    message.refresh_from_db()
    assert message.state == OutboxState.PENDING and message.last_error, "kept for the dispatcher, with why"
