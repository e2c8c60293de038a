"""Tasks on the `gpu` queue: apply a batch, export a promoted checkpoint, answer a probe, check a line.

A GPU worker runs with prefetch 1 and late acknowledgement: a task whose process died goes back
to the queue. Deliveries are counted in the database, so a batch that keeps killing its worker
ends `failed` after AMEND_MAX_DELIVERIES instead of looping. torch and the editor are imported
inside the tasks only: CUDA is touched by the worker process that runs the task, never earlier.
"""

import contextlib
import logging
import shutil
import tempfile
from pathlib import Path

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

from apps.core.errors import TransitionError
from apps.facts.models import FactEdit, FactState
from apps.outbox import tasks
from apps.releases import actions
from apps.releases.locks import lineage_busy
from apps.releases.models import Batch, BatchState, CheckState, FactCheck, ModelVersion, Probe, ProbeState
from mlops import tracking

log = logging.getLogger(__name__)

GPU_TASK = {"acks_late": True, "reject_on_worker_lost": True, "queue": tasks.GPU}
# What psycopg raises (through Django) when the server went away or the connection broke.
DATABASE_LOST = (OperationalError, InterfaceError)


def retry_countdown(retries: int) -> float:
    """Exponential backoff for a task's own retries: base, 2*base, 4*base, ... capped."""
    base = settings.AMEND_RETRY_BASE_SECONDS
    cap = settings.AMEND_RETRY_MAX_SECONDS
    return min(cap, base * 2 ** max(0, retries - 1))


def _drop_connections() -> None:
    """Forget every database connection of this process: after a restart they are dead, and the next
    delivery must open fresh ones (Django would otherwise hand the broken one out again)."""
    for conn in connections.all():
        with contextlib.suppress(Exception):
            conn.close()


@shared_task(bind=True, name=tasks.APPLY_BATCH.name, max_retries=None, **GPU_TASK)
def apply_batch(self, batch_id: int) -> dict:
    """Apply a pending batch (workers.pipeline.apply_batch) and say what became of it.

    The database lost mid-batch (a restart, a failover, the network) is no verdict on the batch: nothing of
    this delivery was committed (the version is recorded in one transaction at the end), so the task is sent
    again with backoff, up to AMEND_DB_MAX_RETRIES times, and the redelivery finds the batch as it was:
    pending, or with its version if the commit went through before the connection died. Before this, the
    failure handler itself could not write, the task was acknowledged and the batch stayed pending forever.
    """
    try:
        return _apply_batch(self, batch_id)
    except DATABASE_LOST as exc:
        _drop_connections()
        if self.request.retries >= settings.AMEND_DB_MAX_RETRIES:
            log.error("batch %s: database unreachable after %s retries; left pending", batch_id, self.request.retries)
            raise
        log.warning("batch %s: database connection lost (%s); retrying", batch_id, type(exc).__name__)
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries + 1)) from exc


def _back_to_queue(batch: Batch, reason: str) -> dict:
    """Fail a batch for a fault that is not its facts': they go back to `approved`, the operator reads why."""
    log.error("batch %s failed, its facts go back to the queue: %s", batch.pk, reason)
    actions.fail_batch(batch, reason, facts_to=FactState.APPROVED)
    return {"batch": batch.pk, "state": BatchState.FAILED, "reason": reason}


