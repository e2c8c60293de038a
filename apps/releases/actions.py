"""Every write of the release pipeline: one function each, one transaction, with its audit event.

Workers, the beat scheduler, the API and the pages all go through these functions. The database is
the source of truth for which version is in production; MLflow's aliases are moved to match it by
a task dispatched when the transaction commits (so an unreachable MLflow never loses a decision).
Refusals: PermissionDenied (403), ValidationError keyed by field (400), TransitionError (409).
"""

import hashlib
import json
from collections.abc import Iterable

from celery import current_app
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.accounts.roles import Role, has_role, roles_of
from apps.audit.record import record_event
from apps.facts.actions import transition_facts
from apps.facts.errors import TransitionError
from apps.facts.models import FactEdit, FactState
from apps.modellines.models import ModelLine
from apps.releases import gates
from apps.releases.models import (
    Batch,
    BatchKind,
    BatchState,
    BatchTrigger,
    ModelVersion,
    Probe,
    ProbeState,
    Promotion,
    PromotionKind,
    VersionFactResult,
    VersionState,
)
from apps.releases.records import BuiltVersion, TrackedVersion

User = AbstractBaseUser
HEAD_STATES = (VersionState.CANDIDATE, VersionState.PRODUCTION)
MAX_PROBE_PROMPT = 2000


def _require_operator(actor: User | None, what: str) -> None:
    if not has_role(actor, Role.OPERATOR):
        raise PermissionDenied(f"only an operator may {what}")


def _operator_reason(actor: User | None, what: str, reason: str, why: str) -> str:
    """An operator's decision must say why: checks the role and returns the trimmed reason."""
    _require_operator(actor, what)
    if not reason.strip():
        raise ValidationError({"reason": f"say why {why}"})
    return reason.strip()


def _dispatch(task: str, *args: object) -> None:
    """Send a task by name once the transaction has committed (never for a decision that rolled back)."""
    queue = "gpu" if task.startswith("workers.gpu.") else "default"
    transaction.on_commit(lambda: current_app.send_task(task, args=list(args), queue=queue))


def _locked_line(model_line: ModelLine | int) -> ModelLine:
    """The line's row, locked: every change to a line's versions is serialised on it."""
    pk = model_line.pk if isinstance(model_line, ModelLine) else model_line
    return ModelLine.objects.select_for_update().get(pk=pk)


def production_version(model_line: ModelLine | int) -> ModelVersion | None:
    return ModelVersion.objects.filter(model_line=model_line, state=VersionState.PRODUCTION).first()


def head_version(model_line: ModelLine | int) -> ModelVersion | None:
    """The version the next batch edits: the newest candidate or production version."""
    return ModelVersion.objects.filter(model_line=model_line, state__in=HEAD_STATES).order_by("-number").first()


def facts_content_hash(facts: Iterable[FactEdit]) -> str:
    """sha256 over what the editor will see of each fact, in batch order."""
    canonical = [
        {
            "id": fact.pk,
            "revision": fact.revision,
            "prompt": fact.prompt,
            "target": fact.target,
            "paraphrases": fact.paraphrases,
            "locality_probes": fact.locality_probes,
        }
        for fact in facts
    ]
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _version_snapshot(version: ModelVersion) -> dict:
    return {
        "number": version.number,
        "state": version.state,
        "content_hash": version.content_hash,
        "parent": version.parent.number if version.parent_id else None,
        "batch": version.batch_id,
        "metrics": version.metrics,
        "mlflow_run_id": version.mlflow_run_id,
        "mlflow_model_version": version.mlflow_model_version,
    }


# --- batching ---------------------------------------------------------------------------------


