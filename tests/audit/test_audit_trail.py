"""The audit trail: append-only, hash-chained, verifiable, filterable and exportable by auditors."""

import csv
import io
import itertools
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from apps.audit.models import AppendOnlyError, AuditEvent
from apps.facts.actions import review_fact

pg_only = pytest.mark.postgres_only("the trigger exists on PostgreSQL only")


def verify() -> str:
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


def test_every_event_links_to_the_one_before(submitted_fact, reviewer):
    review_fact(reviewer, submitted_fact, "approve", "ok")
    events = list(AuditEvent.objects.order_by("id"))
    assert len(events) >= 4  # line created, fact submitted, review, approval
    for earlier, later in itertools.pairwise(events):
        assert later.prev_hash == earlier.hash
    assert "intact" in verify()


def test_events_carry_the_request_id_a_trusted_proxy_sends(model_line, curator, api_client_for, settings):
    settings.AMEND_TRUSTED_PROXIES = ["127.0.0.0/8"]  # the test client's address
    response = api_client_for(curator).post(
        "/api/facts/",
        {"model_line": model_line.pk, "prompt": "Capital of Peru?", "target": "Lima", "rationale": "r", "source": "s"},
        format="json",
        HTTP_X_REQUEST_ID="req-42",
    )
    assert response.status_code == 201 and response["X-Request-ID"] == "req-42"
    event = AuditEvent.objects.get(fact_id=response.json()["id"])
    assert (event.request_id, event.actor_name, event.action) == ("req-42", "cora", "fact.submitted")
    assert event.before is None and event.after["target"] == "Lima"


def test_the_model_refuses_to_change_or_delete_events(submitted_fact):
    event = AuditEvent.objects.first()
    event.action = "nothing.happened"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


@pg_only
@pytest.mark.parametrize("statement", ["UPDATE audit_auditevent SET action = 'x'", "DELETE FROM audit_auditevent"])
def test_postgresql_refuses_raw_updates_and_deletes(submitted_fact, statement):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert AuditEvent.objects.filter(action="x").count() == 0


def _tamper(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Deferred foreign-key checks still pending in the test transaction would block ALTER TABLE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_append_only")


def test_verify_audit_names_the_first_altered_event(submitted_fact, reviewer):
    review_fact(reviewer, submitted_fact, "reject", "wrong source")
    victim = AuditEvent.objects.get(action="review.reject")
    _tamper("UPDATE audit_auditevent SET after = %s WHERE id = %s", [json.dumps({"decision": "approve"}), victim.pk])

    with pytest.raises(CommandError) as caught:
        verify()
    assert caught.value.returncode == 1
    assert f"broken at event #{victim.pk} (review.reject by rita" in str(caught.value)
    assert "content does not match its hash" in str(caught.value)


def test_verify_audit_notices_a_removed_event(submitted_fact, reviewer):
    review_fact(reviewer, submitted_fact, "approve", "ok")
    events = list(AuditEvent.objects.order_by("id"))
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    with pytest.raises(CommandError, match=f"event #{events[2].pk} .*prev_hash does not match"):
        verify()


@pytest.fixture
def history(make_fact, reviewer, second_reviewer, operator, model_line):
    from apps.modellines.actions import create_model_line

    other_line = create_model_line(operator, name="history")
    first = make_fact("Who discovered penicillin?", "Alexander Fleming")
    second = make_fact("Who discovered radium?", "Marie Curie", line=other_line)
    review_fact(reviewer, first, "approve", "ok")
    review_fact(second_reviewer, second, "request_changes", "add a source")
    return {"first": first, "second": second, "other_line": other_line}


def test_auditors_filter_events_by_line_fact_actor_action_and_date(history, auditor, api_client_for, model_line):
    client = api_client_for(auditor)

    def actions(query: str) -> list[str]:
        response = client.get(f"/api/audit/events/?{query}")
        assert response.status_code == 200, response.content
        return [event["action"] for event in response.json()["results"]]

    assert actions(f"fact={history['first'].pk}") == ["fact.submitted", "review.approve", "fact.approved"]
    assert actions(f"model_line={history['other_line'].pk}") == [
        "modelline.created",
        "fact.submitted",
        "review.request_changes",
        "fact.changes_requested",
    ]
    assert actions("actor=rob") == ["review.request_changes", "fact.changes_requested"]
    assert actions("action=fact.approved") == ["fact.approved"]
    assert set(actions("action=review.")) == {"review.approve", "review.request_changes"}
    assert actions("since=2000-01-01&until=2000-12-31") == []
    assert len(actions("since=2000-01-01")) == AuditEvent.objects.count()
    assert client.get("/api/audit/events/?since=yesterday").status_code == 400


def test_auditors_export_the_filtered_events_as_csv_and_json(history, auditor, api_client_for):
    client = api_client_for(auditor)
    fact = history["first"]

    response = client.get(f"/api/audit/events/export/?file_format=csv&fact={fact.pk}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["action"] for row in rows] == ["fact.submitted", "review.approve", "fact.approved"]
    assert json.loads(rows[2]["after"])["state"] == "approved"

    response = client.get(f"/api/audit/events/export/?file_format=json&fact={fact.pk}", HTTP_ACCEPT="text/csv")
    events = json.loads(b"".join(response.streaming_content))
    assert [event["action"] for event in events] == ["fact.submitted", "review.approve", "fact.approved"]
    assert all(len(event["hash"]) == len(event["prev_hash"]) == 64 for event in events), "exports keep the chain"

    assert client.get("/api/audit/events/export/?file_format=xml").status_code == 400


def test_the_verify_endpoint_reports_the_chain(history, auditor, api_client_for):
    body = api_client_for(auditor).get("/api/audit/events/verify/").json()
    assert (body["ok"], body["checked"], body["broken_event"], body["findings"]) == (
        True,
        AuditEvent.objects.count(),
        None,
        [],
    )


def test_model_line_changes_are_audited_with_before_and_after(model_line, operator, api_client_for):
    response = api_client_for(operator).patch(
        f"/api/model-lines/{model_line.pk}/", {"min_efficacy": 0.95, "approvals_required": 2}, format="json"
    )
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="modelline.updated")
    assert event.before == {"approvals_required": 1, "min_efficacy": 0.9}
    assert event.after == {"approvals_required": 2, "min_efficacy": 0.95}
    assert event.actor_name == "otto"


def test_settings_with_huge_or_tiny_numbers_stay_verifiable(model_line, operator, api_client_for):
    # PostgreSQL's jsonb gives 1e38 back as the integer 10**38: the event must hash what is stored.
    settings = {"method": "amend", "lr": 1e38, "mu": 2.5e-7, "lam": 1e16}
    response = api_client_for(operator).patch(
        f"/api/model-lines/{model_line.pk}/", {"editor_settings": settings}, format="json"
    )
    assert response.status_code == 200, response.json()
    event = AuditEvent.objects.filter(action="modelline.updated").latest("id")
    assert event.after["editor_settings"]["lr"] == 10**38
    assert "intact" in verify()
