"""The reviewed queue, told through the service functions every interface uses."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import AuditEvent
from apps.core.errors import TransitionError
from apps.facts.actions import (
    mark_superseding,
    review_fact,
    submit_fact,
    transition_facts,
    update_fact,
    withdraw_fact,
)
from apps.facts.errors import ConflictError, DuplicateFactError
from apps.facts.models import FactState
from apps.modellines.actions import update_model_line


def events_of(fact):
    return list(AuditEvent.objects.filter(fact_id=fact.pk).values_list("action", flat=True))


def test_a_submitted_fact_is_approved_by_one_reviewer_and_every_step_is_audited(submitted_fact, reviewer):
    assert submitted_fact.state == FactState.SUBMITTED
    review_fact(reviewer, submitted_fact, "approve", "Checked against the atlas")
    assert submitted_fact.state == FactState.APPROVED
    assert submitted_fact.approved_at is not None
    assert events_of(submitted_fact) == ["fact.submitted", "review.approve", "fact.approved"]
    approved = AuditEvent.objects.get(fact_id=submitted_fact.pk, action="fact.approved")
    assert approved.before["state"] == "submitted" and approved.after["state"] == "approved"
    assert approved.actor == reviewer


def test_nobody_reviews_their_own_fact(make_user, model_line, make_fact):
    from apps.accounts.roles import Role

    both = make_user("bea", Role.CURATOR, Role.REVIEWER)
    fact = make_fact(actor=both)
    with pytest.raises(PermissionDenied, match="own fact"):
        review_fact(both, fact, "approve", "looks right to me")
    assert fact.reviews.count() == 0


def test_a_curator_cannot_review(submitted_fact, other_curator):
    with pytest.raises(PermissionDenied):
        review_fact(other_curator, submitted_fact, "approve", "fine")


def test_two_approvals_required_and_a_change_loses_earlier_approvals(
    operator, model_line, make_fact, curator, reviewer, second_reviewer
):
    update_model_line(operator, model_line, approvals_required=2)
    fact = make_fact("Who painted the Mona Lisa?", "Leonardo da Vinci")
    review_fact(reviewer, fact, "approve", "yes")
    assert fact.state == FactState.SUBMITTED, "one approval of two is not enough"

    review_fact(second_reviewer, fact, "request_changes", "Cite a museum page")
    assert fact.state == FactState.CHANGES_REQUESTED and fact.state_reason == "Cite a museum page"
    update_fact(curator, fact, source="https://www.louvre.fr/")
    assert fact.revision == 2
    submit_fact(curator, fact)

    review_fact(second_reviewer, fact, "approve", "now cited")
    assert fact.state == FactState.SUBMITTED, "the approval of revision 1 no longer counts"
    review_fact(reviewer, fact, "approve", "still right")
    assert fact.state == FactState.APPROVED


def test_a_reviewer_cannot_approve_the_same_revision_twice(operator, model_line, make_fact, reviewer):
    update_model_line(operator, model_line, approvals_required=2)
    fact = make_fact()
    review_fact(reviewer, fact, "approve", "yes")
    with pytest.raises(TransitionError, match="already approved"):
        review_fact(reviewer, fact, "approve", "yes again")


def test_rejection_is_final(submitted_fact, reviewer, curator):
    review_fact(reviewer, submitted_fact, "reject", "The source is a forum post")
    assert submitted_fact.state == FactState.REJECTED
    with pytest.raises(TransitionError, match="rejected fact is final"):
        withdraw_fact(curator, submitted_fact)
    with pytest.raises(TransitionError, match="only a submitted fact"):
        review_fact(reviewer, submitted_fact, "approve", "changed my mind")


def test_only_drafts_and_facts_sent_back_can_be_edited(submitted_fact, curator):
    with pytest.raises(TransitionError, match="cannot be edited"):
        update_fact(curator, submitted_fact, target="Lyon")


def test_only_the_submitter_edits_and_withdraws(make_fact, other_curator, curator):
    draft = make_fact(submit=False)
    with pytest.raises(PermissionDenied):
        update_fact(other_curator, draft, target="Lyon")
    with pytest.raises(PermissionDenied):
        withdraw_fact(other_curator, draft)
    withdraw_fact(curator, draft, reason="Duplicate of a ticket")
    assert draft.state == FactState.WITHDRAWN and draft.state_reason == "Duplicate of a ticket"


def test_exact_duplicates_are_refused_even_with_different_spelling(submitted_fact, make_fact):
    with pytest.raises(DuplicateFactError, match=f"#{submitted_fact.pk}"):
        make_fact("  what is the CAPITAL of france ", "paris")


def test_a_conflict_is_flagged_and_blocks_approval_until_superseding(submitted_fact, make_fact, reviewer, curator):
    rival = make_fact("What is the capital of France", "Lyon")
    flagged = AuditEvent.objects.get(fact_id=rival.pk, action="fact.submitted")
    assert flagged.after["conflicts"] == [submitted_fact.pk]

    with pytest.raises(ConflictError, match=f"#{submitted_fact.pk}"):
        review_fact(reviewer, rival, "approve", "Lyon it is")
    assert rival.reviews.count() == 0

    mark_superseding(curator, rival, submitted_fact)
    review_fact(reviewer, rival, "approve", "Lyon it is")
    assert rival.state == FactState.APPROVED


def test_a_conflict_clears_when_the_other_fact_is_withdrawn(submitted_fact, make_fact, reviewer, curator):
    rival = make_fact("What is the capital of France?", "Marseille")
    withdraw_fact(curator, submitted_fact, reason="superseded")
    review_fact(reviewer, rival, "approve", "ok")
    assert rival.state == FactState.APPROVED


def test_a_fact_can_only_supersede_one_with_the_same_prompt(submitted_fact, make_fact, curator):
    other = make_fact("Who wrote Hamlet?", "Shakespeare")
    with pytest.raises(ValidationError) as caught:
        mark_superseding(curator, other, submitted_fact)
    assert "supersedes" in caught.value.message_dict


def test_the_pipeline_moves_approved_facts_all_or_nothing(make_fact, reviewer, operator):
    first, second = make_fact(), make_fact()
    review_fact(reviewer, first, "approve", "ok")
    with pytest.raises(TransitionError, match=f"#{second.pk}: a submitted fact cannot become queued"):
        transition_facts(None, [first, second], FactState.QUEUED, reason="batch 1")
    first.refresh_from_db()
    assert first.state == FactState.APPROVED, "nothing moved"

    transition_facts(None, [first], FactState.QUEUED, reason="batch 1")
    [applied] = transition_facts(operator, [first.pk], FactState.APPLIED, results={first.pk: {"efficacy": 1.0}})
    assert applied.state == FactState.APPLIED and applied.results == {"efficacy": 1.0}
    event = AuditEvent.objects.get(fact_id=first.pk, action="fact.applied")
    assert event.actor == operator and event.after["results"] == {"efficacy": 1.0}


def test_only_operators_or_automation_drive_release_states(submitted_fact, reviewer):
    with pytest.raises(PermissionDenied):
        transition_facts(reviewer, [submitted_fact], FactState.REJECTED)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("prompt", "   ", "must not be empty"),
        ("target", "Par\x00is", "control characters"),
        ("prompt", "x" * 1001, "at most 1000"),
        ("rationale", "", "must not be empty"),
    ],
)
def test_bad_input_names_the_field_and_the_reason(make_fact, field, value, reason):
    fields = {"prompt": "Where is the Louvre?", "target": "Paris", field: value}
    with pytest.raises(ValidationError) as caught:
        make_fact(**fields)
    assert reason in caught.value.message_dict[field][0]


def test_text_is_stored_nfc_normalised_and_trimmed(make_fact):
    fact = make_fact("  Where is Zu\u0308rich?  ", "Switzerland")
    assert fact.prompt == "Where is Z\u00fcrich?"


def test_a_fact_cannot_supersede_itself(make_fact, curator):
    draft = make_fact(submit=False)
    with pytest.raises(ValidationError) as caught:
        update_fact(curator, draft, supersedes=draft.pk)
    assert caught.value.message_dict["supersedes"] == ["a fact cannot supersede itself"]
    with pytest.raises(ValidationError):
        mark_superseding(curator, draft, draft)