@transaction.atomic
def cut_batch(actor: User | None, model_line: ModelLine, *, trigger: str) -> Batch | None:
    """Cut the oldest approved facts of the line (at most `batch_size`) into an immutable batch.

    Returns None when there is nothing to cut. The facts become `queued`; a GPU worker applies it.
    """
    line = _locked_line(model_line)
    facts = list(
        FactEdit.objects.select_for_update(skip_locked=True)
        .filter(model_line=line, state=FactState.APPROVED)
        .order_by("approved_at", "id")[: line.batch_size]
    )
    if not facts:
        return None
    batch = Batch.objects.create(
        model_line=line,
        kind=BatchKind.RELEASE,
        trigger=trigger,
        fact_ids=[fact.pk for fact in facts],
        content_hash=facts_content_hash(facts),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    transition_facts(None, facts, FactState.QUEUED, reason=f"in batch {batch.pk}")
    record_event(
        actor,
        "batch.cut",
        batch,
        after={"trigger": trigger, "fact_ids": batch.fact_ids, "content_hash": batch.content_hash},
        model_line_id=line.pk,
    )
    _dispatch("workers.gpu.apply_batch", batch.pk)
    return batch


def release_now(actor: User, model_line: ModelLine) -> Batch:
    """An operator cuts a batch without waiting for its size or its maximum wait."""
    _require_operator(actor, "release a batch now")
    batch = cut_batch(actor, model_line, trigger=BatchTrigger.RELEASE_NOW)
    if batch is None:
        raise TransitionError(f"model line {model_line.name} has no approved facts waiting for a batch")
    return batch


def cut_due_batches() -> list[Batch]:
    """For the beat: cut every line that has `batch_size` approved facts or whose oldest waited `max_wait`."""
    now = timezone.now()
    batches = []
    for line in ModelLine.objects.all():
        while True:
            waiting = FactEdit.objects.filter(model_line=line, state=FactState.APPROVED)
            count = waiting.count()
            if not count:
                break
            oldest = waiting.order_by("approved_at").values_list("approved_at", flat=True).first()
            if count >= line.batch_size:
                trigger = BatchTrigger.SIZE
            elif oldest is not None and oldest <= now - line.max_wait:
                trigger = BatchTrigger.WAIT
            else:
                break
            batch = cut_batch(None, line, trigger=trigger)
            if batch is None:
                break
            batches.append(batch)
    return batches


# --- deliveries -------------------------------------------------------------------------------


@transaction.atomic
def count_delivery(batch_id: int) -> Batch:
    """Count one start of the apply task in the database (a worker that died cannot count its own death)."""
    batch = Batch.objects.select_for_update().get(pk=batch_id)
    if batch.state == BatchState.PENDING:
        batch.deliveries += 1
        batch.save(update_fields=["deliveries"])
    return batch


@transaction.atomic
def end_delivery_for_retry(batch_id: int, why: str) -> Batch:
    """A delivery that ends on purpose (to retry later) is not a crash: it does not count toward the cap."""
    batch = Batch.objects.select_for_update().get(pk=batch_id)
    batch.deliveries = 0
    batch.retries += 1
    batch.save(update_fields=["deliveries", "retries"])
    record_event(
        None, "batch.retry", batch, after={"retries": batch.retries, "why": why}, model_line_id=batch.model_line_id
    )
    return batch


@transaction.atomic
def fail_batch(batch: Batch, reason: str, *, facts_to: str = FactState.HELD) -> Batch:
    """The batch will produce no version. Its facts are held with the reason (or handed back to the queue)."""
    batch = Batch.objects.select_for_update().get(pk=batch.pk)
    if batch.state != BatchState.PENDING:
        return batch
    batch.state = BatchState.FAILED
    batch.failure_reason = reason
    batch.finished_at = timezone.now()
    batch.save(update_fields=["state", "failure_reason", "finished_at"])
    if batch.kind == BatchKind.RELEASE:
        queued = FactEdit.objects.filter(pk__in=batch.fact_ids, state=FactState.QUEUED)
        transition_facts(None, queued, facts_to, reason=f"batch {batch.pk} failed: {reason}")
    record_event(None, "batch.failed", batch, after={"reason": reason}, model_line_id=batch.model_line_id)
    return batch


# --- versions ---------------------------------------------------------------------------------


@transaction.atomic
def ensure_base_version(
    model_line: ModelLine, content_hash: str, tracked: TrackedVersion, checkpoint_bytes: int
) -> ModelVersion:
    """Version 0, the base checkpoint, in production until the first promotion (created once)."""
    line = _locked_line(model_line)
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
    record_event(None, "version.recorded", version, after=_version_snapshot(version), model_line_id=line.pk)
    _dispatch("workers.batching.sync_aliases", line.pk)
    return version


@transaction.atomic
def record_version(batch: Batch, built: BuiltVersion, tracked: TrackedVersion) -> ModelVersion:
    """Record what a worker built for a batch: exactly once per batch, all or nothing.

    A version that meets every gate is a candidate (promoted by the next task); one that misses a gate
    is held with the reasons; non-finite weights or metrics fail it. A redelivered batch that already
    has its version gets that version back.
    """
    line = _locked_line(batch.model_line_id)
    batch = Batch.objects.select_for_update().get(pk=batch.pk)
    existing = ModelVersion.objects.filter(batch=batch).first()
    if existing is not None:
        return existing
    if batch.state != BatchState.PENDING:
        raise TransitionError(f"batch {batch.pk} is {batch.state}: {batch.failure_reason}")

    gate_results = gates.evaluate_gates(line, built.metrics)
    bad_metrics = gates.non_finite_metrics(built.metrics)
    failure = built.failure or (f"non-finite metrics: {', '.join(bad_metrics)}" if bad_metrics else "")
    if failure:
        state, reason = VersionState.FAILED, failure
    elif gates.all_passed(gate_results):
        state, reason = VersionState.CANDIDATE, "met every gate"
    else:
        state, reason = VersionState.HELD, "missed a gate: " + "; ".join(gates.failure_reasons(gate_results))

    parent = ModelVersion.objects.get(pk=built.parent_id)
    number = (ModelVersion.objects.filter(model_line=line).aggregate(top=Max("number"))["top"] or 0) + 1
    version = ModelVersion.objects.create(
        model_line=line,
        number=number,
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
        delta_bytes=built.delta_bytes,
        checkpoint_bytes=built.checkpoint_bytes,
        stage_seconds=built.stage_seconds,
        mlflow_run_id=tracked.run_id,
        mlflow_model_name=tracked.model_name,
        mlflow_model_version=tracked.model_version,
        built_from=built.built_from,
        built_until=built.built_until,
    )
    VersionFactResult.objects.bulk_create(
        VersionFactResult(version=version, fact_id=fact_id, results=results)
        for fact_id, results in built.per_fact.items()
    )
    batch.state = BatchState.FAILED if state == VersionState.FAILED else BatchState.APPLIED
    batch.failure_reason = failure
    batch.finished_at = timezone.now()
    batch.save(update_fields=["state", "failure_reason", "finished_at"])
    record_event(None, "version.recorded", version, after=_version_snapshot(version), model_line_id=line.pk)
    if batch.kind == BatchKind.RELEASE and state != VersionState.CANDIDATE:
        transition_facts(
            None,
            batch.fact_ids,
            FactState.HELD,
            reason=f"version {version.label} {state}: {reason}",
            results={fact_id: {**res, "version": version.number} for fact_id, res in built.per_fact.items()},
        )
    if state == VersionState.CANDIDATE:
        _dispatch("workers.batching.promote_version", version.pk)
    return version


def _latest_results(version_ids: list[int], fact_ids: list[int]) -> dict[int, dict]:
    """Each fact's results from the newest of these versions that evaluated it."""
    results: dict[int, dict] = {}
    rows = VersionFactResult.objects.filter(version_id__in=version_ids, fact_id__in=fact_ids).select_related("version")
    for row in sorted(rows, key=lambda r: r.version.number):
        results[row.fact_id] = {**row.results, "version": row.version.number}
    return results


def _point_production(
    actor: User | None,
    line: ModelLine,
    version: ModelVersion,
    *,
    kind: str,
    reason: str,
    automatic: bool,
) -> Promotion:
    """Make `version` production and bring every other version and fact of the line in line with it."""
    current = production_version(line)
    ancestry = version.ancestry()
    ancestor_ids = {v.pk for v in ancestry}
    for other in ModelVersion.objects.filter(model_line=line).exclude(pk=version.pk):
        if other.pk in ancestor_ids and other.state in (*HEAD_STATES, VersionState.HELD, VersionState.ROLLED_BACK):
            other.state, other.state_reason = VersionState.SUPERSEDED, f"{version.label} builds on it"
        elif other.pk not in ancestor_ids and other.state in (*HEAD_STATES, VersionState.SUPERSEDED):
            other.state, other.state_reason = VersionState.ROLLED_BACK, f"production pointed at {version.label}"
        else:
            continue
        other.save(update_fields=["state", "state_reason"])
    version.state, version.state_reason = (
        VersionState.PRODUCTION,
        reason or f"{kind} ({'automatic' if automatic else 'operator'})",
    )
    version.save(update_fields=["state", "state_reason"])

    applied = set(version.applied_fact_ids())
    reverted_fact_id = (
        version.batch.fact_ids[0] if version.batch_id and version.batch.kind == BatchKind.REVERT else None
    )
    now_in = list(
        FactEdit.objects.filter(pk__in=applied, state__in=[FactState.QUEUED, FactState.HELD, FactState.ROLLED_BACK])
    )
    results = _latest_results(list(ancestor_ids), [fact.pk for fact in now_in])
    held = [fact for fact in now_in if fact.state == FactState.HELD]
    if held:
        transition_facts(None, held, FactState.QUEUED, reason=f"promoted with {version.label}")
    if now_in:
        transition_facts(None, now_in, FactState.APPLIED, reason=f"in production with {version.label}", results=results)
    leaving = FactEdit.objects.filter(model_line=line, state=FactState.APPLIED).exclude(pk__in=applied)
    if reverted_fact_id is not None:
        transition_facts(
            actor,
            leaving.filter(pk=reverted_fact_id),
            FactState.REVERTED,
            reason=f"reverted: {version.label} replays the lineage without it",
        )
        leaving = leaving.exclude(pk=reverted_fact_id)
    if leaving.exists():
        transition_facts(None, leaving, FactState.ROLLED_BACK, reason=f"production rolled back to {version.label}")
    # Queued facts of versions that just left the lineage were never in production: hold them.
    dropped = ModelVersion.objects.filter(model_line=line, state=VersionState.ROLLED_BACK)
    orphan_ids = {fact_id for v in dropped for fact_id in v.fact_ids} - applied
    orphans = FactEdit.objects.filter(pk__in=orphan_ids, state=FactState.QUEUED)
    if orphans.exists():
        transition_facts(None, orphans, FactState.HELD, reason=f"production pointed at {version.label} first")

    promotion = Promotion.objects.create(
        model_line=line,
        version=version,
        previous=current,
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        automatic=automatic,
        reason=reason,
        metrics=version.metrics,
        content_hash=version.content_hash,
    )
    record_event(
        actor,
        f"version.{'promoted' if kind == PromotionKind.PROMOTE else 'rolled_back_to'}",
        version,
        before={"production": current.number if current else None},
        after={**_version_snapshot(version), "reason": reason, "automatic": automatic},
        model_line_id=line.pk,
    )
    _dispatch("workers.batching.sync_aliases", line.pk)
    if not version.checkpoint_uri:
        _dispatch("workers.gpu.export_checkpoint", version.pk)
    return promotion


def _follows(version: ModelVersion, current: ModelVersion) -> bool:
    """Whether `version` may replace production automatically: it builds on production, or it is a
    revert version holding exactly production's facts but the reverted one."""
    if current.pk in {v.pk for v in version.ancestry()}:
        return True
    if version.batch_id and version.batch.kind == BatchKind.REVERT:
        expected = set(current.applied_fact_ids()) - set(version.batch.fact_ids)
        return set(version.applied_fact_ids()) == expected
    return False


@transaction.atomic
def promote(
    actor: User | None, version: ModelVersion, reason: str = "", *, automatic: bool = False
) -> Promotion | None:
    """Point production at `version`.

    automatic (actor None): only a candidate that met every gate and descends from production is
    promoted; otherwise nothing happens (an operator acted meanwhile) and None is returned.
    An operator may promote any version that did not fail, with a reason.
    """
    line = _locked_line(version.model_line_id)
    version = ModelVersion.objects.select_related("batch").get(pk=version.pk)
    current = production_version(line)
    if automatic:
        if version.state != VersionState.CANDIDATE or not gates.all_passed(version.gate_results):
            return None
        if current is not None and not _follows(version, current):
            return None
        return _point_production(
            None, line, version, kind=PromotionKind.PROMOTE, reason="met every gate", automatic=True
        )
    reason = _operator_reason(actor, "promote a version", reason, "this version is promoted by hand")
    if version.state == VersionState.FAILED:
        raise TransitionError(f"{version.label} failed ({version.state_reason}) and cannot be promoted")
    if current is not None and current.pk == version.pk:
        raise TransitionError(f"{version.label} is already in production")
    return _point_production(actor, line, version, kind=PromotionKind.PROMOTE, reason=reason, automatic=False)


@transaction.atomic
def rollback(actor: User, version: ModelVersion, reason: str) -> Promotion:
    """Point production back at an earlier version, exactly; facts applied after it become rolled back."""
    reason = _operator_reason(actor, "roll back production", reason, "production is rolled back")
    line = _locked_line(version.model_line_id)
    version = ModelVersion.objects.select_related("batch").get(pk=version.pk)
    current = production_version(line)
    if current is None or version.number >= current.number:
        raise TransitionError(
            f"{version.label} is not earlier than production ({current.label if current else 'none'}); "
            "promote it instead"
        )
    if version.state == VersionState.FAILED:
        raise TransitionError(f"{version.label} failed ({version.state_reason}) and cannot serve production")
    return _point_production(actor, line, version, kind=PromotionKind.ROLLBACK, reason=reason, automatic=False)


@transaction.atomic
def hold(actor: User, version: ModelVersion, reason: str) -> Promotion:
    """Stop a candidate from being promoted (and the candidates built on it); its facts are held."""
    reason = _operator_reason(actor, "hold a version", reason, "this version is held")
    line = _locked_line(version.model_line_id)
    version = ModelVersion.objects.get(pk=version.pk)
    if version.state != VersionState.CANDIDATE:
        raise TransitionError(
            f"only a candidate can be held; {version.label} is {version.state}"
            + (" (roll back to an earlier version instead)" if version.state == VersionState.PRODUCTION else "")
        )
    held = [version]
    held += [
        other
        for other in ModelVersion.objects.filter(
            model_line=line, state=VersionState.CANDIDATE, number__gt=version.number
        )
        if version.pk in {v.pk for v in other.ancestry()}
    ]
    for item in held:
        item.state = VersionState.HELD
        item.state_reason = reason if item.pk == version.pk else f"built on {version.label}, which was held"
        item.save(update_fields=["state", "state_reason"])
        queued = FactEdit.objects.filter(pk__in=item.fact_ids, state=FactState.QUEUED)
        if queued.exists():
            transition_facts(None, queued, FactState.HELD, reason=f"{item.label} held: {item.state_reason}")
    promotion = Promotion.objects.create(
        model_line=line,
        version=version,
        previous=production_version(line),
        kind=PromotionKind.HOLD,
        actor=actor,
        reason=reason,
        metrics=version.metrics,
        content_hash=version.content_hash,
        aliases_synced=True,
    )
    record_event(
        actor,
        "version.held",
        version,
        after={**_version_snapshot(version), "reason": reason, "also_held": [v.number for v in held[1:]]},
        model_line_id=line.pk,
    )
    return promotion


@transaction.atomic
def revert_fact(actor: User, fact: FactEdit, reason: str) -> Batch:
    """Take one applied fact out of production: a revert batch rebuilds the lineage without it.

    The worker replays the later batches from the version before the fact's batch; nothing is erased.
    """
    reason = _operator_reason(actor, "revert a fact", reason, "this fact is reverted")
    line = _locked_line(fact.model_line_id)
    fact = FactEdit.objects.get(pk=fact.pk)
    current = production_version(line)
    if fact.state != FactState.APPLIED or current is None or fact.pk not in current.applied_fact_ids():
        raise TransitionError(f"fact #{fact.pk} is {fact.state}, not applied in production; nothing to revert")
    pending = Batch.objects.filter(model_line=line, kind=BatchKind.REVERT, state=BatchState.PENDING)
    if any(batch.fact_ids == [fact.pk] for batch in pending):
        raise TransitionError(f"a revert of fact #{fact.pk} is already on its way")
    batch = Batch.objects.create(
        model_line=line,
        kind=BatchKind.REVERT,
        trigger=BatchTrigger.REVERT,
        fact_ids=[fact.pk],
        content_hash=facts_content_hash([fact]),
        created_by=actor,
    )
    record_event(
        actor,
        "fact.revert_requested",
        batch,
        after={"fact_id": fact.pk, "reason": reason, "production": current.number},
        model_line_id=line.pk,
        fact_id=fact.pk,
    )
    _dispatch("workers.gpu.apply_batch", batch.pk)
    return batch


def revert_plan(batch: Batch, head: ModelVersion) -> tuple[ModelVersion, list[tuple[int | None, list[int]]]]:
    """For a revert batch: the version to start from and the (batch id, fact ids) segments to replay.

    Computed against the lineage's head at apply time, so batches applied since the request are kept.
    """
    fact_id = batch.fact_ids[0]
    ancestry = head.ancestry()
    for index, version in enumerate(ancestry):
        if fact_id in version.fact_ids:
            start = version.parent
            later = ancestry[index:]
            break
    else:
        raise TransitionError(f"fact #{fact_id} is not in the lineage of {head.label} any more")
    segments = []
    for version in later:
        remaining = [fid for fid in version.fact_ids if fid != fact_id]
        if remaining:
            segments.append((version.batch_id, remaining))
    return start, segments


@transaction.atomic
def set_checkpoint_uri(version: ModelVersion, uri: str) -> None:
    ModelVersion.objects.filter(pk=version.pk).update(checkpoint_uri=uri)
    record_event(None, "version.checkpoint_exported", version, after={"uri": uri}, model_line_id=version.model_line_id)


def mark_aliases_synced(model_line_id: int) -> None:
    Promotion.objects.filter(model_line_id=model_line_id, aliases_synced=False).update(aliases_synced=True)


# --- probes -----------------------------------------------------------------------------------


@transaction.atomic
def request_probe(actor: User, version: ModelVersion, prompt: str, max_new_tokens: int = 16) -> Probe:
    """Ask a version a prompt; a GPU worker writes its greedy answer."""
    if not roles_of(actor):
        raise PermissionDenied("only a member of Amend may probe a model")
    prompt = (prompt or "").strip()
    if not prompt:
        raise ValidationError({"prompt": "write the prompt to ask the model"})
    if len(prompt) > MAX_PROBE_PROMPT:
        raise ValidationError({"prompt": f"at most {MAX_PROBE_PROMPT} characters"})
    if not 1 <= int(max_new_tokens) <= 64:
        raise ValidationError({"max_new_tokens": "between 1 and 64"})
    if version.state == VersionState.FAILED:
        raise TransitionError(f"{version.label} failed and cannot be probed")
    probe = Probe.objects.create(
        model_line_id=version.model_line_id,
        version=version,
        prompt=prompt,
        max_new_tokens=int(max_new_tokens),
        requested_by=actor,
    )
    record_event(
        actor,
        "probe.requested",
        probe,
        after={"version": version.number, "prompt": prompt},
        model_line_id=version.model_line_id,
    )
    _dispatch("workers.gpu.answer_probe", probe.pk)
    return probe


def finish_probe(probe: Probe, *, answer: str = "", error: str = "") -> Probe:
    probe.answer, probe.error = answer, error
    probe.state = ProbeState.FAILED if error else ProbeState.DONE
    probe.answered_at = timezone.now()
    probe.save(update_fields=["answer", "error", "state", "answered_at"])
    return probe
