"""What goes wrong in production, with real worker processes: a worker killed mid-batch, MLflow down,
a batch that misses its gates, two workers racing for one lineage."""

import os
import subprocess
import sys
import time

import pytest

from apps.audit.models import AuditEvent
from apps.audit.report import verify_trail
from apps.facts.models import FactEdit, FactState
from apps.modellines.actions import update_model_line
from apps.releases import actions
from apps.releases.models import Batch, BatchState, ModelVersion, Promotion, VersionState

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]


def fact_states(facts) -> set[str]:
    return set(FactEdit.objects.filter(pk__in=[f.pk for f in facts]).values_list("state", flat=True))


# The fixture's broker settings: a dead worker's message is handed out again this long after its delivery.
VISIBILITY_TIMEOUT, REDELIVERY_SCAN = 6, 1


def test_a_worker_killed_while_evaluating_yields_exactly_one_version_and_loses_no_fact(
    workers, wait, mlflow_store, pipeline_line, approve_edits, operator, open_gates
):
    open_gates(pipeline_line)
    facts = approve_edits(pipeline_line, 0, 4)
    first = workers.start("doomed")
    batch = actions.release_now(operator, pipeline_line)

    # Kill the worker at a stage, not at a time: the edit is done, nothing is recorded yet.
    wait("the worker to evaluate the edit", lambda: Batch.objects.get(pk=batch.pk).stage == "evaluating")
    first.kill()
    killed_at = time.monotonic()
    assert not ModelVersion.objects.filter(batch=batch).exists()
    assert Batch.objects.get(pk=batch.pk).state == BatchState.PENDING
    assert fact_states(facts) == {FactState.QUEUED}

    # The broker hands the unacknowledged message to the next worker within the stated bound: the
    # visibility timeout (counted from the first delivery, already past) plus one scan of an idle worker.
    survivor = workers.start("survivor")
    ready_after = time.monotonic() - killed_at
    wait("the redelivery", lambda: Batch.objects.get(pk=batch.pk).deliveries == 2, timeout=60)
    redelivered_after = time.monotonic() - killed_at
    assert redelivered_after < ready_after + VISIBILITY_TIMEOUT + REDELIVERY_SCAN + 5, (ready_after, redelivered_after)

    wait("the version of the batch", lambda: ModelVersion.objects.filter(batch=batch).exists(), timeout=180)
    wait("its promotion", lambda: ModelVersion.objects.get(batch=batch).state == VersionState.PRODUCTION)
    version = ModelVersion.objects.get(batch=batch)
    assert ModelVersion.objects.filter(model_line=pipeline_line).count() == 2  # the base and this one
    assert sorted(version.fact_ids) == sorted(f.pk for f in facts), "the version holds exactly the batch's facts"
    assert fact_states(facts) == {FactState.APPLIED}
    assert "workers.gpu.apply_batch" in survivor.output()
    # MLflow holds exactly one run and one registered version for the batch (the dead worker's are gone).
    client = mlflow_store.client()
    registered = client.search_model_versions(f"name = 'amend-{pipeline_line.name}'")
    assert sorted(mv.tags.get("batch") for mv in registered) == sorted(["base", str(batch.pk)])
    experiment = client.get_experiment_by_name(f"amend/{pipeline_line.name}")
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.`amend.batch` = '{batch.pk}'")
    assert [run.info.run_id for run in runs] == [version.mlflow_run_id]
    # The audit trail tells the same story and still verifies: one recorded version, chain intact.
    report = verify_trail()
    assert report.ok, report.as_dict()
    recorded = AuditEvent.objects.filter(action="version.recorded", object_id=str(version.pk))
    assert recorded.count() == 1


