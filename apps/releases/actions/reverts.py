"""Reverts: taking one applied fact out of production by rebuilding the lineage without it.

The plan of which batches to replay is a read, `apps.releases.queries.revert_plan`.
"""

from django.db import transaction

from apps.audit.record import record_event
from apps.core.errors import TransitionError
from apps.facts.models import FactEdit, FactState
from apps.outbox import tasks
from apps.outbox.send import enqueue
from apps.releases.actions.common import User, facts_content_hash, locked_line, operator_reason
from apps.releases.models import Batch, BatchKind, BatchState, BatchTrigger
from apps.releases.queries import applied_fact_ids, production_version


@transaction.atomic(durable=True)
def revert_fact(actor: User, fact: FactEdit, reason: str) -> Batch:
    """Take one applied fact out of production: a revert batch rebuilds the lineage without it.

    The worker replays the later batches from the version before the fact's batch; nothing is erased.
    """
    reason = operator_reason(actor, "revert a fact", reason, "this fact is reverted")
    line = locked_line(fact.model_line_id)
    fact = FactEdit.objects.get(pk=fact.pk)
    current = production_version(line)
    if fact.state != FactState.APPLIED or current is None or fact.pk not in applied_fact_ids(current):
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
    enqueue(tasks.APPLY_BATCH, batch.pk)
    return batch
