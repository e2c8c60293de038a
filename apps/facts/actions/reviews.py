"""A reviewer's write: approve, reject or request changes, moving the fact when the decision settles it."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.accounts.roles import Role, require_role
from apps.audit.record import record_event
from apps.core.errors import TransitionError
from apps.facts import permissions
from apps.facts.actions.state import in_step, locked_fact, move_fact
from apps.facts.conflicts import blocking_conflicts
from apps.facts.errors import ConflictError
from apps.facts.models import FactEdit, FactState, Review, ReviewDecision
from apps.facts.states import REVIEWABLE_STATES
from apps.facts.validation import MAX_RATIONALE, clean_text

User = AbstractBaseUser

# Where a fact goes when a review settles it (approval only once enough reviewers agree).
_MOVES = {
    ReviewDecision.REJECT: (FactState.REJECTED, "fact.rejected"),
    ReviewDecision.REQUEST_CHANGES: (FactState.CHANGES_REQUESTED, "fact.changes_requested"),
    ReviewDecision.APPROVE: (FactState.APPROVED, "fact.approved"),
}


def _refuse_blocked_approval(actor: User, fact: FactEdit) -> None:
    if fact.reviews.filter(fact_revision=fact.revision, reviewer=actor, decision=ReviewDecision.APPROVE).exists():
        raise TransitionError("you already approved this revision of the fact")
    conflicts = blocking_conflicts(fact)
    if conflicts:
        ids = ", ".join(f"#{other.pk}" for other in conflicts)
        raise ConflictError(
            f"conflicts with fact {ids} (same prompt, another target): withdraw it or mark this fact "
            "as superseding it first"
        )


def clean_review(actor: User, what: str, decision: str, comment: str) -> str:
    """A reviewer's decision and comment, checked: the role (403), a known decision and a comment (400)."""
    require_role(actor, Role.REVIEWER, f"review {what}")
    if decision not in ReviewDecision.values:
        raise ValidationError({"decision": f"must be one of {', '.join(ReviewDecision.values)}"})
    return clean_text("comment", comment, max_length=MAX_RATIONALE, multiline=True)


@transaction.atomic(durable=True)
def review_fact(actor: User, fact: FactEdit, decision: str, comment: str) -> Review:
    """A reviewer approves, rejects or requests changes. Approval needs the line's number of current
    approvals (of this revision), no standing rejection, and no unresolved conflict. A row of a change
    set is refused (409): its set is reviewed as one (apps.facts.changesets.actions.review)."""
    comment = clean_review(actor, "facts", decision, comment)
    current = locked_fact(fact)
    if not permissions.may_review(actor, current):
        raise PermissionDenied("nobody reviews their own fact")
    if current.state not in REVIEWABLE_STATES:
        raise TransitionError(f"only a submitted fact can be reviewed; this one is {current.state}")
    if current.change_set_id is not None:
        raise TransitionError(
            f"fact #{current.pk} is a row of change set #{current.change_set_id}: review the change set as a whole"
        )
    if decision == ReviewDecision.APPROVE:
        _refuse_blocked_approval(actor, current)
    review = Review.objects.create(
        fact=current, reviewer=actor, decision=decision, comment=comment, fact_revision=current.revision
    )
    record_event(
        actor,
        f"review.{decision}",
        review,
        after={"decision": decision, "comment": comment, "fact_revision": current.revision},
        model_line_id=current.model_line_id,
        fact_id=current.pk,
    )
    if decision != ReviewDecision.APPROVE or permissions.has_enough_approvals(current):
        to_state, action = _MOVES[decision]
        move_fact(actor, current, to_state, action=action, reason=comment)
    in_step(fact, current)
    return review
