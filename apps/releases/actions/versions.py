"""Versions: the base checkpoint, what a worker built for a batch, and where a version was exported."""

from django.db import transaction
from django.utils import timezone

from apps.audit.record import record_event
from apps.core.errors import TransitionError
from apps.facts.actions import mark_regressed, retry_untaken, transition_facts
from apps.facts.models import FactState
from apps.modellines.models import ModelLine
from apps.outbox import tasks
from apps.outbox.send import enqueue
from apps.releases import gates
from apps.releases.actions.common import locked_line, version_snapshot
from apps.releases.models import (
    Batch,
    BatchKind,
    BatchState,
    ModelVersion,
    Promotion,
    PromotionKind,
    VersionFactResult,
    VersionState,
)
from apps.releases.queries import next_version_number
from apps.releases.records import BuiltVersion
from mlops.tracking import TrackedVersion


@transaction.atomic(durable=True)
def ensure_base_version(
    model_line: ModelLine, content_hash: str, tracked: TrackedVersion, checkpoint_bytes: int
) -> ModelVersion:
    """Version 0, the base checkpoint, in production until the first promotion (created once)."""
    line = locked_line(model_line)
    existing = ModelVersion.objects.filter(model_line=line, number=0).first()
    if existing is not None:
        return existing
    version = ModelVersion.objects.create(
        model_line=line,
        number=0,
        state=VersionState.PRODUCTION,
        state_reason="the base checkpoint",
        content_hash=content_hash,
        checkpoint_bytes=checkpoint_bytes,
        mlflow_run_id=tracked.run_id,
        mlflow_model_name=tracked.model_name,
        mlflow_model_version=tracked.model_version,
    )
    Promotion.objects.create(
        model_line=line,
        version=version,
        kind=PromotionKind.PROMOTE,
        automatic=True,
        reason="the base checkpoint starts the lineage",
        content_hash=content_hash,
    )
    record_event(None, "version.recorded", version, after=version_snapshot(version), model_line_id=line.pk)
    enqueue(tasks.SYNC_ALIASES, line.pk)
    return version


def _verdict(line: ModelLine, built: BuiltVersion) -> tuple[dict, str, str, str]:
    """(gate results, state, reason, failure) of a built version: failed when its weights or metrics are
    not finite, a candidate when it met every gate, held with the missed gates otherwise."""
    gate_results = gates.evaluate_gates(line, built.metrics)
    bad_metrics = gates.non_finite_metrics(built.metrics)
    failure = built.failure or (f"non-finite metrics: {', '.join(bad_metrics)}" if bad_metrics else "")
    if failure:
        return gate_results, VersionState.FAILED, failure, failure
    if gates.all_passed(gate_results):
        return gate_results, VersionState.CANDIDATE, "met every gate", ""
    return gate_results, VersionState.HELD, "missed a gate: " + "; ".join(gates.failure_reasons(gate_results)), ""


@transaction.atomic(durable=True)
def record_version(batch: Batch, built: BuiltVersion, tracked: TrackedVersion) -> ModelVersion:
    """Record what a worker built for a batch: exactly once per batch, all or nothing.

    A version that meets every gate is a candidate (promoted by the next task); one that misses a gate
    is held with the reasons; non-finite weights or metrics fail it. A redelivered batch that already
    has its version gets that version back.
    """
    line = locked_line(batch.model_line_id)
    batch = Batch.objects.select_for_update().get(pk=batch.pk)
    existing = ModelVersion.objects.filter(batch=batch).first()
    if existing is not None:
        return existing
    if batch.state != BatchState.PENDING:
        raise TransitionError(f"batch {batch.pk} is {batch.state}: {batch.failure_reason}")

    gate_results, state, reason, failure = _verdict(line, built)
    parent = ModelVersion.objects.get(pk=built.parent_id)
    if built.number != next_version_number(line):
        raise TransitionError(f"version number {built.number} is taken: another build recorded first")
    version = ModelVersion.objects.create(
        model_line=line,
        number=built.number,
        parent=parent,
        batch=batch,
        state=state,
        state_reason=reason,
        fact_ids=built.fact_ids,
        replayed_batch_ids=built.replayed_batch_ids,
        metrics=built.metrics,
        gate_results=gate_results,
        content_hash=built.content_hash,
        delta_chain=[*parent.delta_chain, *built.delta_paths],
        normalizer_path=built.normalizer_path,
        snapshot_path=built.snapshot_path,
        delta_bytes=built.delta_bytes,
        checkpoint_bytes=built.checkpoint_bytes,
        editor_config=built.editor_config,
        stage_seconds=built.stage_seconds,
        mlflow_run_id=tracked.run_id,
        mlflow_model_name=tracked.model_name,
        mlflow_model_version=tracked.model_version,
        built_from=built.built_from,
        built_until=built.built_until,
        recheck=_recheck_summary(built),
    )
    VersionFactResult.objects.bulk_create(
        VersionFactResult(version=version, fact_id=fact_id, results=results)
        for fact_id, results in built.per_fact.items()
    )
    batch.state = BatchState.FAILED if state == VersionState.FAILED else BatchState.APPLIED
    batch.failure_reason = failure
    batch.finished_at = timezone.now()
    batch.save(update_fields=["state", "failure_reason", "finished_at"])
    record_event(None, "version.recorded", version, after=version_snapshot(version), model_line_id=line.pk)
    results = {fact_id: {**res, "version": version.number} for fact_id, res in built.per_fact.items()}
    if batch.kind == BatchKind.RELEASE and state != VersionState.CANDIDATE:
        transition_facts(
            None, batch.fact_ids, FactState.HELD, reason=f"version {version.label} {state}: {reason}", results=results
        )
    if state == VersionState.CANDIDATE:
        # Production is about to be this version: the earlier facts it no longer says have regressed. A held
        # version changes nothing about them (production, which still says them, stays).
        regressed = {int(pk): answer for pk, answer in version.recheck.get("regressed", {}).items()}
        if regressed:
            mark_regressed(line, regressed, version=version.number, where=f"{version.label}'s check of earlier facts")
        if batch.kind == BatchKind.RELEASE:
            retry_untaken(line, results, version=version.number)
        enqueue(tasks.PROMOTE_VERSION, version.pk)
    return version


def _recheck_summary(built: BuiltVersion) -> dict:
    """What a version records of its check of earlier facts (empty when it asked none)."""
    if not built.rechecked:
        return {}
    return {
        "asked": len(built.rechecked),
        "still_said": sum(said for _, said in built.rechecked.values()),
        "regressed": {str(pk): answer for pk, (answer, said) in built.rechecked.items() if not said},
    }


@transaction.atomic(durable=True)
def set_checkpoint_uri(version: ModelVersion, uri: str) -> None:
    ModelVersion.objects.filter(pk=version.pk).update(checkpoint_uri=uri)
    record_event(None, "version.checkpoint_exported", version, after={"uri": uri}, model_line_id=version.model_line_id)


def mark_aliases_synced(model_line_id: int) -> None:
    """MLflow's aliases now match the database (bookkeeping of the alias task, not a decision: no event)."""
    Promotion.objects.filter(model_line_id=model_line_id, aliases_synced=False).update(aliases_synced=True)
