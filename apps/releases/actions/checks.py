"""Full checks: "which of this line's applied facts does production say today?", asked of every one of them
by a GPU worker, reported with a date and a digest the audit trail keeps.

A check whose worker stopped and whose task was lost would stay `running` and block the line's next check
(one runs at a time) forever: one with no progress reported for AMEND_CHECK_STALL_SECONDS is failed with the
reason, by beat (sweep_stalled_checks) and at once when a new check of its line is asked.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.roles import Role, has_role
from apps.audit.record import record_event
from apps.core.errors import TransitionError
from apps.facts.actions import mark_regressed
from apps.modellines.models import ModelLine
from apps.outbox import tasks
from apps.outbox.send import cancel_pending, enqueue
from apps.releases.actions.common import User, locked_line, person
from apps.releases.models import CheckState, FactCheck
from apps.releases.queries import production_version


@transaction.atomic(durable=True)
def request_full_check(actor: User | None, model_line: ModelLine) -> FactCheck:
    """An operator or an auditor (None: the line's schedule) asks production every applied fact of the line.

    Refused (409) when the line has no production version, or while another check of it runs. A running
    one that has made no progress for AMEND_CHECK_STALL_SECONDS is failed first (its worker stopped), in
    this transaction: nobody waits for the beat's sweep to ask again.
    """
    if actor is not None and not (has_role(actor, Role.OPERATOR) or has_role(actor, Role.AUDITOR)):
        raise PermissionDenied("only an operator or an auditor may ask for a full check of production")
    line = locked_line(model_line)
    version = production_version(line)
    if version is None:
        raise TransitionError(f"model line {line.name} has no production version to check")
    running = FactCheck.objects.select_for_update().filter(model_line=line, state=CheckState.RUNNING).first()
    if running is not None and _stalled(running, timezone.now()):
        _give_up_on_stalled(running, by="new request")
        running = None
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
    """The worker's progress, with its time (a check without any for long is failed as stalled). No audit
    event: progress decides nothing, the finished report is audited."""
    FactCheck.objects.filter(pk=check_id, state=CheckState.RUNNING).update(
        facts_checked=checked, facts_total=total, progress_at=timezone.now()
    )


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


def last_progress(check: FactCheck) -> datetime:
    """When the check last moved: its worker's latest progress report, else when it was asked."""
    return check.progress_at or check.created_at


def _stall_bound() -> timedelta:
    return timedelta(seconds=settings.AMEND_CHECK_STALL_SECONDS)


def _stalled(check: FactCheck, now: datetime) -> bool:
    return check.state == CheckState.RUNNING and last_progress(check) <= now - _stall_bound()


def _give_up_on_stalled(check: FactCheck, *, by: str) -> FactCheck:
    """Inside the caller's transaction, the check locked: fail a running check that made no progress for the
    stall bound, saying since when; a message of it still waiting for the broker is dropped. A worker that
    still had it finds it no longer running (its progress and report are not taken)."""
    since = last_progress(check)
    when = since.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if check.progress_at is None:
        where = "no worker started it"
    else:
        where = f"{check.facts_checked} of {check.facts_total} facts asked"
    check.state, check.finished_at = CheckState.FAILED, timezone.now()
    check.error = f"no progress since {when} ({where}); the worker may have stopped"
    check.save(update_fields=["state", "error", "finished_at"])
    cancel_pending(tasks.CHECK_LINE.subject_of((check.pk,)))
    record_event(
        None,
        "check.failed",
        check,
        after={
            "error": check.error,
            "stalled": True,
            "last_progress": since.isoformat(),
            "stall_seconds": settings.AMEND_CHECK_STALL_SECONDS,
            "by": by,
        },
        model_line_id=check.model_line_id,
    )
    return check


@transaction.atomic(durable=True)
def fail_stalled_check(check: FactCheck) -> FactCheck | None:
    """Fail one running check that made no progress for AMEND_CHECK_STALL_SECONDS; None (and nothing written)
    when it finished, failed or progressed meanwhile."""
    check = FactCheck.objects.select_for_update().get(pk=check.pk)
    if not _stalled(check, timezone.now()):
        return None
    return _give_up_on_stalled(check, by="sweeper")


def sweep_stalled_checks() -> list[FactCheck]:
    """For the beat: fail every running check with no progress for the stall bound, each in its own transaction."""
    cutoff = timezone.now() - _stall_bound()
    stalled = FactCheck.objects.filter(state=CheckState.RUNNING).filter(
        Q(progress_at__lte=cutoff) | Q(progress_at=None, created_at__lte=cutoff)
    )
    failed = (fail_stalled_check(check) for check in stalled.only("pk").order_by("pk"))
    return [check for check in failed if check is not None]


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
