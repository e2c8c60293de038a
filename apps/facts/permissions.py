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
from apps.facts.models import FactEdit, FactState, ReviewDecision
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
        "review": may_review(user, fact) and fact.state in REVIEWABLE_STATES,
        "supersede": has_conflicts and may_mark_superseding(user, fact) and fact.state in SUPERSEDABLE_STATES,
        # Held or rolled back: back to the next batch as it is (its curator or an operator) ...
        "retry": may_withdraw(user, fact) and fact.state in RETRYABLE_STATES,
        # ... or back to its curator to edit and resubmit through review.
        "reopen": acts_as_curator_of(user, fact) and fact.state in RETRYABLE_STATES,
    }


def require_role(user: User, role: Role, what: str) -> None:
    if not has_role(user, role):
        raise PermissionDenied(f"only a {role.value} may {what}")


def require_curator_of(user: User, fact: FactEdit, what: str) -> None:
    if not acts_as_curator_of(user, fact):
        raise PermissionDenied(f"only the curator who submitted the fact may {what}")