def _apply_batch(self, batch_id: int) -> dict:
    from editor import EditorError
    from workers import pipeline
    from workers.lineage import LineageError

    line_id = Batch.objects.filter(pk=batch_id).values_list("model_line_id", flat=True).first()
    if line_id is not None and lineage_busy(line_id):
        # A live worker holds this line: the broker handed the batch out again after the visibility timeout
        # while it still runs (a long batch), or another batch of the line runs. Not a delivery (it must not
        # count towards AMEND_MAX_DELIVERIES): look again shortly; a dead worker's lock is gone with it.
        raise self.retry(countdown=settings.AMEND_BUSY_LINEAGE_RECHECK_SECONDS)
    try:
        batch = actions.count_delivery(batch_id)
    except Batch.DoesNotExist:
        log.warning("batch %s does not exist (a message from an old database?); dropped", batch_id)
        return {"batch": batch_id, "skipped": "no such batch"}
    if batch.state != BatchState.PENDING:
        version = ModelVersion.objects.filter(batch=batch).first()
        return {"batch": batch_id, "state": batch.state, "version": version.number if version else None}
    cap = settings.AMEND_MAX_DELIVERIES
    if batch.deliveries > cap:
        reason = f"the worker stopped {batch.deliveries - 1} times while applying this batch (limit {cap})"
        actions.fail_batch(batch, reason)
        return {"batch": batch_id, "state": BatchState.FAILED, "reason": reason}
    try:
        version = pipeline.apply_batch(batch_id)
    except tracking.TrackingRefusedError as exc:
        # MLflow said no (4xx), or a disk is full: retrying at once cannot help. Not the facts' fault either.
        return _back_to_queue(batch, str(exc))
    except tracking.TrackingUnavailableError as exc:
        batch = actions.end_delivery_for_retry(batch_id, str(exc))
        limit = settings.AMEND_MLFLOW_MAX_RETRIES
        if batch.retries > limit:
            # Not the facts' fault: they go back to the queue for a later batch.
            actions.fail_batch(batch, f"MLflow unreachable after {limit} retries: {exc}", facts_to=FactState.APPROVED)
            return {"batch": batch_id, "state": BatchState.FAILED, "reason": str(exc)}
        raise self.retry(exc=exc, countdown=retry_countdown(batch.retries)) from exc
    except pipeline.NonFiniteFactsError as exc:
        actions.fail_batch(batch, str(exc), facts_to=FactState.APPROVED, hold=exc.fact_ids)
        return {"batch": batch_id, "state": BatchState.FAILED, "reason": str(exc), "held": exc.fact_ids}
    except (EditorError, LineageError, TransitionError) as exc:
        actions.fail_batch(batch, str(exc))
        return {"batch": batch_id, "state": BatchState.FAILED, "reason": str(exc)}
    except DATABASE_LOST:
        raise  # apply_batch retries: the batch must not be failed for the database's outage
    except Exception as exc:
        if tracking.storage_full(exc):
            # The worker's own disk (its cache and staging): the operator frees space, the facts wait.
            return _back_to_queue(batch, f"out of disk space on the worker: {exc}"[:2000])
        actions.fail_batch(batch, f"unexpected error: {type(exc).__name__}: {exc}"[:2000])
        raise
    if version is None:
        return {"batch": batch_id, "state": "not pending"}
    return {"batch": batch_id, "version": version.number, "state": version.state}


@shared_task(bind=True, name=tasks.EXPORT_CHECKPOINT.name, max_retries=None, **GPU_TASK)
def export_checkpoint(self, version_id: int) -> dict:
    """Write a promoted version as a standard Hugging Face directory into its MLflow run."""
    from workers import lineage

    version = ModelVersion.objects.select_related("model_line").filter(pk=version_id).first()
    if version is None or version.checkpoint_uri or not version.mlflow_run_id:
        return {"version": version_id, "skipped": True}
    model = lineage.line_model(version.model_line)
    lineage.hold_version(model, version)
    directory = Path(tempfile.mkdtemp(prefix="amend-checkpoint-"))
    try:
        model.loaded.model.save_pretrained(directory, safe_serialization=True)
        model.loaded.tokenizer.save_pretrained(directory)
        (directory / "AMEND_VERSION").write_text(
            f"{version.model_line.name} v{version.number}\ncontent_hash {version.content_hash}\n"
        )
        uri = tracking.log_checkpoint(version.mlflow_run_id, directory)
    except tracking.TrackingRefusedError as exc:
        log.error("checkpoint of %s v%s not exported: %s", version.model_line, version.number, exc)
        return {"version": version.number, "refused": str(exc)}
    except tracking.TrackingUnavailableError as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries + 1)) from exc
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    actions.set_checkpoint_uri(version, uri)
    return {"version": version.number, "checkpoint": uri}


@shared_task(name=tasks.ANSWER_PROBE.name, **GPU_TASK)
def answer_probe(*probe_ids: int) -> dict:
    """The greedy answers of versions to prompts: one batched decode per version and answer length
    (a fact's prompt and paraphrases come as one task)."""
    from editor import EditorError, greedy_answers
    from workers import lineage

    pending = Probe.objects.select_related("version", "model_line").filter(pk__in=probe_ids, state=ProbeState.PENDING)
    groups: dict[tuple[int, int], list[Probe]] = {}
    for probe in pending.order_by("id"):
        groups.setdefault((probe.version_id, probe.max_new_tokens), []).append(probe)
    answered: dict[int, str] = {}
    for (_, tokens), probes in groups.items():
        try:
            model = lineage.line_model(probes[0].model_line)
            lineage.hold_version(model, probes[0].version)
            answers = greedy_answers(model.loaded, [probe.prompt for probe in probes], max_new_tokens=tokens)
        except (EditorError, lineage.LineageError, tracking.TrackingUnavailableError) as exc:
            for probe in probes:
                actions.finish_probe(probe, error=str(exc))
            continue
        for probe, answer in zip(probes, answers, strict=True):
            actions.finish_probe(probe, answer=answer)
            answered[probe.pk] = answer
    return {"probes": list(probe_ids), "answered": answered}


def _record_base(line: object) -> str:
    """Record the line's base (v0) under the lineage lock unless it has a version; the error, or ""."""
    from apps.releases.locks import lineage_lock
    from editor import EditorError
    from workers import lineage, pipeline

    if ModelVersion.objects.filter(model_line=line).exists():
        return ""
    try:
        with lineage_lock(line.pk):  # a batch's worker may be recording the base too
            pipeline.ensure_base(line, lineage.line_model(line))
    except (EditorError, tracking.TrackingUnavailableError) as exc:
        return str(exc)
    return ""


