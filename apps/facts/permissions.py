"""Who may do what to a fact: the one statement of the rules that the actions enforce and the pages offer.

The actions (apps/facts/actions/) refuse through `require_*` here (PermissionDenied, HTTP 403) when a
predicate says no; the fact page asks `offered_actions` which buttons to show. Which states allow what
is apps.facts.states'; the actions refuse a wrong state with TransitionError (HTTP 409).

Superusers hold every role (apps.accounts.roles) and may also act for any curator on that curator's
facts (edit, submit, withdraw, supersede), so an administrator can unblock a fact whose curator left.
They still never review a fact they submitted themselves.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied

from apps.accounts.roles import Role, has_role
from apps.facts.models import ChangeSet, FactEdit, FactState, ReviewDecision
from apps.facts.states import (
    EDITABLE_STATES,
    RETRYABLE_STATES,
    REVIEWABLE_STATES,
    SUPERSEDABLE_STATES,
    can_transition,
)

User = AbstractBaseUser | AnonymousUser | None


def submitted_by(user: User, fact: FactEdit) -> bool:
    """Whether `user` is the person who submitted the fact (what "your own fact" means)."""
    return user is not None and user.pk is not None and fact.submitter_id == user.pk


def acts_as_curator_of(user: User, fact: FactEdit) -> bool:
    """The fact's curator, or a superuser acting for them: who may change its content and submit it."""
    return has_role(user, Role.CURATOR) and (submitted_by(user, fact) or bool(user and user.is_superuser))


def may_withdraw(user: User, fact: FactEdit) -> bool:
    """Its curator takes the fact back; an operator may take any fact off the road to the model."""
    return acts_as_curator_of(user, fact) or has_role(user, Role.OPERATOR)


def may_review(user: User, fact: FactEdit) -> bool:
    """A reviewer judges other people's facts, never their own."""
    return has_role(user, Role.REVIEWER) and not submitted_by(user, fact)


def imported_by(user: User, change_set: ChangeSet) -> bool:
    """Whether `user` imported the change set (what "your own change set" means)."""
    return user is not None and user.pk is not None and change_set.importer_id == user.pk


def acts_as_importer_of(user: User, change_set: ChangeSet) -> bool:
    """The set's curator, or a superuser acting for them: who may resubmit it."""
    return has_role(user, Role.CURATOR) and (imported_by(user, change_set) or bool(user and user.is_superuser))


def may_review_change_set(user: User, change_set: ChangeSet) -> bool:
    """A reviewer judges other people's change sets, never one they imported."""
    return has_role(user, Role.REVIEWER) and not imported_by(user, change_set)


def may_exclude_rows(user: User, change_set: ChangeSet) -> bool:
    """Its reviewers (not the importer) take rows out while deciding; its importer may too, when fixing it."""
    return may_review_change_set(user, change_set) or acts_as_importer_of(user, change_set)


def may_resubmit_change_set(user: User, change_set: ChangeSet) -> bool:
    return acts_as_importer_of(user, change_set)


def offered_change_set_actions(user: User, change_set: ChangeSet) -> dict[str, bool]:
    """Which forms the change set page shows; the actions decide again when used."""
    open_states = ("submitted", "changes_requested")
    return {
        "review": may_review_change_set(user, change_set) and change_set.state == "submitted",
        "exclude": may_exclude_rows(user, change_set) and change_set.state in open_states,
        "resubmit": may_resubmit_change_set(user, change_set) and change_set.state == "changes_requested",
    }


def may_mark_superseding(user: User, fact: FactEdit) -> bool:
    """Its curator, a reviewer or an operator may say that the fact replaces another (resolving a conflict)."""
    return acts_as_curator_of(user, fact) or has_role(user, Role.REVIEWER) or has_role(user, Role.OPERATOR)


def current_approvals(fact: FactEdit) -> int:
    """How many reviewers approved the fact's current revision (an edit makes earlier approvals stale)."""
    return (
        fact.reviews.filter(fact_revision=fact.revision, decision=ReviewDecision.APPROVE)
        .values("reviewer")
        .distinct()
        .count()
    )


def has_enough_approvals(fact: FactEdit) -> bool:
    """The line's number of approvals of this revision, and no rejection of it standing."""
    rejected = fact.reviews.filter(fact_revision=fact.revision, decision=ReviewDecision.REJECT).exists()
    return not rejected and current_approvals(fact) >= fact.model_line.approvals_required


def offered_actions(user: User, fact: FactEdit, *, has_conflicts: bool) -> dict[str, bool]:
    """Which buttons the fact page shows; the actions decide again, with the same predicates, when pressed."""
    return {
        "edit": acts_as_curator_of(user, fact) and fact.state in EDITABLE_STATES,
        "submit": acts_as_curator_of(user, fact) and can_transition(fact.state, FactState.SUBMITTED),
        "withdraw": may_withdraw(user, fact) and can_transition(fact.state, FactState.WITHDRAWN),
        # A row of a change set is reviewed with its set, on the set's page.
        "review": may_review(user, fact) and fact.state in REVIEWABLE_STATES and fact.change_set_id is None,
        "supersede": has_conflicts and may_mark_superseding(user, fact) and fact.state in SUPERSEDABLE_STATES,
        # Held or rolled back: back to the next batch as it is (its curator or an operator) ...
        "retry": may_withdraw(user, fact) and fact.state in RETRYABLE_STATES,
        # ... or back to its curator to edit and resubmit through review.
        "reopen": acts_as_curator_of(user, fact) and fact.state in RETRYABLE_STATES,
    }


def require_curator_of(user: User, fact: FactEdit, what: str) -> None:
    if not acts_as_curator_of(user, fact):
        raise PermissionDenied(f"only the curator who submitted the fact may {what}")
