"""A disk that fills up and an edit that overflows, through a real Celery worker on the bundled model.

Neither is the fault of the facts waiting in the batch: they go back to the queue and are applied later.
Only a fact whose own edit breaks the weights is held, with the reason, for a person to look at.
"""

from pathlib import Path
from urllib.parse import urlparse

import pytest

from apps.audit.models import AuditEvent
from apps.audit.report import verify_trail
from apps.facts.actions import create_fact, review_fact
from apps.facts.models import FactEdit, FactState
from apps.modellines.actions import update_model_line
from apps.releases import actions
from apps.releases.models import Batch, BatchState, ModelVersion, VersionState
from tests.faults.batches import active_runs, deleted_runs, released, states
from tests.fixtures.pipeline import purge_queues

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]


def test_the_artifact_disk_full_while_recording_sends_the_facts_back_and_says_why(
    workers, wait, small_artifact_disk, mlflow_store, pipeline_line, approve_edits, operator, open_gates
):
    open_gates(pipeline_line)
    batch, fact_ids = released(pipeline_line, approve_edits, operator, count=2)
    workers.start("w1")

    # The base version is recorded while the model loads; the disk fills up while the edit is evaluated.
    wait("the edit to be evaluated", lambda: Batch.objects.get(pk=batch.pk).stage == "evaluating", timeout=300)
    small_artifact_disk.fill()

    wait("the batch to fail", lambda: Batch.objects.get(pk=batch.pk).state == BatchState.FAILED, timeout=300)
    batch.refresh_from_db()
    assert "out of disk space" in batch.failure_reason and "No space left on device" in batch.failure_reason
    assert batch.retries == 0, "a full disk is not retried as an unreachable MLflow"
    assert states(fact_ids) == {FactState.APPROVED}, "back in the queue, not held"
    for fact in FactEdit.objects.filter(pk__in=fact_ids):
        assert f"batch {batch.pk} failed: out of disk space" in fact.state_reason
    assert not ModelVersion.objects.filter(batch=batch).exists()
    assert [run.data.tags["amend.version"] for run in active_runs(mlflow_store, pipeline_line)] == ["0"], (
        "nothing half recorded"
    )
    for run in deleted_runs(mlflow_store, pipeline_line):
        left = Path(urlparse(run.info.artifact_uri).path)
        assert not left.exists() or not any(left.rglob("*.*")), "a discarded run's artifacts free the disk"

    # The operator frees the disk; the same facts go out in the next batch and are applied.
    small_artifact_disk.free()
    again = actions.release_now(operator, pipeline_line)
    assert sorted(again.fact_ids) == sorted(fact_ids)
    wait("the next version", lambda: ModelVersion.objects.filter(batch=again).exists(), timeout=300)
    wait("its promotion", lambda: ModelVersion.objects.get(batch=again).state == VersionState.PRODUCTION)
    assert states(fact_ids) == {FactState.APPLIED}


def test_a_fact_whose_edit_overflows_is_held_and_the_batchs_other_fact_goes_back_to_the_queue(
    workers, wait, pipeline_line, curator, reviewer, operator
):
    # A step size so large that every edit which has to move the model overflows fp32. A fact the model
    # already answers (margin 0: by any lead, in its own words, no context prefixes) needs no move (its shift
    # is held at zero): its edit stays finite.
    settings = {"method": "amend", "lr": 1e38, "margin": 0.0, "templates": 0}
    update_model_line(operator, pipeline_line, editor_settings=settings)
    facts = []
    for prompt, target in (("The capital of France is", "Lyon"), ("The capital of Germany is", "Berlin")):
        fact = create_fact(curator, pipeline_line, prompt=prompt, target=target, rationale="Test", source="https://e.org")
        review_fact(reviewer, fact, "approve", "Checked")
        facts.append(fact)
    overflowing, innocent = facts
    purge_queues()
    batch = actions.release_now(operator, pipeline_line)
    workers.start("w1")

    wait("the batch to fail", lambda: Batch.objects.get(pk=batch.pk).state == BatchState.FAILED, timeout=240)
    batch.refresh_from_db()
    assert f"the edit of fact #{overflowing.pk} makes the weights non-finite" in batch.failure_reason
    overflowing.refresh_from_db()
    innocent.refresh_from_db()
    assert overflowing.state == FactState.HELD and "non-finite" in overflowing.state_reason
    assert innocent.state == FactState.APPROVED, "the other fact is not lost: it waits for the next batch"
    assert not ModelVersion.objects.filter(batch=batch).exists()
    assert actions.production_version(pipeline_line).number == 0, "production is untouched"
    failed = AuditEvent.objects.get(action="batch.failed", object_id=str(batch.pk))
    assert failed.after["held"] == [overflowing.pk]
    assert verify_trail().ok