def test_mlflow_unreachable_the_batch_waits_with_backoff_and_is_recorded_once_mlflow_is_back(
    workers, wait, mlflow_store, pipeline_line, approve_edits, operator, tmp_path, free_port, open_gates
):
    open_gates(pipeline_line)
    port = free_port
    facts = approve_edits(pipeline_line, 0, 4)
    # No retry limit here: the batch must simply wait for MLflow, however long the server takes to start.
    workers.start("w1", MLFLOW_TRACKING_URI=f"http://127.0.0.1:{port}", AMEND_MLFLOW_MAX_RETRIES="100000")
    batch = actions.release_now(operator, pipeline_line)

    wait("two retries", lambda: Batch.objects.get(pk=batch.pk).retries >= 2, timeout=180)
    assert Batch.objects.get(pk=batch.pk).state == BatchState.PENDING
    assert not ModelVersion.objects.filter(model_line=pipeline_line).exists()
    assert fact_states(facts) == {FactState.QUEUED}

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            mlflow_store.uri,
            "--artifacts-destination",
            str(tmp_path / "served-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=open(tmp_path / "mlflow-server.log", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    try:
        wait("the version, once MLflow is back", lambda: ModelVersion.objects.filter(batch=batch).exists(), timeout=240)
        version = ModelVersion.objects.get(batch=batch)
        assert fact_states(facts) <= {FactState.QUEUED, FactState.APPLIED}
        wait("its promotion", lambda: ModelVersion.objects.get(pk=version.pk).state == VersionState.PRODUCTION)
        registered = mlflow_store.client().get_model_version(
            f"amend-{pipeline_line.name}", version.mlflow_model_version
        )
        assert registered.tags["batch"] == str(batch.pk)
        assert Batch.objects.get(pk=batch.pk).retries >= 2
        assert fact_states(facts) == {FactState.APPLIED}
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_batch_that_misses_a_gate_is_held_with_reasons_and_production_stays(
    workers, wait, mlflow_store, pipeline_line, approve_edits, operator
):
    # A step size so small the edit changes (almost) nothing: efficacy stays far below the gate.
    update_model_line(operator, pipeline_line, editor_settings={"method": "ultraedit", "lr": 1e-12}, min_efficacy=0.9)
    facts = approve_edits(pipeline_line, 0, 4)
    workers.start("w1")
    batch = actions.release_now(operator, pipeline_line)

    wait("the version", lambda: ModelVersion.objects.filter(batch=batch).exists(), timeout=180)
    version = ModelVersion.objects.get(batch=batch)
    assert version.state == VersionState.HELD
    assert "efficacy" in version.state_reason and "below the minimum" in version.state_reason
    assert not version.gate_results["min_efficacy"]["passed"]
    for fact in FactEdit.objects.filter(pk__in=[f.pk for f in facts]):
        assert fact.state == FactState.HELD
        assert "efficacy" in fact.state_reason
        assert "efficacy" in fact.results and fact.results["version"] == version.number

    time.sleep(2)  # give a (wrong) promotion every chance to happen
    assert actions.production_version(pipeline_line).number == 0
    assert not Promotion.objects.filter(version=version).exists()
    model = mlflow_store.client().get_registered_model(f"amend-{pipeline_line.name}")
    assert str(model.aliases.get("production")) != version.mlflow_model_version


def test_two_workers_never_edit_one_lineage_at_once(
    workers, wait, mlflow_store, pipeline_line, approve_edits, open_gates
):
    # Gates every version meets, so the second batch must build on the first.
    open_gates(pipeline_line, batch_size=2)
    approve_edits(pipeline_line, 0, 4)
    a, b = workers.start("a", wait=False), workers.start("b", wait=False)
    workers.wait_ready(a)
    workers.wait_ready(b)
    batches = actions.cut_due_batches()  # the beat's task: two full batches
    assert len(batches) == 2

    wait(
        "both versions",
        lambda: ModelVersion.objects.filter(batch__in=batches).count() == 2,
        timeout=240,
    )
    v1, v2 = ModelVersion.objects.filter(batch__in=batches).order_by("number")
    # One after the other: the second was built from the first, never beside it.
    assert v2.parent_id == v1.pk
    assert v1.built_until <= v2.built_from
    assert "workers.gpu.apply_batch" in a.output() and "workers.gpu.apply_batch" in b.output()
