"""Reviewing a change set as a unit: one decision for all its rows, rows excluded with a reason, resubmission.

The rules of single facts hold for the set: never its importer, the line's number of approvals of the
set's current revision, no standing rejection, conflicts (with live facts or within the set) block
approval; every change of the set bumps its revision, so earlier approvals no longer count. The
settling decision moves every row in one UPDATE and writes every row's event in one bulk insert.
Refusals:
- PermissionDenied: wrong role, the importer reviewing their own set, not the importer (HTTP 403);
- ValidationError keyed "decision", "comment", "reason" or "rows" (HTTP 400);
- TransitionError: the set is not in the state for it, changed since the reviewer opened it, or was
  already approved by this reviewer; ConflictError while a conflict stands (HTTP 409).
"""

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from apps.audit.record import record_event
from apps.core.errors import TransitionError
from apps.facts import permissions
from apps.facts.actions.reviews import clean_review
from apps.facts.actions.state import User, move_many
from apps.facts.changesets import queries
from apps.facts.changesets.actions.importing import ask_sample
from apps.facts.errors import ConflictError
from apps.facts.models import ChangeSet, ChangeSetReview, ChangeSetState, FactState, ReviewDecision
from apps.facts.validation import MAX_RATIONALE, clean_text

# Where the set and its rows go when a review settles it.
_SETTLES = {
    ReviewDecision.APPROVE: (ChangeSetState.APPROVED, FactState.APPROVED),
    ReviewDecision.REJECT: (ChangeSetState.REJECTED, FactState.REJECTED),
    ReviewDecision.REQUEST_CHANGES: (ChangeSetState.CHANGES_REQUESTED, FactState.CHANGES_REQUESTED),
}


def _locked(change_set: ChangeSet) -> ChangeSet:
    """The set's current row, locked: two reviewers deciding at once see one another."""
    return ChangeSet.objects.select_for_update().select_related("model_line", "importer").get(pk=change_set.pk)


def _refuse_blocked_approval(actor: User, change_set: ChangeSet) -> None:
    if any(review.reviewer_id == actor.pk for review in queries.current_approvals(change_set)):
        raise TransitionError("you already approved this revision of the change set")
    if not queries.rows_in_play(change_set).exists():
        raise TransitionError("every row of this change set is excluded: there is nothing to approve")
    found = queries.conflicts(change_set)
    if found.blocking:
        raise ConflictError(
            f"{found.with_live_total} rows conflict with live facts and {found.within_total} prompts conflict "
            "within the set (same prompt, another target): exclude one side first"
        )


def _settle(actor: User, change_set: ChangeSet, decision: str, comment: str, review: ChangeSetReview) -> None:
    set_state, fact_state = _SETTLES[decision]
    before = change_set.audit_snapshot()
    moved = move_many(
        actor,
        change_set.rows.filter(state=FactState.SUBMITTED),
        fact_state,
        action=f"fact.{fact_state}",
        reason=comment,
        note={"change_set_id": change_set.pk, "change_set_review_id": review.pk},
    )
    change_set.state, change_set.state_reason, change_set.decided_at = set_state, comment, timezone.now()
    change_set.save(update_fields=["state", "state_reason", "decided_at"])
    deciders = [review] if decision != ReviewDecision.APPROVE else queries.current_approvals(change_set)
    record_event(
        actor,
        f"changeset.{set_state}",
        change_set,
        before=before,
        after={
            **change_set.audit_snapshot(),
            "rows": len(moved),
            # Who decided, and the sample each of them was shown.
            "reviews": [
                {"reviewer": r.reviewer.get_username(), "sample_seed": r.sample_seed, "sample": r.sample}
                for r in deciders
            ],
        },
        model_line_id=change_set.model_line_id,
    )


