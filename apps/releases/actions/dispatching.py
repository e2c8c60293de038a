"""Batches on their way to a worker: an operator re-sends or cancels one, the sweeper rescues stranded ones.

A batch is stranded when its task never reached a worker: the broker was down (its outbox message is
still pending: the dispatcher keeps trying), or the broker lost it (a Redis restarted without
persistence). The sweeper re-sends a batch no worker started within AMEND_BATCH_PICKUP_SECONDS of its
last send, AMEND_BATCH_MAX_RESENDS times at most; then the batch fails and its facts go back to
`approved`, to be cut again. A started batch is abandoned when no worker holds its lineage and none
reported a stage within AMEND_BATCH_STALL_SECONDS (its worker gave up on an unreachable database);
the sweeper treats it the same way. Refusals: PermissionDenied (403), ValidationError (400), TransitionError (409).
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.roles import Role, require_role
from apps.audit.record import record_event
from apps.core.errors import TransitionError
from apps.facts.models import FactState
from apps.outbox import tasks
from apps.outbox.models import OutboxMessage, OutboxState
from apps.outbox.queries import latest
from apps.outbox.send import cancel_pending, enqueue
from apps.releases.actions.batches import mark_batch_failed
from apps.releases.actions.common import User, operator_reason
from apps.releases.locks import lineage_busy
from apps.releases.models import Batch, BatchState


def _subject(batch: Batch) -> str:
    return f"batch:{batch.pk}"


def _untouched(batch_id: int, what: str) -> Batch:
    """The batch, locked, still pending and not started by any worker; TransitionError otherwise."""
    batch = Batch.objects.select_for_update().get(pk=batch_id)
    if batch.state != BatchState.PENDING:
        raise TransitionError(f"batch {batch.pk} is {batch.state}: there is nothing to {what}")
    if batch.deliveries or batch.retries:
        raise TransitionError(f"a worker has started batch {batch.pk}: it cannot be {what}ed now")
    return batch


@transaction.atomic(durable=True)
def resend_batch(actor: User, batch: Batch) -> Batch:
    """An operator sends a pending batch to the workers again (the earlier message, if waiting, is dropped).

    Refused (409) once a worker has started it or when it is no longer pending.
    """
    require_role(actor, Role.OPERATOR, "re-send a batch")
    batch = _untouched(batch.pk, "re-send")
    cancel_pending(_subject(batch))
    enqueue(tasks.APPLY_BATCH, batch.pk)
    record_event(actor, "batch.resent", batch, after={"by": "operator"}, model_line_id=batch.model_line_id)
    return batch


@transaction.atomic(durable=True)
def cancel_batch(actor: User, batch: Batch, reason: str) -> Batch:
    """An operator cancels a batch no worker has started: it fails, its facts go back to `approved`.

    Refused: no reason (400), a worker started it or it is not pending (409).
    """
    reason = operator_reason(actor, "cancel a batch", reason, "the batch is cancelled")
    batch = _untouched(batch.pk, "cancel")
    cancel_pending(_subject(batch))
    record_event(actor, "batch.cancelled", batch, after={"reason": reason}, model_line_id=batch.model_line_id)
    return mark_batch_failed(batch, f"cancelled by {actor.get_username()}: {reason}", facts_to=FactState.APPROVED)


@transaction.atomic(durable=True)
def _sweep_one(batch_id: int, now, bound: timedelta, *, started: bool) -> str:
    """Re-send (or fail) one batch found stranded: never started (`started` False) or abandoned by its worker."""
    batch = Batch.objects.select_for_update().get(pk=batch_id)
    if batch.state != BatchState.PENDING:
        return ""
    if started and batch.stage_at and batch.stage_at > now - bound:
        return ""  # its worker reported a stage meanwhile
    if not started and (batch.deliveries or batch.retries):
        return ""  # a worker took it meanwhile
    message = latest(_subject(batch), tasks.APPLY_BATCH.name)
    if message is not None and (message.state == OutboxState.PENDING or message.sent_at > now - bound):
        return ""  # still with the dispatcher, or sent recently enough
    sent = OutboxMessage.objects.filter(subject=_subject(batch), task=tasks.APPLY_BATCH.name, state=OutboxState.SENT)
    sends = sent.count()
    if sends > settings.AMEND_BATCH_MAX_RESENDS:
        what = "its worker stopped answering" if started else "no worker took this batch"
        mark_batch_failed(batch, f"{what} in {sends} sends, {bound} apart", facts_to=FactState.APPROVED)
        return "failed"
    enqueue(tasks.APPLY_BATCH, batch.pk)
    after = {"by": "sweeper", "sends": sends, **({"why": "abandoned"} if started else {})}
    record_event(None, "batch.resent", batch, after=after, model_line_id=batch.model_line_id)
    return "resent"


def sweep_stranded_batches() -> dict[int, str]:
    """Re-send (or at last fail) every pending batch no worker started within the pickup bound of its send,
    and every started one whose worker is gone (its lineage free, no stage reported within the stall bound:
    the database stayed unreachable past the worker's retries, or the message was lost with the worker)."""
    now = timezone.now()
    bound = timedelta(seconds=settings.AMEND_BATCH_PICKUP_SECONDS)
    pending = Batch.objects.filter(state=BatchState.PENDING)
    outcome = {}
    for batch_id in pending.filter(deliveries=0, retries=0, created_at__lte=now - bound).values_list("pk", flat=True):
        done = _sweep_one(batch_id, now, bound, started=False)
        if done:
            outcome[batch_id] = done
    stall = timedelta(seconds=settings.AMEND_BATCH_STALL_SECONDS)
    started = pending.exclude(deliveries=0, retries=0).filter(created_at__lte=now - stall)
    for batch_id, line_id in started.values_list("pk", "model_line_id"):
        done = "" if lineage_busy(line_id) else _sweep_one(batch_id, now, stall, started=True)
        if done:
            outcome[batch_id] = done
    return outcome
