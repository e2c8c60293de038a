"""Versions rebuilt after a worker restart, from snapshots and deltas stored in a real MLflow store, are
exactly the recorded ones; a changed snapshot is refused; the production alias loads as a standard
MLflow model that answers like the worker. The pipeline runs in this process (no Celery needed)."""

import shutil

import pytest

from apps.releases import actions
from apps.releases.models import BatchTrigger, ModelVersion, VersionState
from mlops import tracking
from workers import lineage, pipeline

pytestmark = [pytest.mark.slow]


def release(line, approve_edits, start: int, settings, snapshot_rank: int) -> ModelVersion:
    """Approve two facts, apply them as one batch, promote the version (the gates are open)."""
    settings.AMEND_SNAPSHOT_RANK = snapshot_rank
    approve_edits(line, start, 2)
    batch = actions.cut_batch(None, line, trigger=BatchTrigger.SIZE)
    version = pipeline.apply_batch(batch.pk)
    assert actions.promote(None, version, automatic=True) is not None
    version.refresh_from_db()
    return version


def restart_worker(settings, tmp_path, name: str) -> None:
    """What a new worker process starts with: no model, no deltas in memory, an empty cache."""
    lineage._LINES.clear()
    lineage._DELTAS.clear()
    settings.AMEND_WORKER_CACHE_DIR = tmp_path / name


def answers(line, version, prompts: list[str]) -> list[str]:
    from editor import greedy_answers

    model = lineage.line_model(line)
    lineage.hold_version(model, version)
    return greedy_answers(model.loaded, prompts, max_new_tokens=16)


def test_versions_rebuild_exactly_after_restart_and_the_production_alias_is_a_real_model(
    db, settings, tmp_path, mlflow_store, pipeline_line, open_gates, approve_edits, operator, edits
):
    import mlflow

    line = open_gates(pipeline_line, batch_size=2)
    settings.AMEND_WORKER_CACHE_DIR = tmp_path / "worker-1"
    v1 = release(line, approve_edits, 0, settings, snapshot_rank=10**9)
    v2 = release(line, approve_edits, 2, settings, snapshot_rank=1)  # a snapshot of the whole chain here
    v3 = release(line, approve_edits, 4, settings, snapshot_rank=10**9)
    assert (bool(v1.snapshot_path), bool(v2.snapshot_path), bool(v3.snapshot_path)) == (False, True, False)
    assert len(v3.delta_chain) == 3 and v3.state == VersionState.PRODUCTION
    # No full checkpoint per version: deltas (and the one snapshot), far below the checkpoint's size.
    assert 0 < v1.delta_bytes < v2.delta_bytes < v1.checkpoint_bytes // 2
    assert not v3.checkpoint_uri

    # A new worker rebuilds v3 from v2's snapshot + one delta, downloaded from MLflow: the recorded hash,
    # which is also what the whole chain from the base gives.
    restart_worker(settings, tmp_path, "worker-2")
    model = lineage.line_model(line)
    assert lineage.hold_version(model, v3) == v3.content_hash
    from editor import write_version_weights

    from_base = write_version_weights(model.loaded, model.base, [lineage.load_delta(u) for u in v3.delta_chain])
    assert from_base == v3.content_hash
    model.version_id = None  # the weights were changed behind lineage's back
    v3_answers = answers(line, v3, [edits[4]["src"], edits[5]["src"]])

    # Rollback across the snapshot boundary, after another restart: exact.
    actions.rollback(operator, v1, "the last two batches were wrong")
    restart_worker(settings, tmp_path, "worker-3")
    prompts = [edits[0]["src"], edits[4]["src"]]
    v1_answers = answers(line, v1, prompts)
    assert lineage.line_model(line).content_hash == v1.content_hash

    # MLflow follows: `production` is v1, and it loads as a standard pyfunc model answering like the worker.
    v1.refresh_from_db()
    tracking.set_aliases(v1.mlflow_model_name, v1.mlflow_model_version, None)
    mlflow.set_tracking_uri(mlflow_store.uri)
    mlflow.set_registry_uri(mlflow_store.uri)
    served = mlflow.pyfunc.load_model(f"models:/{v1.mlflow_model_name}@production")
    assert served.predict(prompts) == v1_answers
    # v3's model starts from v2's snapshot.
    served = mlflow.pyfunc.load_model(f"models:/{v3.mlflow_model_name}/{v3.mlflow_model_version}")
    assert served.predict([edits[4]["src"], edits[5]["src"]]) == v3_answers

    # One flipped bit in the stored snapshot: v3 is refused, not served, and the operator is told why.
    stored = next(mlflow_store.artifacts.rglob(f"{v2.mlflow_run_id}/artifacts/{lineage.SNAPSHOT_FILE}"))
    data = bytearray(stored.read_bytes())
    data[-5] ^= 0x10
    stored.write_bytes(bytes(data))
    restart_worker(settings, tmp_path, "worker-4")
    with pytest.raises(lineage.LineageError, match="snapshot"):
        lineage.hold_version(lineage.line_model(line), v3)
    shutil.rmtree(tmp_path / "worker-4", ignore_errors=True)
