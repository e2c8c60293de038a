"""Full checks: "which of this line's applied facts does production say today?", asked of every one of them
by a GPU worker, reported with a date and a digest the audit trail keeps."""

import hashlib
import json
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.roles import Role, has_role
from apps.audit.record import record_event
from apps.core.errors import TransitionError
from apps.facts.actions import mark_regressed
from apps.modellines.models import ModelLine
from apps.outbox import tasks
from apps.outbox.send import enqueue
from apps.releases.actions.common import User, locked_line, person
from apps.releases.models import CheckState, FactCheck
from apps.releases.queries import production_version


@transaction.atomic(durable=True)
def request_full_check(actor: User | None, model_line: ModelLine) -> FactCheck:
    """An operator or an auditor (None: the line's schedule) asks production every applied fact of the line.

    Refused (409) when the line has no production version, or while another check of it runs.
    """
    if actor is not None and not (has_role(actor, Role.OPERATOR) or has_role(actor, Role.AUDITOR)):
        raise PermissionDenied("only an operator or an auditor may ask for a full check of production")
    line = locked_line(model_line)
    version = production_version(line)
    if version is None:
        raise TransitionError(f"model line {line.name} has no production version to check")
    running = FactCheck.objects.filter(model_line=line, state=CheckState.RUNNING).first()
    if running is not None:
        raise TransitionError(f"full check #{running.pk} of {line.name} is running; wait for its report")
    try:
        with transaction.atomic():
            check = FactCheck.objects.create(model_line=line, version=version, requested_by=person(actor))
    except IntegrityError:  # the line's row lock makes this unreachable but for a lock-less writer
        raise TransitionError(f"a full check of {line.name} is running; wait for its report") from None
    record_event(
        actor,
        "check.requested",
        check,
        after={"version": version.number, "content_hash": version.content_hash, "scheduled": actor is None},
        model_line_id=line.pk,
    )
    enqueue(tasks.CHECK_LINE, check.pk)
    return check


def report_check_progress(check_id: int, checked: int, total: int) -> None:
    """The worker's progress. No audit event: progress decides nothing, the finished report is audited."""
    FactCheck.objects.filter(pk=check_id, state=CheckState.RUNNING).update(facts_checked=checked, facts_total=total)


def report_digest(check: FactCheck) -> str:
    """sha256 over what the report states: the line, the version and its weights, the date, every fact's row."""
    canonical = {
        "check": check.pk,
        "model_line": check.model_line_id,
        "version": check.version.number,
        "content_hash": check.version.content_hash,
        "finished_at": check.finished_at.isoformat() if check.finished_at else None,
        "results": check.results,
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@transaction.atomic(durable=True)
def finish_full_check(check: FactCheck, results: list[dict], mlflow_artifact: str = "") -> FactCheck:
    """Record the report; the applied facts production no longer says are regressed (re-applied next batch)."""
    check = FactCheck.objects.select_for_update().select_related("version", "model_line").get(pk=check.pk)
    if check.state != CheckState.RUNNING:
        return check  # a redelivered task: the report stands
    check.results = results
    check.facts_total = check.facts_checked = len(results)
    check.still_said = sum(row["still_said"] for row in results)
    check.finished_at = timezone.now()
    check.mlflow_artifact = mlflow_artifact
    check.state = CheckState.DONE
    check.digest = report_digest(check)
    check.save()
    lost = {row["fact_id"]: row["answer"] for row in results if not row["still_said"]}
    if lost:
        mark_regressed(check.model_line, lost, version=check.version.number, where=f"full check #{check.pk}")
    record_event(
        None,
        "check.finished",
        check,
        after={
            "version": check.version.number,
            "facts": check.facts_total,
            "still_said": check.still_said,
            "regressed": sorted(lost),
            "digest": check.digest,
            "mlflow_artifact": mlflow_artifact,
        },
        model_line_id=check.model_line_id,
    )
    return check


@transaction.atomic(durable=True)
def fail_full_check(check: FactCheck, error: str) -> FactCheck:
    """The check could not finish (the version could not be rebuilt, MLflow unreachable): say why."""
    check = FactCheck.objects.select_for_update().get(pk=check.pk)
    if check.state != CheckState.RUNNING:
        return check
    check.state, check.error, check.finished_at = CheckState.FAILED, error[:2000], timezone.now()
    check.save(update_fields=["state", "error", "finished_at"])
    record_event(None, "check.failed", check, after={"error": check.error}, model_line_id=check.model_line_id)
    return check


def schedule_due_checks() -> list[FactCheck]:
    """For the beat: a check of every line whose interval has passed since its last check (or never ran)."""
    now = timezone.now()
    asked = []
    for line in ModelLine.objects.filter(full_check_interval__isnull=False):
        last = FactCheck.objects.filter(model_line=line).order_by("-created_at").first()
        if last is not None and last.created_at > now - (line.full_check_interval or timedelta(0)):
            continue
        try:
            asked.append(request_full_check(None, line))
        except TransitionError:
            continue  # no production yet, or one is running: the next beat asks again
    return asked
