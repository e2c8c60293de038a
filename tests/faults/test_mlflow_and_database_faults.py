"""MLflow hanging, refusing or failing half-way, and PostgreSQL restarted mid-batch, with real processes:
a real Celery worker editing the bundled model, a real MLflow store, sockets that misbehave for real.

Each ends the way an operator can act on: the batch applied with exactly one version and one MLflow run,
or failed with the reason and its facts back in the queue; never pending forever, never half recorded.
"""

import time

import pytest

from apps.facts.models import FactState
from apps.releases.models import Batch, BatchState, ModelVersion
from tests.faults.batches import active_runs, released, states

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]

# A worker that gives up on MLflow quickly: 2 s per request, 2 tries per call, 1 retry of the task.
IMPATIENT = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "2", "AMEND_MLFLOW_ATTEMPTS": "2", "AMEND_MLFLOW_MAX_RETRIES": "1"}


def test_mlflow_that_never_answers_fails_the_batch_within_bounds_and_hands_the_facts_back(
    workers, wait, hanging_mlflow, pipeline_line, approve_edits, operator
):
    batch, fact_ids = released(pipeline_line, approve_edits, operator)
    workers.start("w1", MLFLOW_TRACKING_URI=hanging_mlflow.url, **IMPATIENT)

    wait("the batch to fail", lambda: Batch.objects.get(pk=batch.pk).state == BatchState.FAILED, timeout=120)
    failed_at = time.monotonic()
    batch.refresh_from_db()
    assert "MLflow unreachable after 1 retries" in batch.failure_reason
    assert states(fact_ids) == {FactState.APPROVED}, "the facts wait for the next batch, not held"
    assert not ModelVersion.objects.filter(model_line=pipeline_line).exists()
    # Two deliveries of two tries of 2 s each: what a hanging MLflow costs is bounded, however long the edit
    # before the first try took on this machine.
    tries = hanging_mlflow.connected_at
    assert len(tries) == 4, tries
    assert failed_at - tries[0] < 30


def test_mlflow_refusing_with_a_4xx_is_not_retried_as_unreachable(
    workers, wait, refusing_mlflow, pipeline_line, approve_edits, operator
):
    batch, fact_ids = released(pipeline_line, approve_edits, operator)
    workers.start("w1", MLFLOW_TRACKING_URI=refusing_mlflow.url, **IMPATIENT)

    wait("the batch to fail", lambda: Batch.objects.get(pk=batch.pk).state == BatchState.FAILED, timeout=90)
    batch.refresh_from_db()
    assert "MLflow refused" in batch.failure_reason and "HTTP 403" in batch.failure_reason
    assert "PERMISSION_DENIED" in batch.failure_reason
    assert batch.retries == 0 and len(refusing_mlflow.requests) == 1, "asked once, believed at once"
    assert states(fact_ids) == {FactState.APPROVED}


def test_mlflow_answering_507_insufficient_storage_fails_the_batch_at_once_saying_so(
    workers, wait, storage_full_mlflow, pipeline_line, approve_edits, operator
):
    batch, fact_ids = released(pipeline_line, approve_edits, operator)
    workers.start("w1", MLFLOW_TRACKING_URI=storage_full_mlflow.url, **IMPATIENT)

    wait("the batch to fail", lambda: Batch.objects.get(pk=batch.pk).state == BatchState.FAILED, timeout=180)
    batch.refresh_from_db()
    assert "out of disk space" in batch.failure_reason and "Insufficient Storage" in batch.failure_reason
    assert batch.retries == 0 and len(storage_full_mlflow.requests) == 1, "not retried as an outage"
    assert states(fact_ids) == {FactState.APPROVED}, "back in the queue"


@pytest.mark.postgres_only("a restart of the PostgreSQL server, through a TCP proxy to it")
def test_mlflow_failing_after_the_run_was_created_then_postgresql_restarted_mid_batch(
    workers, wait, database_proxy, mlflow_store, pipeline_line, approve_edits, operator, open_gates, stage_hold
):
    """One unlucky night: MLflow's artifact disk fails after each run is created, then PostgreSQL restarts
    while the worker records the batch's version. The batch ends with one version, one finished run per
    version and no half-recorded run, and the edit is computed once (one story, so the real edit runs once).
    Each fault strikes at a stage, not a time: the worker is held at the stage until the test has struck."""
    open_gates(pipeline_line)
    # The line's artifact directory is a file: every run is created, then its artifacts cannot be written.
    mlflow_store.artifacts.mkdir(parents=True, exist_ok=True)
    blocker = mlflow_store.artifacts / pipeline_line.name
    blocker.write_text("not a directory")
    batch, fact_ids = released(pipeline_line, approve_edits, operator)
    stage_hold.arm("loading")
    stage_hold.arm("recording")
    workers.start("w1", DATABASE_URL=database_proxy.database_url(), AMEND_MLFLOW_MAX_RETRIES="5", **stage_hold.env)

    # The worker loads the model and records the line's base version in MLflow, whose disk fails: it retries.
    wait("the first delivery held at loading", lambda: stage_hold.held("loading"), timeout=300)
    stage_hold.let_one_through("loading")
    wait(
        "the retry held at loading",
        lambda: Batch.objects.get(pk=batch.pk).retries >= 1 and stage_hold.held("loading"),
        timeout=300,
    )
    assert active_runs(mlflow_store, pipeline_line) == [], "the failed tries' runs were discarded"
    blocker.unlink()  # the disk is writable again
    stage_hold.release("loading")

    # PostgreSQL restarts while the worker records the edit it has computed: every connection of the worker
    # dies, new ones are refused meanwhile. Only the recording has to be done again.
    wait("the edit computed, the worker at the start of recording", lambda: stage_hold.held("recording"), timeout=300)
    database_proxy.restart(down_seconds=3)
    stage_hold.release("recording")

    wait("the version recorded", lambda: ModelVersion.objects.filter(batch=batch).exists(), timeout=300)
    batch.refresh_from_db()
    assert batch.state != BatchState.FAILED, batch.failure_reason
    assert ModelVersion.objects.filter(batch=batch).count() == 1
    runs = active_runs(mlflow_store, pipeline_line)
    assert sorted(run.data.tags["amend.version"] for run in runs) == ["0", "1"], "one run per version"
    assert {run.info.status for run in runs} == {"FINISHED"}
    assert "database connection lost" in workers.started[0].output()
    # Only the recording failed: the retry recorded the edit computed before the restart, never edited again.
    assert "reusing the edit staged by an earlier delivery" in workers.started[0].output()
    assert ModelVersion.objects.get(batch=batch).stage_seconds["edit"] == 0
    wait("the facts decided", lambda: states(fact_ids) <= {FactState.APPLIED, FactState.HELD}, timeout=30)
