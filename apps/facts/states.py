"""The fact state machine: which transitions exist, which states count as live on a model line, and
the words every page shows for the states of facts and change sets."""

from apps.facts.models import DUPLICATE_STATES as DUPLICATE_STATES  # with the model: its constraint is made of it
from apps.facts.models import ChangeSetState, FactState, ImportChannel

S = FactState

# from-state -> the states it may move to. Anything else raises TransitionError.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.SUBMITTED: frozenset({S.APPROVED, S.REJECTED, S.CHANGES_REQUESTED, S.WITHDRAWN}),
    S.CHANGES_REQUESTED: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    # Until the pipeline claims it, an approved fact can still be withdrawn by its curator.
    S.APPROVED: frozenset({S.QUEUED, S.WITHDRAWN}),
    # Pipeline states: a claimed batch is applied, held by a failed gate, or handed back to the queue; a fact
    # its own version did not say (its edit did not take) is regressed, to be retried by the next batch.
    S.QUEUED: frozenset({S.APPLIED, S.HELD, S.APPROVED, S.REGRESSED}),
    # Held or rolled back, a fact is never stranded: its curator retries it as it is (approved, for the
    # next batch), reopens it to edit and resubmit (changes requested), or withdraws it.
    S.HELD: frozenset({S.QUEUED, S.APPROVED, S.REJECTED, S.WITHDRAWN, S.CHANGES_REQUESTED}),
    # A later version no longer says an applied fact: regressed (re-applied by the next batch), or held once
    # it kept regressing past the line's limit.
    S.APPLIED: frozenset({S.ROLLED_BACK, S.REVERTED, S.REGRESSED, S.HELD}),
    # Re-applied in the next batch (queued), said again (applied), or taken out like an applied fact.
    S.REGRESSED: frozenset({S.QUEUED, S.APPLIED, S.HELD, S.ROLLED_BACK, S.REVERTED, S.WITHDRAWN}),
    # Production pointed back at an older version: the fact may come back (roll forward) or be reverted.
    S.ROLLED_BACK: frozenset({S.APPLIED, S.QUEUED, S.APPROVED, S.REVERTED, S.CHANGES_REQUESTED, S.WITHDRAWN}),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.REVERTED: frozenset(),
}

# A fact in one of these states is what the model line says (or will say): conflicts are checked against them.
LIVE_STATES: frozenset[str] = frozenset({S.SUBMITTED, S.APPROVED, S.QUEUED, S.APPLIED, S.REGRESSED})
# The curator may still change the content.
EDITABLE_STATES: frozenset[str] = frozenset({S.DRAFT, S.CHANGES_REQUESTED})
# Not yet approved: the fact may still be declared to replace another with the same prompt.
SUPERSEDABLE_STATES: frozenset[str] = frozenset({S.DRAFT, S.SUBMITTED, S.CHANGES_REQUESTED})
# Reviews judge a fact waiting in the queue, nothing else.
REVIEWABLE_STATES: frozenset[str] = frozenset({S.SUBMITTED})
# Out of the model and waiting for a person: retry as is, edit and resubmit, or withdraw.
RETRYABLE_STATES: frozenset[str] = frozenset({S.HELD, S.ROLLED_BACK})
# The reason a fact is held once it regressed more often than its line re-applies it (the pipeline never
# brings such a fact back into production by itself: its curator edits and resubmits it, or withdraws it).
KEEPS_REGRESSING = "keeps regressing"
TERMINAL_STATES: frozenset[str] = frozenset(state for state, targets in TRANSITIONS.items() if not targets)


def can_transition(from_state: str, to_state: str) -> bool:
    return to_state in TRANSITIONS.get(from_state, frozenset())


def transition_refusal(from_state: str, to_state: str) -> str:
    """The reason a transition is refused, in words."""
    allowed = sorted(TRANSITIONS.get(from_state, frozenset()))
    if not allowed:
        return f"a {from_state} fact is final and cannot become {to_state}"
    return f"a {from_state} fact cannot become {to_state} (allowed: {', '.join(allowed)})"


FACT_STATES: dict[str, str] = {
    FactState.DRAFT: "Draft",
    FactState.SUBMITTED: "Submitted",
    FactState.CHANGES_REQUESTED: "Changes requested",
    FactState.APPROVED: "Approved",
    FactState.REJECTED: "Rejected",
    FactState.WITHDRAWN: "Withdrawn",
    FactState.QUEUED: "Queued",
    FactState.APPLIED: "Applied",
    FactState.REGRESSED: "Regressed",
    FactState.HELD: "Held",
    FactState.ROLLED_BACK: "Rolled back",
    FactState.REVERTED: "Reverted",
}
DID_NOT_TAKE = "Did not take"

CHANGE_SET_STATES: dict[str, str] = {
    ChangeSetState.IMPORTING: "Importing",
    ChangeSetState.FAILED: "Import failed",
    ChangeSetState.SUBMITTED: "In review",
    ChangeSetState.CHANGES_REQUESTED: "Changes requested",
    ChangeSetState.APPROVED: "Approved",
    ChangeSetState.REJECTED: "Rejected",
}

# How a change set came in, as its page's first line says it ("imported by ann for model line geo …").
IMPORT_CHANNELS: dict[str, str] = {
    ImportChannel.UI: "through the upload page",
    ImportChannel.API: "through the API",
    ImportChannel.COMMAND: "with manage.py import_facts",
}
