"""Change sets: a bulk import reviewed as one, with the rules of single facts kept."""

import pytest
from django.core.exceptions import PermissionDenied

from apps.audit.models import AuditEvent
from apps.audit.record import verify_chain
from apps.core.errors import TransitionError
from apps.facts.actions import exclude_rows, resubmit_change_set, review_change_set, review_fact
from apps.facts.changesets.queries import sample_ids
from apps.facts.errors import ConflictError
from apps.facts.models import ChangeSetState, FactEdit, FactState
from apps.modellines.actions import update_model_line
from tests.facts.conftest import zsre_lines


def test_an_import_becomes_one_change_set_that_one_approval_sends_to_the_model(import_change_set, reviewer):
    change_set = import_change_set([*zsre_lines(30), "not json", zsre_lines(1)[0]])

    assert change_set.state == ChangeSetState.SUBMITTED
    assert (change_set.rows_total, change_set.rows_created) == (32, 30)
    assert change_set.refused == [
        {"line": 31, "kind": "invalid", "reason": "not valid JSON (Expecting value)"},
        {"line": 32, "kind": "duplicate", "reason": "same prompt and target as line 1"},
    ]
    row = FactEdit.objects.get(source_line=5)
    assert row.change_set == change_set and row.state == FactState.SUBMITTED

    with pytest.raises(TransitionError, match="review the change set as a whole"):
        review_fact(reviewer, row, "approve", "one by one")

    review = review_change_set(reviewer, change_set, "approve", "sample checks out", revision=1)
    change_set.refresh_from_db()
    assert change_set.state == ChangeSetState.APPROVED
    assert set(change_set.rows.values_list("state", flat=True)) == {FactState.APPROVED}
    assert len(review.sample) == 20  # the line's K
    approved = AuditEvent.objects.get(action="changeset.approved")
    assert approved.after["reviews"] == [
        {"reviewer": "rita", "sample_seed": review.sample_seed, "sample": review.sample}
    ]
    assert AuditEvent.objects.filter(action="fact.approved", after__change_set_id=change_set.pk).count() == 30
    assert verify_chain()[1] is None


def test_the_importer_never_reviews_and_two_approvals_are_needed_when_the_line_says_so(
    import_change_set, model_line, operator, reviewer, second_reviewer, make_user
):
    from apps.accounts.roles import Role

    update_model_line(operator, model_line, approvals_required=2)
    both = make_user("bea", Role.CURATOR, Role.REVIEWER)
    change_set = import_change_set(zsre_lines(5), actor=both)

    with pytest.raises(PermissionDenied, match="nobody reviews a change set they imported"):
        review_change_set(both, change_set, "approve", "mine")
    review_change_set(reviewer, change_set, "approve", "fine")
    change_set.refresh_from_db()
    assert change_set.state == ChangeSetState.SUBMITTED
    with pytest.raises(TransitionError, match="already approved"):
        review_change_set(reviewer, change_set, "approve", "again")
    review_change_set(second_reviewer, change_set, "approve", "fine too")
    change_set.refresh_from_db()
    assert change_set.state == ChangeSetState.APPROVED


def test_excluding_a_row_costs_the_set_its_approvals_and_keeps_the_row_out(
    import_change_set, model_line, operator, reviewer, second_reviewer
):
    update_model_line(operator, model_line, approvals_required=2)
    change_set = import_change_set(zsre_lines(4))
    review_change_set(reviewer, change_set, "approve", "fine", revision=1)
    dropped = FactEdit.objects.get(source_line=2)

    exclude_rows(second_reviewer, change_set, [dropped.pk], "source is a blog")
    assert change_set.revision == 2
    with pytest.raises(TransitionError, match="changed since you opened it"):
        review_change_set(second_reviewer, change_set, "approve", "stale page", revision=1)
    review_change_set(second_reviewer, change_set, "approve", "fine", revision=2)
    change_set.refresh_from_db()
    assert change_set.state == ChangeSetState.SUBMITTED  # rita's approval was of revision 1
    review_change_set(reviewer, change_set, "approve", "still fine", revision=2)

    dropped.refresh_from_db()
    assert dropped.state == FactState.WITHDRAWN
    assert "source is a blog" in dropped.state_reason
    assert change_set.rows.filter(state=FactState.APPROVED).count() == 3


def test_conflicts_with_live_facts_and_within_the_set_block_until_one_side_is_excluded(
    import_change_set, make_fact, reviewer
):
    live = make_fact("Where was inventor 0 born?", "Rome")
    change_set = import_change_set([*zsre_lines(3), *zsre_lines(1, start=2, target="Elsewhere")])

    with pytest.raises(ConflictError, match="1 rows conflict with live facts and 1 prompts conflict within the set"):
        review_change_set(reviewer, change_set, "approve", "looks good")

    first, twin = FactEdit.objects.filter(change_set=change_set, source_line__in=[1, 4]).order_by("source_line")
    exclude_rows(reviewer, change_set, [first.pk, twin.pk], "contradicted")
    review_change_set(reviewer, change_set, "approve", "looks good")
    assert live.state == FactState.SUBMITTED


def test_changes_requested_then_resubmitted_is_a_new_revision_with_a_new_sample(
    import_change_set, model_line, operator, curator, reviewer
):
    update_model_line(operator, model_line, review_sample_size=3)
    change_set = import_change_set(zsre_lines(40))
    first_sample = sample_ids(change_set)
    assert first_sample == sample_ids(change_set)  # seeded: every reviewer sees the same rows

    review_change_set(reviewer, change_set, "request_changes", "cite a source per row")
    assert set(change_set.rows.values_list("state", flat=True)) == {FactState.CHANGES_REQUESTED}
    resubmit_change_set(curator, change_set)
    assert (change_set.state, change_set.revision) == (ChangeSetState.SUBMITTED, 2)
    # New rows by construction: none of the three the first revision's reviewer was shown.
    assert len(sample_ids(change_set)) == 3 and not set(sample_ids(change_set)) & set(first_sample)

    review_change_set(reviewer, change_set, "reject", "still unsourced")
    change_set.refresh_from_db()
    assert change_set.state == ChangeSetState.REJECTED
    assert set(change_set.rows.values_list("state", flat=True)) == {FactState.REJECTED}


def test_a_file_of_only_invalid_rows_fails_with_the_reason(import_change_set):
    change_set = import_change_set(['{"src": "", "alt": "x"}', "[1]"])
    assert change_set.state == ChangeSetState.FAILED
    assert change_set.state_reason == "no valid row: all 2 rows were refused"


def test_the_sample_shows_what_production_answers_when_a_probe_asked_it(import_change_set, model_line, operator):
    from apps.facts.changesets.queries import sample
    from apps.releases.models import ModelVersion, Probe, ProbeState, VersionState

    change_set = import_change_set(zsre_lines(2))
    assert [row.production_answer for row in sample(change_set)] == [None, None]
    production = ModelVersion.objects.create(model_line=model_line, number=0, state=VersionState.PRODUCTION)
    Probe.objects.create(
        model_line=model_line,
        version=production,
        prompt="Where was inventor 1 born?",
        state=ProbeState.DONE,
        answer="Ohio",
    )
    assert [row.production_answer for row in sample(change_set)] == [None, "Ohio"]