@shared_task(name=tasks.PROBE_BASE.name, **GPU_TASK)
def probe_base(fact_id: int) -> dict:
    """A fact submitted to a line without a version: record the base (v0), then ask it the fact's prompts."""
    fact = FactEdit.objects.select_related("model_line").filter(pk=fact_id).first()
    if fact is None:
        return {"fact": fact_id, "skipped": "no such fact"}
    error = _record_base(fact.model_line)
    if error:
        # The fact page keeps saying the answer comes with the line's base version; a batch retries it.
        log.warning("base of %s not recorded, fact %s not probed: %s", fact.model_line, fact_id, error)
        return {"fact": fact_id, "error": error}
    probes = actions.request_fact_probes(None, fact)
    return {"fact": fact_id, "probes": [probe.pk for probe in probes]}


@shared_task(name=tasks.PROBE_LINE.name, **GPU_TASK)
def probe_line(line_id: int, prompt: str, max_new_tokens: int, user_id: int) -> dict:
    """A member probed a line without a version: record the base (v0), then ask production the prompt."""
    from django.contrib.auth import get_user_model

    from apps.modellines.models import ModelLine

    line = ModelLine.objects.filter(pk=line_id).first()
    user = get_user_model().objects.filter(pk=user_id).first()
    if line is None or user is None:
        return {"line": line_id, "skipped": "no such line or user"}
    error = _record_base(line)
    if error:
        log.warning("base of %s not recorded, probe not asked: %s", line, error)
        return {"line": line_id, "error": error}
    probe = actions.request_line_probe(user, line, prompt, max_new_tokens)
    return {"line": line_id, "probe": probe.pk if probe else None}


@shared_task(bind=True, name=tasks.CHECK_LINE.name, max_retries=None, **GPU_TASK)
def check_line(self, check_id: int) -> dict:
    """A full check: ask the production version every applied fact of its line (batched greedy decodes,
    progress in the database), store the dated report in the version's MLflow run and record it."""
    from editor import EditorError
    from workers import lineage
    from workers.asking import facts_that_took, still_said

    check = FactCheck.objects.select_related("model_line", "version").filter(pk=check_id).first()
    if check is None or check.state != CheckState.RUNNING:
        return {"check": check_id, "skipped": "not running"}
    version = check.version
    facts = facts_that_took(version, CHECKED_STATES)
    actions.report_check_progress(check.pk, 0, len(facts))
    try:
        model = lineage.line_model(check.model_line)
        lineage.hold_version(model, version)
        said = still_said(model.loaded, facts, lambda done: actions.report_check_progress(check.pk, done, len(facts)))
        results = [_check_row(fact, *said[fact.pk], version.number) for fact in facts]
        artifact = tracking.log_report(
            version.mlflow_run_id,
            f"full-check-{check.pk}.json",
            {
                "model_line": check.model_line.name,
                "version": version.number,
                "asked_at": str(check.created_at),
                "content_hash": version.content_hash,
                "results": results,
            },
        )
    except tracking.TrackingRefusedError as exc:
        actions.fail_full_check(check, f"MLflow refused the report: {exc}")
        return {"check": check_id, "state": CheckState.FAILED}
    except tracking.TrackingUnavailableError as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries + 1)) from exc
    except (EditorError, lineage.LineageError) as exc:
        actions.fail_full_check(check, str(exc))
        return {"check": check_id, "state": CheckState.FAILED}
    check = actions.finish_full_check(check, results, artifact)
    if check.state != CheckState.DONE:
        # Failed meanwhile, e.g. swept as stalled after this worker went quiet for AMEND_CHECK_STALL_SECONDS.
        log.warning("full check %s was %s before its report came: %s", check.pk, check.state, check.error)
        return {"check": check_id, "state": check.state}
    return {"check": check_id, "facts": check.facts_total, "still_said": check.still_said, "digest": check.digest}


# The facts of production's lineage a full check asks: applied, and those that regressed (waiting for, or in,
# their re-application, or held for regressing again): their edits are in the weights all the same.
CHECKED_STATES = [FactState.APPLIED, FactState.REGRESSED, FactState.QUEUED, FactState.HELD]


def _check_row(fact: FactEdit, answer: str, said: bool, version_number: int) -> dict:
    """One fact's line of a full check. `since`: the version that no longer says it (the one that found it
    regressed earlier, else the production version asked now); None while it is said."""
    since = None
    if not said:
        since = fact.regressed_in if fact.state != FactState.APPLIED and fact.regressed_in else version_number
    return {
        "fact_id": fact.pk,
        "prompt": fact.prompt,
        "target": fact.target,
        "answer": answer,
        "still_said": said,
        "applied_in": (fact.results or {}).get("version"),
        "since": since,
    }
