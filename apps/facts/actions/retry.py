"""The next step for a fact the model does not hold (held by a gate, or rolled back): retry it as it
is in the next batch, or reopen it so its curator edits and resubmits it through review."""

from django.core.exceptions import PermissionDenied
from django.db import transaction

from apps.core.errors import TransitionError
from apps.facts import permissions
from apps.facts.actions.state import User, in_step, locked_fact, move_fact
from apps.facts.models import FactEdit, FactState
from apps.facts.states import RETRYABLE_STATES


def _refuse_unless_retryable(fact: FactEdit) -> None:
    if fact.state not in RETRYABLE_STATES:
        raise TransitionError(
            f"only a held or rolled-back fact can be sent back; fact #{fact.pk} is {fact.get_state_display().lower()}"
        )


@transaction.atomic(durable=True)
def retry_fact(actor: User, fact: FactEdit) -> FactEdit:
    """Back to approved, unchanged: the next batch takes it, built on the line's current head.
    Its approvals stand because its content did not change."""
    if not permissions.may_withdraw(actor, fact):  # the same people who may take it off the road
        raise PermissionDenied("only the fact's curator or an operator may send it back to the next batch")
    current = locked_fact(fact)
    _refuse_unless_retryable(current)
    reason = f"sent back as it is for the next batch by {actor.get_username()} (was {current.state})"
    move_fact(actor, current, FactState.APPROVED, action="fact.resubmitted", reason=reason)
    return in_step(fact, current)


@transaction.atomic(durable=True)
def reopen_fact(actor: User, fact: FactEdit) -> FactEdit:
    """Back to its curator to edit: an edit drops the approvals, so it is reviewed again on submit."""
    permissions.require_curator_of(actor, fact, "reopen the fact to edit it")
    current = locked_fact(fact)
    _refuse_unless_retryable(current)
    reason = f"reopened by its curator to edit and resubmit (was {current.state})"
    move_fact(actor, current, FactState.CHANGES_REQUESTED, action="fact.reopened", reason=reason)
    return in_step(fact, current)