@transaction.atomic(durable=True)
def review_change_set(
    actor: User, change_set: ChangeSet, decision: str, comment: str, *, revision: int | None = None
) -> ChangeSetReview:
    """A reviewer approves, rejects or requests changes to the whole set, having seen its sample.

    `revision` is the revision the reviewer looked at (the page and the API send it): a set changed
    since then is refused, so nobody approves rows they did not see. The review records the seeded
    sample of that revision. Approval settles the set once the line's number of reviewers approved it.
    """
    comment = clean_review(actor, "change sets", decision, comment)
    current = _locked(change_set)
    if not permissions.may_review_change_set(actor, current):
        raise PermissionDenied("nobody reviews a change set they imported")
    if current.state != ChangeSetState.SUBMITTED:
        raise TransitionError(f"only a change set in review can be reviewed; this one is {current.state}")
    if revision is not None and revision != current.revision:
        raise TransitionError(
            f"the change set changed since you opened it (revision {revision}, now {current.revision}): "
            "look at it again"
        )
    if decision == ReviewDecision.APPROVE:
        _refuse_blocked_approval(actor, current)
    review = ChangeSetReview.objects.create(
        change_set=current,
        reviewer=actor,
        decision=decision,
        comment=comment,
        revision=current.revision,
        sample=queries.sample_ids(current),
        sample_seed=queries.sample_seed(current),
    )
    record_event(
        actor,
        f"changeset.review.{decision}",
        review,
        after={
            "change_set_id": current.pk,
            "decision": decision,
            "comment": comment,
            "revision": current.revision,
            "sample_seed": review.sample_seed,
            "sample": review.sample,
        },
        model_line_id=current.model_line_id,
    )
    if decision != ReviewDecision.APPROVE or queries.has_enough_approvals(current):
        _settle(actor, current, decision, comment, review)
    change_set.refresh_from_db()
    return review


def _row_ids(rows: Iterable[int | str]) -> list[int]:
    try:
        ids = sorted({int(row) for row in rows})
    except (TypeError, ValueError):
        raise ValidationError({"rows": "must be fact ids"}) from None
    if not ids:
        raise ValidationError({"rows": "choose at least one row to exclude"})
    return ids


@transaction.atomic(durable=True)
def exclude_rows(actor: User, change_set: ChangeSet, rows: Iterable[int | str], reason: str) -> ChangeSet:
    """Take rows out of a set not yet decided (a reviewer other than the importer, or the importer).

    Excluded rows are withdrawn with the reason and never reach the model; the set's revision goes up,
    so its earlier approvals no longer count. Refused: unknown rows or no reason (400), a set already
    decided or a row already excluded (409).
    """
    current = _locked(change_set)
    if not permissions.may_exclude_rows(actor, current):
        raise PermissionDenied("only a reviewer or the curator who imported the change set may exclude its rows")
    reason = clean_text("reason", reason, max_length=MAX_RATIONALE, multiline=True)
    ids = _row_ids(rows)
    if current.state not in (ChangeSetState.SUBMITTED, ChangeSetState.CHANGES_REQUESTED):
        raise TransitionError(f"rows of a {current.state} change set can no longer be excluded")
    found = dict(current.rows.filter(pk__in=ids).values_list("pk", "state"))
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationError({"rows": f"not rows of this change set: {', '.join(f'#{pk}' for pk in missing)}"})
    done = [pk for pk in ids if found[pk] not in queries.IN_PLAY]
    if done:
        raise TransitionError(f"already out of the change set: {', '.join(f'#{pk}' for pk in done)}")
    move_many(
        actor,
        current.rows.filter(pk__in=ids),
        FactState.WITHDRAWN,
        action="fact.excluded",
        reason=f"excluded from change set #{current.pk}: {reason}",
        note={"change_set_id": current.pk},
    )
    current.revision += 1
    current.save(update_fields=["revision"])
    record_event(
        actor,
        "changeset.rows_excluded",
        current,
        after={"rows": ids, "reason": reason, "revision": current.revision},
        model_line_id=current.model_line_id,
    )
    change_set.refresh_from_db()
    return change_set


@transaction.atomic(durable=True)
def resubmit_change_set(actor: User, change_set: ChangeSet) -> ChangeSet:
    """The importer sends a set back to review after changes were requested (rows edited or excluded).

    A new revision: reviewers decide again, on a new sample. Refused (409) unless changes were requested.
    """
    current = _locked(change_set)
    if not permissions.may_resubmit_change_set(actor, current):
        raise PermissionDenied("only the curator who imported the change set may resubmit it")
    if current.state != ChangeSetState.CHANGES_REQUESTED:
        raise TransitionError(
            f"only a change set sent back for changes can be resubmitted; this one is {current.state}"
        )
    if not queries.rows_in_play(current).exists():
        raise TransitionError("every row of this change set is excluded: there is nothing to resubmit")
    move_many(
        actor,
        current.rows.filter(state=FactState.CHANGES_REQUESTED),
        FactState.SUBMITTED,
        action="fact.submitted",
        note={"change_set_id": current.pk},
    )
    before = current.audit_snapshot()
    current.state, current.state_reason, current.revision = ChangeSetState.SUBMITTED, "", current.revision + 1
    current.save(update_fields=["state", "state_reason", "revision"])
    ask_sample(current)  # a new revision, a new sample
    record_event(
        actor,
        "changeset.resubmitted",
        current,
        before=before,
        after=current.audit_snapshot(),
        model_line_id=current.model_line_id,
    )
    change_set.refresh_from_db()
    return change_set
