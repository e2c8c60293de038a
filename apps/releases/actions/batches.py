"""Batches: cutting approved facts into one, counting its deliveries to a GPU worker, failing it."""

from collections import defaultdict
from collections.abc import Collection

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from apps.accounts.roles import Role, require_role
from apps.audit.record import record_event
from apps.core.errors import TransitionError
from apps.facts.actions import transition_facts
from apps.facts.models import FactEdit, FactState
from apps.facts.outcomes import edit_took
from apps.modellines.models import ModelLine
from apps.outbox import tasks
from apps.outbox.send import enqueue
from apps.releases.actions.common import (
    User,
    facts_content_hash,
    locked_line,
    person,
)
from apps.releases.models import Batch, BatchKind, BatchState, BatchTrigger


def _reapplied_because(fact: FactEdit) -> str:
    """Why a regressed fact rides the batch: its own version did not say it, or a later one no longer did."""
    if edit_took(fact.results) is False and fact.results.get("version") == fact.regressed_in:
        return f"not taking in v{fact.regressed_in}"
    return f"regressing in v{fact.regressed_in}"


@transaction.atomic(durable=True)
def cut_batch(actor: User | None, model_line: ModelLine, *, trigger: str) -> Batch | None:
    """Cut the oldest approved facts of the line (at most `batch_size`) into an immutable batch, with every
    regressed fact of the line re-applied in it (beyond the size: a repair or a retry of an edit that did not
    take, under the review that approved it).

    Returns None when there is nothing to cut. The facts become `queued`; a GPU worker applies it.
    """
    line = locked_line(model_line)
    regressed = list(
        FactEdit.objects.select_for_update(skip_locked=True)
        .filter(model_line=line, state=FactState.REGRESSED)
        .order_by("regressed_at", "id")
    )
    approved = list(
        FactEdit.objects.select_for_update(skip_locked=True)
        .filter(model_line=line, state=FactState.APPROVED)
        .order_by("approved_at", "id")[: line.batch_size]
    )
    facts = regressed + approved
    if not facts:
        return None
    batch = Batch.objects.create(
        model_line=line,
        kind=BatchKind.RELEASE,
        trigger=trigger,
        fact_ids=[fact.pk for fact in facts],
        content_hash=facts_content_hash(facts),
        created_by=person(actor),
    )
    by_cause: dict[str, list[FactEdit]] = defaultdict(list)
    for fact in regressed:
        by_cause[_reapplied_because(fact)].append(fact)
    for cause, again in sorted(by_cause.items()):
        transition_facts(None, again, FactState.QUEUED, reason=f"re-applied after {cause}: in batch {batch.pk}")
    if approved:
        transition_facts(None, approved, FactState.QUEUED, reason=f"in batch {batch.pk}")
    record_event(
        actor,
        "batch.cut",
        batch,
        after={
            "trigger": trigger,
            "fact_ids": batch.fact_ids,
            "content_hash": batch.content_hash,
            **({"reapplied": [fact.pk for fact in regressed]} if regressed else {}),
        },
        model_line_id=line.pk,
    )
    enqueue(tasks.APPLY_BATCH, batch.pk)
    return batch


def release_now(actor: User, model_line: ModelLine) -> Batch:
    """An operator cuts a batch without waiting for its size or its maximum wait."""
    require_role(actor, Role.OPERATOR, "release a batch now")
    batch = cut_batch(actor, model_line, trigger=BatchTrigger.RELEASE_NOW)
    if batch is None:
        raise TransitionError(f"model line {model_line.name} has no approved or regressed facts waiting for a batch")
    return batch


def cut_due_batches() -> list[Batch]:
    """For the beat: cut every line that has `batch_size` approved facts, or whose oldest approved or
    regressed fact waited `max_wait` (regressed facts are repaired even when no new fact comes)."""
    now = timezone.now()
    batches = []
    for line in ModelLine.objects.all():
        while True:
            waiting = FactEdit.objects.filter(model_line=line, state=FactState.APPROVED)
            count = waiting.count()
            oldest = min(
                (
                    stamp
                    for stamp in (
                        waiting.aggregate(oldest=Min("approved_at"))["oldest"],
                        FactEdit.objects.filter(model_line=line, state=FactState.REGRESSED).aggregate(
                            oldest=Min("regressed_at")
                        )["oldest"],
                    )
                    if stamp is not None
                ),
                default=None,
            )
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


@transaction.atomic(durable=True)
def count_delivery(batch_id: int) -> Batch:
    """Count one start of the apply task in the database (a worker that died cannot count its own death)."""
    batch = Batch.objects.select_for_update().get(pk=batch_id)
    if batch.state == BatchState.PENDING:
        batch.deliveries += 1
        batch.save(update_fields=["deliveries"])
    return batch


@transaction.atomic(durable=True)
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


@transaction.atomic(durable=True)
def fail_batch(batch: Batch, reason: str, *, facts_to: str = FactState.HELD, hold: Collection[int] = ()) -> Batch:
    """The batch will produce no version. Its facts are held with the reason (or handed back to the queue,
    all but those in `hold`: the facts to blame, held whatever `facts_to` says)."""
    return mark_batch_failed(batch, reason, facts_to=facts_to, hold=hold)


def mark_batch_failed(
    batch: Batch, reason: str, *, facts_to: str = FactState.HELD, hold: Collection[int] = ()
) -> Batch:
    """fail_batch inside the caller's transaction (cancelling or sweeping a batch)."""
    batch = Batch.objects.select_for_update().get(pk=batch.pk)
    if batch.state != BatchState.PENDING:
        return batch
    batch.state = BatchState.FAILED
    batch.failure_reason = reason
    batch.finished_at = timezone.now()
    batch.save(update_fields=["state", "failure_reason", "finished_at"])
    if batch.kind == BatchKind.RELEASE:
        queued = FactEdit.objects.filter(pk__in=batch.fact_ids, state=FactState.QUEUED)
        why = f"batch {batch.pk} failed: {reason}"
        transition_facts(None, queued.filter(pk__in=hold), FactState.HELD, reason=why)
        transition_facts(None, queued.exclude(pk__in=hold), facts_to, reason=why)
    after = {"reason": reason, **({"held": sorted(hold)} if hold else {})}
    record_event(None, "batch.failed", batch, after=after, model_line_id=batch.model_line_id)
    return batch
