"""A change set from import to outcome (issue 17): its reviewers see production's answers fill in live, the
summary flags rows naming one subject with different targets and says what each count compared, and an
approved set's page shows its batches, versions, how many rows took or are held, and what to do next."""

import io
import json

from django.urls import reverse

from apps.facts.actions import review_change_set, run_import, start_import, transition_facts
from apps.facts.models import ChangeSet, FactState
from apps.outbox import tasks
from apps.outbox.models import OutboxMessage
from apps.releases.actions import finish_probe
from apps.releases.models import Batch, ModelVersion, Probe, VersionState
from workers.probes import ask_change_set_sample


def imported(curator, model_line, rows: list[dict]) -> ChangeSet:
    upload = io.BytesIO(("\n".join(json.dumps(row) for row in rows) + "\n").encode())
    upload.name = "zsre.jsonl"
    return run_import(start_import(curator, model_line, upload, "jsonl", channel="ui", in_background=False).pk)


def page_of(client, change_set: ChangeSet) -> str:
    response = client.get(reverse("change_set_detail", args=[change_set.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_finished_import_asks_production_the_sample_and_the_column_fills_live(
    client_for, curator, reviewer, model_line, operator
):
    ModelVersion.objects.create(model_line=model_line, number=0, state=VersionState.PRODUCTION, content_hash="h0")
    change_set = imported(
        curator, model_line, [{"src": f"Who designed tower {i}?", "alt": f"Eiffel {i}"} for i in range(3)]
    )
    sent = OutboxMessage.objects.get(task=tasks.ASK_CHANGE_SET_SAMPLE.name)
    assert sent.args == [change_set.pk] and sent.queue == "default"

    ask_change_set_sample(change_set.pk)  # the default-queue worker's part: one batched task for the gpu queue
    probes = list(Probe.objects.filter(model_line=model_line).order_by("prompt"))
    assert [p.prompt for p in probes] == [f"Who designed tower {i}?" for i in range(3)]
    client = client_for(reviewer)
    asking = page_of(client, change_set)
    assert asking.count("asking production…") == 3 and 'id="sample-table" data-live="3000" data-live-swap' in asking
    assert "data-live-pending" in asking

    for probe in probes:
        finish_probe(probe, answer=f"Gustave {probe.prompt[-2]}")
    answered = page_of(client, change_set)
    assert "Gustave 0" in answered and "Gustave 2" in answered and "data-live-pending" not in answered


def test_rows_naming_one_subject_with_different_targets_are_flagged_and_the_summary_says_what_it_compared(
    client_for, curator, reviewer, model_line
):
    rows = [
        {"subject": "Toodyay Fire Station", "src": "Who designed Toodyay Fire Station?", "alt": "Woods Bagot"},
        {
            "subject": "Toodyay Fire Station",
            "src": "The architect of Toodyay Fire Station is whom?",
            "alt": "Wong Tung",
        },
        {"subject": "Lahti Town Hall", "src": "Who designed Lahti Town Hall?", "alt": "Dudok"},
    ]
    change_set = imported(curator, model_line, rows)
    page = page_of(client_for(reviewer), change_set)
    assert 'Same subject, different targets</dt><dd><a href="#same-subject-title">1 subject</a>' in page
    flagged = page[page.index('id="same-subject-title"') :]
    assert "Woods Bagot" in flagged and "Wong Tung" in flagged and "Lahti" not in flagged[: flagged.index("</section>")]
    assert "rows with the same prompt, normalised, and different targets" in page
    assert "Approvals</dt><dd>0 of 1</dd>" in page and "needed;" not in page


def test_an_approved_set_shows_its_batches_versions_what_took_what_is_held_and_what_next(
    client_for, curator, reviewer, model_line
):
    change_set = imported(curator, model_line, [{"src": f"Who founded firm {i}?", "alt": f"Ada {i}"} for i in range(4)])
    review_change_set(reviewer, change_set, "approve", "sourced")
    rows = list(change_set.rows.order_by("source_line"))
    transition_facts(None, rows, FactState.QUEUED)
    applied_batch = Batch.objects.create(
        model_line=model_line, trigger="size", fact_ids=[r.pk for r in rows[:2]], content_hash="b1", state="applied"
    )
    ModelVersion.objects.create(
        model_line=model_line, number=1, batch=applied_batch, state=VersionState.PRODUCTION, content_hash="h1"
    )
    transition_facts(None, rows[:1], FactState.APPLIED, results={rows[0].pk: {"took": True}})
    transition_facts(None, rows[1:2], FactState.APPLIED, results={rows[1].pk: {"took": False}})
    held_batch = Batch.objects.create(
        model_line=model_line, trigger="size", fact_ids=[r.pk for r in rows[2:]], content_hash="b2", state="applied"
    )
    held = ModelVersion.objects.create(
        model_line=model_line, number=2, batch=held_batch, state=VersionState.HELD, content_hash="h2"
    )
    transition_facts(None, rows[2:], FactState.HELD, reason="v2 held: efficacy 0.0% is below the minimum 90.0%")

    page = page_of(client_for(curator), change_set)
    outcome = page[page.index('id="outcome-title"') : page.index("</section>", page.index('id="outcome-title"'))]
    assert "In the model and said</dt><dd>1</dd>" in outcome
    assert "Applied, did not take</dt><dd>1</dd>" in outcome and "Held</dt><dd>2</dd>" in outcome
    assert f'href="/releases/batches/{applied_batch.pk}/"' in outcome
    assert f'">{held.label}</a>' in outcome and '<span class="badge badge-held">Held</span>' in outcome
    assert "2 rows are held: open the version below to read the gate it missed" in outcome

    fact_page = client_for(curator).get(reverse("fact_detail", args=[rows[0].pk])).content.decode()
    assert f'decided with <a href="/change-sets/{change_set.pk}/">change set #{change_set.pk}</a>' in fact_page
    assert "Approvals</dt><dd>0 of" not in fact_page
