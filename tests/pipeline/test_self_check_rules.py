"""The self-check's rules that need no worker: who may ask for a full check and when it is refused (409, never
a second job), the line's schedule, which facts the next batch re-applies and which never."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.facts.actions import mark_regressed, review_fact, withdraw_fact
from apps.facts.models import FactEdit, FactState
from apps.facts.states import KEEPS_REGRESSING
from apps.modellines.actions import update_model_line
from apps.releases import actions
from apps.releases.models import FactCheck
from mlops.tracking import TrackedVersion


@pytest.fixture
def production(model_line):
    return actions.ensure_base_version(model_line, "0" * 64, TrackedVersion(), 0)


def ask(client, line):
    return client.post("/api/checks/", {"model_line": line.name}, format="json")


def test_a_line_without_production_is_refused_a_full_check(model_line, operator, api_client_for):
    response = ask(api_client_for(operator), model_line)
    assert response.status_code == 409
    assert response.json()["detail"] == "model line geo has no production version to check"
    assert not FactCheck.objects.exists()


def test_a_second_check_while_one_runs_is_refused_and_the_trail_names_who_asked(
    model_line, production, auditor, operator, curator, api_client_for
):
    first = ask(api_client_for(auditor), model_line)
    assert first.status_code == 202 and first.json()["state"] == "running" and first.json()["version"] == 0
    second = ask(api_client_for(operator), model_line)
    assert second.status_code == 409
    assert second.json()["detail"] == f"full check #{first.json()['id']} of geo is running; wait for its report"
    assert ask(api_client_for(curator), model_line).status_code == 403
    assert FactCheck.objects.count() == 1
    [event] = AuditEvent.objects.filter(action="check.requested")
    assert event.actor_id == auditor.pk and event.after["version"] == 0


def test_the_schedule_asks_a_line_once_per_interval(model_line, production, operator):
    assert actions.schedule_due_checks() == []  # no interval set: only on demand
    update_model_line(operator, model_line, full_check_interval=timedelta(hours=6))
    [check] = actions.schedule_due_checks()
    assert check.requested_by is None
    actions.finish_full_check(check, [])
    assert actions.schedule_due_checks() == []
    FactCheck.objects.filter(pk=check.pk).update(created_at=timezone.now() - timedelta(hours=7))
    assert len(actions.schedule_due_checks()) == 1


@pytest.fixture
def applied(make_fact, reviewer):
    def make(count: int) -> list[FactEdit]:
        facts = [make_fact() for _ in range(count)]
        for fact in facts:
            review_fact(reviewer, fact, "approve", "Checked")
        FactEdit.objects.filter(pk__in=[f.pk for f in facts]).update(state=FactState.APPLIED)
        return list(FactEdit.objects.filter(pk__in=[f.pk for f in facts]).order_by("pk"))

    return make


def test_a_regressed_fact_rides_the_next_batch_until_it_keeps_regressing(model_line, operator, curator, applied):
    update_model_line(operator, model_line, max_reapplications=1)
    again, withdrawn, worn = applied(3)
    FactEdit.objects.filter(pk=worn.pk).update(regressions=1)
    mark_regressed(model_line, {again.pk: "Paris", withdrawn.pk: "Paris", worn.pk: "Rome"}, version=4, where="a test")
    states = dict(FactEdit.objects.filter(model_line=model_line).values_list("pk", "state"))
    assert [states[again.pk], states[withdrawn.pk], states[worn.pk]] == ["regressed", "regressed", "held"]
    worn.refresh_from_db()
    assert worn.state_reason.startswith(f"{KEEPS_REGRESSING}: v4 no longer says it (answers 'Rome')")
    withdraw_fact(curator, FactEdit.objects.get(pk=withdrawn.pk), "not wanted any more")
    batch = actions.release_now(operator, model_line)
    assert batch.fact_ids == [again.pk]
    assert FactEdit.objects.get(pk=again.pk).state_reason == f"re-applied after regressing in v4: in batch {batch.pk}"


def test_a_regressed_fact_shows_on_its_page_its_line_page_and_the_review_queue(
    model_line, applied, client_for, curator, reviewer
):
    [fact] = applied(1)
    mark_regressed(model_line, {fact.pk: "Paris"}, version=3, where="v3's check of earlier facts")
    line_page = client_for(curator).get(f"/model-lines/{model_line.name}/").content.decode()
    assert "<strong>1</strong> regressed fact " in line_page and f"fact #{fact.pk}</a>" in line_page
    fact_page = client_for(curator).get(f"/facts/{fact.pk}/").content.decode()
    assert "Why it is regressed:</strong> v3 no longer says it (answers &#x27;Paris&#x27;" in fact_page
    assert "Re-applied 1 time because production did not say it: last by v3" in fact_page
    queue = client_for(reviewer).get("/reviews/").content.decode()
    assert 'id="regressed-context"' in queue and f"{model_line.name}</a> 1" in queue


def test_a_full_checks_report_page_and_exports_state_what_production_says(
    model_line, production, applied, auditor, client_for
):
    kept, lost = applied(2)
    check = actions.request_full_check(auditor, model_line)
    rows = [
        {
            "fact_id": kept.pk,
            "prompt": kept.prompt,
            "target": kept.target,
            "answer": kept.target,
            "still_said": True,
            "applied_in": 1,
            "since": None,
        },
        {
            "fact_id": lost.pk,
            "prompt": lost.prompt,
            "target": lost.target,
            "answer": "Rome",
            "still_said": False,
            "applied_in": 1,
            "since": 0,
        },
    ]
    check = actions.finish_full_check(check, rows, "runs:/abc/reports/full-check.json")
    assert FactEdit.objects.get(pk=lost.pk).state == FactState.REGRESSED
    client = client_for(auditor)
    page = client.get(f"/releases/checks/{check.pk}/").content.decode()
    assert "<strong>1 of 2</strong> applied facts" in page and check.digest in page and "Rome" in page
    exported = client.get(f"/releases/checks/{check.pk}/export.csv").content.decode().splitlines()
    assert exported[0] == "fact_id,prompt,target,answer,still_said,applied_in,since" and len(exported) == 3
    [finished] = AuditEvent.objects.filter(action="check.finished")
    assert finished.after["digest"] == check.digest and finished.after["regressed"] == [lost.pk]
