"""The web UI told as the stories of its users: what they fill in, press and then see."""

import csv
import io
import json
import re

from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.facts.actions import review_fact, transition_facts
from apps.facts.models import FactEdit, FactState

FACT_FORM = {
    "prompt": "What is the capital of Australia?",
    "target": "Canberra",
    "subject": "Australia",
    "paraphrases": ["Australia's capital city is", "", "The seat of Australia's government is in"],
    "locality_probes_prompt": ["What is the capital of France?", "Who painted the Mona Lisa?"],
    "locality_probes_answer": ["Paris", ""],
    "rationale": "Sydney is a common wrong answer.",
    "source": "https://example.org/australia",
}


def text(response) -> str:
    return response.content.decode()


def test_sign_in_page_signs_a_curator_in_and_lands_on_their_dashboard(client, curator):
    page = client.get(reverse("login"))
    assert 'for="id_username"' in text(page) and 'for="id_password"' in text(page)
    response = client.post(
        reverse("login"), {"username": "cora", "password": "correct-horse-battery-staple"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert "My facts" in text(response)
    assert "Sign out" in text(response)


def test_a_wrong_password_is_refused_with_a_message(client, curator):
    response = client.post(reverse("login"), {"username": "cora", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in text(response)
    assert not response.wsgi_request.user.is_authenticated


def test_sign_out_is_a_post_and_ends_the_session(client_for, curator):
    client = client_for(curator)
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get(reverse("dashboard"))["Location"].startswith(reverse("login"))


def test_navigation_shows_each_role_only_its_own_pages(client_for, curator, reviewer, operator, auditor):
    expected = {
        curator: "Submit a fact",
        reviewer: "Review queue",
        operator: "Model lines",
        auditor: "Audit trail",
    }
    for user, own_link in expected.items():
        page = text(client_for(user).get(reverse("dashboard")))
        assert own_link in page
        # Every role reads the model lines and probes production there (issue 10, item 12).
        assert ">Model lines</a>" in page, f"{user} misses Model lines"
        for other in set(expected.values()) - {own_link, "Model lines"}:
            assert f">{other}</a>" not in page, f"{user} sees {other}"


def test_a_curator_submits_a_fact_with_paraphrases_and_probes_and_sees_it_on_its_page(client_for, curator, model_line):
    client = client_for(curator)
    response = client.post(reverse("fact_create"), {**FACT_FORM, "model_line": model_line.pk, "intent": "submit"})
    fact = FactEdit.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("fact_detail", args=[fact.pk])
    assert fact.state == FactState.SUBMITTED and fact.submitter == curator
    assert fact.paraphrases == ["Australia's capital city is", "The seat of Australia's government is in"]
    assert fact.locality_probes == [
        {"prompt": "What is the capital of France?", "answer": "Paris"},
        {"prompt": "Who painted the Mona Lisa?", "answer": None},
    ]
    page = text(client.get(response["Location"]))
    assert f"Fact #{fact.pk} was submitted for review." in page
    assert "Canberra" in page and "The seat of Australia&#x27;s government is in" in page
    assert "Submitted for review" in page  # the first timeline entry


def test_a_draft_is_saved_without_entering_the_queue(client_for, curator, model_line):
    client = client_for(curator)
    client.post(reverse("fact_create"), {**FACT_FORM, "model_line": model_line.pk, "intent": "draft"})
    assert FactEdit.objects.get().state == FactState.DRAFT


def test_missing_and_invalid_fields_come_back_on_the_form_naming_the_field(client_for, curator, model_line):
    client = client_for(curator)
    response = client.post(
        reverse("fact_create"),
        {**FACT_FORM, "model_line": model_line.pk, "prompt": "   ", "target": "Bad\x07bell", "intent": "submit"},
    )
    assert response.status_code == 400
    page = text(response)
    assert "Prompt must not be empty" in page
    assert "New target must not contain control characters" in page
    assert 'aria-invalid="true"' in page
    assert FactEdit.objects.count() == 0


def test_the_submission_form_shows_conflicts_before_anything_is_saved(client_for, curator, make_fact, model_line):
    existing = make_fact("What is the capital of Australia?", "Sydney")
    client = client_for(curator)
    # The subject is a span of the prompt as typed (the editor keys on it).
    prompt = {"prompt": "what is the capital of australia", "subject": "australia"}
    data = {**FACT_FORM, "model_line": model_line.pk, **prompt, "intent": "submit"}

    first = client.post(reverse("fact_create"), data)
    assert first.status_code == 200
    assert "Conflicts with 1 live fact on this model line" in text(first)
    assert "Sydney" in text(first) and f"supersedes #{existing.pk}" in text(first)
    assert FactEdit.objects.count() == 1, "nothing is saved until the curator decides"

    client.post(reverse("fact_create"), {**data, "supersedes": existing.pk})
    new = FactEdit.objects.exclude(pk=existing.pk).get()
    assert new.state == FactState.SUBMITTED and new.supersedes == existing


def test_submitting_anyway_flags_the_conflict_for_reviewers(client_for, curator, make_fact, model_line):
    make_fact("What is the capital of Australia?", "Sydney")
    client_for(curator).post(
        reverse("fact_create"), {**FACT_FORM, "model_line": model_line.pk, "intent": "submit", "confirm_conflicts": "1"}
    )
    new = FactEdit.objects.get(target="Canberra")
    assert new.state == FactState.SUBMITTED
    assert AuditEvent.objects.get(fact_id=new.pk, action="fact.submitted").after["conflicts"]


def test_an_exact_duplicate_is_refused_with_the_reason(client_for, curator, make_fact, model_line):
    existing = make_fact("What is the capital of Australia?", "Canberra")
    response = client_for(curator).post(
        reverse("fact_create"), {**FACT_FORM, "model_line": model_line.pk, "intent": "submit"}
    )
    assert response.status_code == 409
    assert f"fact #{existing.pk} on this model line already has this prompt and target" in text(response)
    assert FactEdit.objects.count() == 1


def test_the_live_conflict_check_answers_in_json(client_for, curator, make_fact, model_line):
    other = make_fact("Who wrote Hamlet?", "Christopher Marlowe")
    client = client_for(curator)
    url = reverse("fact_conflicts")
    answer = client.get(url, {"model_line": model_line.pk, "prompt": "who wrote hamlet", "target": "Shakespeare"})
    assert answer.status_code == 200
    body = answer.json()
    assert [c["id"] for c in body["conflicts"]] == [other.pk]
    assert "Christopher Marlowe" in body["html"]
    same = client.get(url, {"model_line": model_line.pk, "prompt": "Who wrote Hamlet", "target": "christopher marlowe"})
    assert same.json()["duplicate"]["id"] == other.pk
    bad = client.get(url, {"model_line": "x", "prompt": "a", "target": "b"})
    assert bad.status_code == 400 and "model_line" in bad.json()["errors"]


def test_the_review_queue_lists_oldest_first_and_shows_the_conflicting_fact_beside(
    client_for, reviewer, make_fact, other_curator
):
    older = make_fact("Who wrote Hamlet?", "Christopher Marlowe", actor=other_curator)
    plain = make_fact("What is the capital of Peru?", "Lima")
    newer = make_fact("who wrote hamlet", "William Shakespeare")
    page = text(client_for(reviewer).get(reverse("review_queue")))
    positions = [page.index(f'id="q-{fact.pk}"') for fact in (older, plain, newer)]
    assert positions == sorted(positions)
    assert "3 submitted facts, oldest first" in page
    newer_item = page[page.index(f'id="q-{newer.pk}"') :]
    assert "Conflict" in newer_item[:600]
    assert f'Conflicts with <a href="{reverse("fact_detail", args=[older.pk])}">#{older.pk}</a>' in page


def test_a_reviewer_approves_from_the_fact_page_and_the_timeline_tells_the_story(client_for, reviewer, submitted_fact):
    client = client_for(reviewer)
    response = client.post(
        reverse("fact_review", args=[submitted_fact.pk]), {"decision": "approve", "comment": "Matches the atlas"}
    )
    assert response.status_code == 302
    submitted_fact.refresh_from_db()
    assert submitted_fact.state == FactState.APPROVED
    # Nothing else waits: the reviewer is back at the (empty) queue, told so.
    assert response["Location"] == reverse("review_queue")
    queue = text(client.get(response["Location"]))
    assert f"You approved fact #{submitted_fact.pk}. The queue is empty." in queue
    page = text(client.get(reverse("fact_detail", args=[submitted_fact.pk])))
    timeline = page[page.index("Timeline") :]
    assert timeline.index("Submitted for review") < timeline.index("Review: approve") < timeline.index("Approved")
    assert "Matches the atlas" in timeline and "by rita" in timeline


def test_after_a_decision_the_reviewer_reads_the_next_fact_with_its_paraphrases_and_probes(
    client_for, reviewer, make_fact, submitted_fact
):
    following = make_fact(
        "What is the capital of Italy?",
        "Rome",
        paraphrases=["Italy's capital city is"],
        locality_probes=[{"prompt": "What is the capital of Spain?", "answer": "Madrid"}],
    )
    client = client_for(reviewer)
    queue = text(client.get(reverse("review_queue")))
    assert "Italy&#x27;s capital city is" in queue and "What is the capital of Spain?" in queue and "Madrid" in queue

    response = client.post(
        reverse("fact_review", args=[submitted_fact.pk]), {"decision": "reject", "comment": "Wrong source"}
    )
    assert response["Location"] == reverse("fact_detail", args=[following.pk])
    page = text(client.get(response["Location"]))
    assert f"You rejected fact #{submitted_fact.pk}. Next in the queue: fact #{following.pk}." in page
    assert "Record decision" in page  # the review form of the next fact, ready


def test_a_review_without_a_comment_is_refused_on_the_page(client_for, reviewer, submitted_fact):
    response = client_for(reviewer).post(reverse("fact_review", args=[submitted_fact.pk]), {"decision": "reject"})
    assert response.status_code == 400
    assert "This field is required" in text(response)
    submitted_fact.refresh_from_db()
    assert submitted_fact.state == FactState.SUBMITTED


def test_approving_a_fact_with_an_unresolved_conflict_is_refused_with_409_and_the_reason(
    client_for, reviewer, make_fact, other_curator
):
    older = make_fact("Who wrote Hamlet?", "Christopher Marlowe", actor=other_curator)
    newer = make_fact("who wrote hamlet", "William Shakespeare")
    response = client_for(reviewer).post(
        reverse("fact_review", args=[newer.pk]), {"decision": "approve", "comment": "Looks right"}
    )
    assert response.status_code == 409
    assert f"conflicts with fact #{older.pk}" in text(response)
    newer.refresh_from_db()
    assert newer.state == FactState.SUBMITTED


def test_changes_requested_then_edited_and_resubmitted_as_a_new_revision(client_for, curator, reviewer, submitted_fact):
    review_fact(reviewer, submitted_fact, "request_changes", "Add a paraphrase please")
    client = client_for(curator)
    form = text(client.get(reverse("fact_edit", args=[submitted_fact.pk])))
    assert "Add a paraphrase please" in form
    response = client.post(
        reverse("fact_edit", args=[submitted_fact.pk]),
        {
            "prompt": submitted_fact.prompt,
            "target": "Paris",
            "paraphrases": ["France's capital city is", "The French capital is"],
            "rationale": "Added a paraphrase",
            "source": submitted_fact.source,
            "intent": "submit",
        },
    )
    assert response.status_code == 302
    submitted_fact.refresh_from_db()
    assert submitted_fact.state == FactState.SUBMITTED and submitted_fact.revision == 2
    page = text(client.get(response["Location"]))
    assert "Changes requested" in page and "Edited" in page and "Changed: paraphrases, rationale" in page


def test_a_submitted_fact_cannot_be_edited(client_for, curator, submitted_fact):
    response = client_for(curator).post(
        reverse("fact_edit", args=[submitted_fact.pk]),
        {"prompt": "Changed?", "target": "X", "rationale": "r", "source": "s", "intent": "save"},
    )
    assert response.status_code == 409
    assert "cannot be edited" in text(response)


def test_a_curator_withdraws_their_fact(client_for, curator, submitted_fact):
    client = client_for(curator)
    response = client.post(reverse("fact_withdraw", args=[submitted_fact.pk]), {"reason": "Source retracted"})
    assert response.status_code == 302
    submitted_fact.refresh_from_db()
    assert submitted_fact.state == FactState.WITHDRAWN
    again = client.post(reverse("fact_withdraw", args=[submitted_fact.pk]), {"reason": "twice"})
    assert again.status_code == 409
    assert "withdrawn fact is final" in text(again)


def test_another_curator_cannot_edit_or_withdraw_my_fact(client_for, other_curator, submitted_fact):
    client = client_for(other_curator)
    assert client.get(reverse("fact_edit", args=[submitted_fact.pk])).status_code == 403
    assert client.post(reverse("fact_withdraw", args=[submitted_fact.pk]), {}).status_code == 403
    submitted_fact.refresh_from_db()
    assert submitted_fact.state == FactState.SUBMITTED


def test_a_reviewer_who_is_also_the_curator_cannot_review_their_own_fact(client_for, make_user, make_fact):
    both = make_user("bea", Role.CURATOR, Role.REVIEWER)
    fact = make_fact(actor=both)
    client = client_for(both)
    assert "Your own fact: another reviewer decides." in text(client.get(reverse("review_queue")))
    response = client.post(reverse("fact_review", args=[fact.pk]), {"decision": "approve", "comment": "fine"})
    assert response.status_code == 403
    assert "nobody reviews their own fact" in text(response)


def test_the_dashboard_groups_my_facts_by_state(client_for, curator, make_fact, reviewer):
    approved = make_fact("What is the capital of Peru?", "Lima")
    review_fact(reviewer, approved, "approve", "ok")
    make_fact("What is the capital of Chile?", "Santiago")
    make_fact("What is the capital of Bolivia?", "Sucre", submit=False)
    client = client_for(curator)
    page = text(client.get(reverse("dashboard")))
    assert "Lima" in page and "Santiago" in page and "Sucre" in page
    only_drafts = text(client.get(reverse("dashboard"), {"state": "draft"}))
    assert "Sucre" in only_drafts and "Lima" not in only_drafts


def test_the_auditor_filters_events_and_exports_what_is_shown(client_for, auditor, submitted_fact, reviewer, make_fact):
    review_fact(reviewer, submitted_fact, "approve", "ok")
    make_fact("What is the capital of Peru?", "Lima")
    client = client_for(auditor)
    page = text(client.get(reverse("audit_events"), {"fact": submitted_fact.pk}))
    assert "3 events, newest first" in page
    assert "review.approve" in page and "Lima" not in page
    assert f"export.csv?fact={submitted_fact.pk}" in page

    by_actor = text(client.get(reverse("audit_events"), {"actor": "rita", "action": "fact."}))
    assert "1 event, newest first" in by_actor and "fact.approved" in by_actor

    exported = client.get(reverse("audit_export_csv"), {"fact": submitted_fact.pk})
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert [row["action"] for row in rows] == ["fact.submitted", "review.approve", "fact.approved"]

    as_json = client.get(reverse("audit_export_json"), {"action": "review.approve"})
    events = json.loads(b"".join(as_json.streaming_content))
    assert [event["actor_name"] for event in events] == ["rita"]


def test_a_bad_audit_filter_is_named_not_crashed(client_for, auditor):
    response = client_for(auditor).get(reverse("audit_events"), {"since": "yesterday", "fact": "-3"})
    assert response.status_code == 400
    assert "Enter a valid date." in text(response)


def test_the_token_page_shows_a_new_token_once_and_revokes_it(client_for, curator):
    client = client_for(curator)
    assert "You have no API token yet." in text(client.get(reverse("my_token")))
    created = client.post(reverse("my_token"), {"name": "nightly import"}, follow=True)
    key = re.search(r"amend_[\w-]+", text(created)).group(0)
    assert "shown only this once" in text(created)
    later = text(client.get(reverse("my_token")))
    assert key not in later and "nightly import" in later and key[:12] in later
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/me/").status_code == 200
    token = curator.api_tokens.get()
    client.post(reverse("revoke_my_token", args=[token.pk]))
    assert "You have no API token yet." in text(client.get(reverse("my_token")))
    assert api.get("/api/me/").status_code == 401


def test_styles_and_scripts_are_served_by_the_app_itself(settings, tmp_path):
    # As deployed: collectstatic, then WhiteNoise serves the files (no web server, no CDN).
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", interactive=False, verbosity=0)
    client = Client()
    for path in ("/static/css/amend.css", "/static/js/amend.js", "/static/img/favicon.svg"):
        response = client.get(path)
        assert response.status_code == 200, path
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert len(body) > 100, path


def test_pages_load_nothing_from_another_site(client_for, curator):
    page = text(client_for(curator).get(reverse("fact_create")))
    assets = re.findall(r'<(?:link|script|img)[^>]+(?:href|src)="([^"]+)"', page)
    assert "/static/css/amend.css" in assets and "/static/js/amend.js" in assets
    assert all(asset.startswith("/static/") for asset in assets), assets


def test_every_page_has_landmarks_a_skip_link_and_labelled_fields(client_for, curator):
    page = text(client_for(curator).get(reverse("fact_create")))
    assert '<a class="skip-link" href="#main">' in page
    assert '<main id="main"' in page and '<nav class="main-nav" aria-label="Main">' in page
    for name in ("prompt", "target", "rationale", "source", "model_line"):
        assert f'for="id_{name}"' in page, f"{name} has no label"


def test_an_applied_fact_shows_its_results_and_offers_operators_a_revert(
    client_for, operator, curator, submitted_fact, reviewer
):
    review_fact(reviewer, submitted_fact, "approve", "ok")
    transition_facts(None, [submitted_fact], FactState.QUEUED)
    results = {"took": True, "paraphrases_took": 0.5, "efficacy": 1.0, "answer_before": "Lyon", "answer_after": "Paris",
               "version": 3}  # fmt: skip
    transition_facts(None, [submitted_fact], FactState.APPLIED, results={submitted_fact.pk: results})
    as_operator = text(client_for(operator).get(reverse("fact_detail", args=[submitted_fact.pk])))
    section = as_operator[as_operator.index("Results in the model") :]
    assert "v3" in section and 'Paraphrases that say it</th><td class="num">50.0%' in section
    assert "Efficacy, token accuracy</th><td class=\"num\">100.0%" in section  # labelled, after what it says
    assert section.index("Lyon") < section.index("Paris")  # the answer before its batch, then after
    assert reverse("release_revert_fact", args=[submitted_fact.pk]) in as_operator
    as_curator = text(client_for(curator).get(reverse("fact_detail", args=[submitted_fact.pk])))
    assert reverse("release_revert_fact", args=[submitted_fact.pk]) not in as_curator
    assert "Queued" in as_curator and "Applied" in as_curator  # the pipeline's moves are on the timeline
