"""Moving facts between states: the one place a fact's state changes, and the pipeline's bulk moves."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.roles import Role, has_role
from apps.audit.record import record_event, record_events
from apps.core.errors import TransitionError
from apps.facts.models import FactEdit, FactState
from apps.facts.states import can_transition, transition_refusal

User = AbstractBaseUser

# A state that stamps the moment the fact reached it (the queue and the batch cutter sort by them).
_STAMPED = {FactState.SUBMITTED: "submitted_at", FactState.APPROVED: "approved_at"}
# Ids per UPDATE in bulk moves: well under PostgreSQL's 65,535 bound parameters per statement.
_UPDATE_CHUNK = 5000


def locked_fact(fact: FactEdit) -> FactEdit:
    """The fact's current row, locked until the transaction ends (two reviewers at once see one another)."""
    return FactEdit.objects.select_for_update().get(pk=fact.pk)


def in_step(caller: FactEdit, current: FactEdit) -> FactEdit:
    """Keep the caller's object in step with the database, so they can keep using it."""
    if caller is not current:
        caller.refresh_from_db()
    return caller


def move_fact(
    actor: User | None, fact: FactEdit, to_state: str, *, action: str, reason: str = "", **extra: Any
) -> None:
    """Change the state of a locked fact and write the event, or raise TransitionError."""
    if not can_transition(fact.state, to_state):
        raise TransitionError(transition_refusal(fact.state, to_state))
    before = {"state": fact.state, "state_reason": fact.state_reason}
    fact.state = to_state
    fact.state_reason = reason
    update_fields = ["state", "state_reason", "updated_at"]
    if to_state in _STAMPED:
        setattr(fact, _STAMPED[to_state], timezone.now())
        update_fields.append(_STAMPED[to_state])
    for name, value in extra.items():
        setattr(fact, name, value)
        update_fields.append(name)
    fact.save(update_fields=update_fields)
    after = {"state": fact.state, "state_reason": fact.state_reason, **extra}
    record_event(actor, action, fact, before=before, after=after, model_line_id=fact.model_line_id, fact_id=fact.pk)


@transaction.atomic
def transition_facts(
    actor: User | None,
    facts: Iterable[FactEdit | int],
    to_state: str,
    reason: str = "",
    results: Mapping[int, dict] | None = None,
) -> list[FactEdit]:
    """Move several facts at once (the release pipeline: queued, applied, held, rolled back, reverted).

    All or nothing: if one fact may not move, none moves and TransitionError names it. `actor` None
    is automation; a person must be an operator. `results` maps a fact id to its evaluation results.
    """
    if actor is not None and not has_role(actor, Role.OPERATOR):
        raise PermissionDenied("only an operator or the pipeline may move facts through the release states")
    if to_state not in FactState.values:
        raise ValidationError({"to_state": f"unknown state {to_state!r}"})
    ids = sorted({fact.pk if isinstance(fact, FactEdit) else int(fact) for fact in facts})
    locked = list(FactEdit.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    missing = set(ids) - {fact.pk for fact in locked}
    if missing:
        raise TransitionError(f"no such fact: {', '.join(f'#{pk}' for pk in sorted(missing))}")
    for fact in locked:
        if not can_transition(fact.state, to_state):
            raise TransitionError(f"fact #{fact.pk}: {transition_refusal(fact.state, to_state)}")
    results = results or {}
    for fact in locked:
        extra = {"results": results[fact.pk]} if fact.pk in results else {}
        move_fact(actor, fact, to_state, action=f"fact.{to_state}", reason=reason, **extra)
    return locked


def move_many(
    actor: User | None,
    facts: QuerySet[FactEdit],
    to_state: str,
    *,
    action: str,
    reason: str = "",
    note: Mapping[str, Any] | None = None,
) -> list[int]:
    """move_fact for thousands of facts at once (a change set's decision): one UPDATE, one bulk insert of
    their audit events, inside the caller's transaction. All or nothing: a fact that may not move raises
    TransitionError naming it. `note` is added to every event (e.g. the change set)."""
    rows = list(facts.select_for_update().order_by("pk").values_list("pk", "state", "state_reason", "model_line_id"))
    for pk, state, _, _ in rows:
        if not can_transition(state, to_state):
            raise TransitionError(f"fact #{pk}: {transition_refusal(state, to_state)}")
    now = timezone.now()
    stamps = {_STAMPED[to_state]: now} if to_state in _STAMPED else {}
    ids = [row[0] for row in rows]
    for start in range(0, len(ids), _UPDATE_CHUNK):
        chunk = ids[start : start + _UPDATE_CHUNK]
        FactEdit.objects.filter(pk__in=chunk).update(state=to_state, state_reason=reason, updated_at=now, **stamps)
    after = {"state": to_state, "state_reason": reason, **(note or {})}
    record_events(
        actor,
        (
            {
                "action": action,
                "obj": f"factedit:{pk}",
                "before": {"state": state, "state_reason": state_reason},
                "after": after,
                "model_line_id": line_id,
                "fact_id": pk,
            }
            for pk, state, state_reason, line_id in rows
        ),
    )
    return ids
