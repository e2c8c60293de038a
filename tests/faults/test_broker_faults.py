"""The broker goes away, with real processes: a real Redis stopped and started, a real Celery worker.

Beat's dispatcher is played by the test calling `publish_pending()` as it polls, which is exactly the
function beat runs every AMEND_OUTBOX_POLL_SECONDS.
"""

import pytest

from apps.facts.models import FactEdit, FactState
from apps.outbox.models import OutboxMessage, OutboxState
from apps.outbox.send import publish_pending
from apps.releases import actions
from apps.releases.models import Batch, BatchState, ModelVersion, VersionState

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]


def runs_of(mlflow_store, line, batch) -> int:
    client = mlflow_store.client()
    experiment = client.get_experiment_by_name(f"amend/{line.name}")
    return len(client.search_runs([experiment.experiment_id], filter_string=f"tags.`amend.batch` = '{batch.pk}'"))


def applied_and_promoted(batch: Batch) -> bool:
    publish_pending()  # beat's dispatcher
    version = ModelVersion.objects.filter(batch=batch).first()
    return version is not None and version.state == VersionState.PRODUCTION


def test_broker_down_at_release_then_back_the_batch_is_applied_exactly_once(
    workers, wait, private_redis, mlflow_store, pipeline_line, approve_edits, operator, open_gates
):
    open_gates(pipeline_line)
    facts = approve_edits(pipeline_line, 0, 4)
    workers.start("w1", CELERY_BROKER_URL=private_redis.url)

    private_redis.stop()  # Redis dies while the worker is idle
    try:
        batch = actions.release_now(operator, pipeline_line)
        message = OutboxMessage.objects.get(subject=f"batch:{batch.pk}")
        assert message.state == OutboxState.PENDING and message.last_error, "waiting for the broker, with why"
        assert Batch.objects.get(pk=batch.pk).state == BatchState.PENDING
    finally:
        private_redis.start()

    wait("the batch applied and promoted", lambda: applied_and_promoted(batch), timeout=240)
    assert ModelVersion.objects.filter(batch=batch).count() == 1
    assert runs_of(mlflow_store, pipeline_line, batch) == 1
    assert set(FactEdit.objects.filter(pk__in=[f.pk for f in facts]).values_list("state", flat=True)) == {
        FactState.APPLIED
    }
    assert OutboxMessage.objects.get(subject=f"batch:{batch.pk}").state == OutboxState.SENT


def test_redis_restarted_while_the_worker_is_busy_the_batch_still_ends_with_one_version(
    workers, wait, private_redis, mlflow_store, pipeline_line, approve_edits, operator, open_gates
):
    open_gates(pipeline_line)
    approve_edits(pipeline_line, 0, 4)
    workers.start("w1", CELERY_BROKER_URL=private_redis.url)
    batch = actions.release_now(operator, pipeline_line)
    wait("the worker to start the batch", lambda: Batch.objects.get(pk=batch.pk).deliveries >= 1)
    private_redis.stop()  # mid-batch: the queue and the unacknowledged message are gone with it
    try:
        wait("the worker to finish without its broker",
             lambda: ModelVersion.objects.filter(batch=batch).exists(), timeout=180)
    finally:
        private_redis.start()
    # Its promotion task could not be published while Redis was down: the outbox still has it.
    wait("the version promoted once Redis is back", lambda: applied_and_promoted(batch), timeout=120)
    assert ModelVersion.objects.filter(batch=batch).count() == 1
    assert runs_of(mlflow_store, pipeline_line, batch) == 1
