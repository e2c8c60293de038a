"""A reviewer's afternoon with a change set: the summary, a conflict side by side, the sample, one decision."""

import io

from django.urls import reverse

from apps.facts.actions import run_import, start_import
from apps.facts.models import ChangeSet, ChangeSetState, FactState


def test_a_reviewer_reads_the_summary_excludes_the_conflicting_row_and_approves_the_set(
    client_for, curator, reviewer, make_fact, model_line
):
    live = make_fact("Where is Ur?", "Syria")
    upload = io.BytesIO(b'{"src": "Where is Ur?", "alt": "Iraq"}\n{"src": "Where is Uruk?", "alt": "Iraq"}\nnope\n')
    upload.name = "cities.jsonl"
    change_set = run_import(start_import(curator, model_line, upload, "jsonl", channel="ui", in_background=False).pk)
    client = client_for(reviewer)

    page = client.get(reverse("change_set_detail", args=[change_set.pk])).content.decode()
    assert "In review" in page and "cities.jsonl" in page and "through the upload page" in page and "(Ui)" not in page
    assert "line 3 (invalid): not valid JSON" in page
    assert f'Live fact <a href="/facts/{live.pk}/">#{live.pk}</a>' in page  # the conflict, side by side
    assert page.count("not asked") == 2  # the line has no production version to ask

    refused = client.post(
        reverse("change_set_review", args=[change_set.pk]),
        {"decision": "approve", "comment": "fine", "revision": "1"},
    )
    assert refused.status_code == 409
    assert "conflict with live facts" in refused.content.decode()

    ur = change_set.rows.get(source_line=1)
    response = client.post(
        reverse("change_set_exclude", args=[change_set.pk]), {"rows": [ur.pk], "reason": "Ur is disputed"}
    )
    assert response.status_code == 302
    stale = client.post(
        reverse("change_set_review", args=[change_set.pk]),
        {"decision": "approve", "comment": "fine", "revision": "1"},
    )
    assert stale.status_code == 409 and "changed since you opened it" in stale.content.decode()
    done = client.post(
        reverse("change_set_review", args=[change_set.pk]),
        {"decision": "approve", "comment": "fine", "revision": "2"},
        follow=True,
    )
    assert "Your decision on change set" in done.content.decode()
    assert ChangeSet.objects.get(pk=change_set.pk).state == ChangeSetState.APPROVED
    uruk = change_set.rows.get(source_line=2)
    assert uruk.state == FactState.APPROVED

    fact_page = client.get(reverse("fact_detail", args=[uruk.pk])).content.decode()
    assert f"change set #{change_set.pk}</a> (line 2)" in fact_page


def test_the_importer_sees_progress_while_importing_and_cannot_review_their_own_set(
    client_for, curator, make_user, model_line
):
    from apps.accounts.roles import Role

    both = make_user("bea", Role.CURATOR, Role.REVIEWER)
    upload = io.BytesIO(b'{"src": "Where is Ur?", "alt": "Iraq"}\n')
    upload.name = "ur.jsonl"
    response = client_for(both).post(
        reverse("change_set_upload"), {"model_line": model_line.pk, "file": upload}, follow=True
    )
    page = response.content.decode()
    assert "0 of 1 rows read" in page and 'http-equiv="refresh"' in page

    change_set = run_import(ChangeSet.objects.get().pk)
    page = client_for(both).get(reverse("change_set_detail", args=[change_set.pk])).content.decode()
    assert "You imported this change set: other reviewers decide." in page
    assert "Record decision" not in page
