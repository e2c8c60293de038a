"""A lineage that checks itself, through a real Celery worker, a real MLflow store and PostgreSQL: a fact a
new version no longer says is regressed and re-applied by the next batch, one that keeps regressing is held,
a withdrawn one is never re-applied; a full check of production reports every applied fact with a digest.

Wear is what the platform sees when production no longer answers a fact's target. It is made certain here
(not left to how much the editor happens to wear a fact down in three batches) by giving facts that took a
target production does not say, as if their edits had faded."""

import csv
import io
import json

import pytest

from apps.audit.models import AuditEvent
from apps.facts.actions import withdraw_fact
from apps.facts.models import FactEdit, FactState
from apps.facts.states import KEEPS_REGRESSING
from apps.releases import actions
from apps.releases.models import Batch, CheckState, FactCheck, ModelVersion, VersionState

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]


def in_production(line, number: int):
    return lambda: ModelVersion.objects.filter(model_line=line, number=number, state=VersionState.PRODUCTION).first()


def fade(fact: FactEdit, target: str, *, regressed_before: int = 0) -> None:
    """Production no longer says the fact: its target becomes one the model does not answer."""
    FactEdit.objects.filter(pk=fact.pk).update(target=target, regressions=regressed_before)


def events(action: str, fact: FactEdit) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, object_type="factedit", object_id=str(fact.pk)).order_by("id"))


def test_facts_that_fade_are_regressed_re_applied_or_held_and_a_full_check_reports_them(
    workers, wait, mlflow_store, pipeline_line, open_gates, approve_edits, operator, curator, auditor, api_client_for
):
    line = open_gates(pipeline_line, max_reapplications=1, batch_size=10)
    workers.start("w1")
    approve_edits(line, 0, 6)
    actions.release_now(operator, line)
    wait("v1 in production", in_production(line, 1), timeout=600)  # the worker loads the model first
    took = [fact for fact in FactEdit.objects.filter(model_line=line).order_by("pk") if fact.results.get("took")]
    assert len(took) >= 3, f"the editor made only {len(took)} of 6 facts take; this test needs 3"
    again, held, withdrawn = took[:3]
    fade(again, "Marseille")
    fade(held, "Toulouse", regressed_before=1)  # the line re-applies a fact once: this is its second time
    fade(withdrawn, "Nantes")

    # v2 asks the earlier facts again: the faded ones are no longer said.
    approve_edits(line, 6, 1)
    actions.release_now(operator, line)
    v2 = wait("v2 in production", in_production(line, 2), timeout=300)
    assert v2.recheck["asked"] == len(took)
    assert set(v2.recheck["regressed"]) == {str(again.pk), str(held.pk), str(withdrawn.pk)}
    assert v2.metrics["generation_retention"] == pytest.approx((len(took) - 3) / len(took))
    again.refresh_from_db()
    assert again.state == FactState.REGRESSED and again.regressed_in == 2 and again.regressions == 1
    assert (
        again.state_reason.startswith("v2 no longer says it") and "re-applied in the next batch" in again.state_reason
    )
    [regressed_event] = events("fact.regressed", again)
    assert regressed_event.after["state"] == FactState.REGRESSED and regressed_event.actor_id is None
    held.refresh_from_db()
    assert held.state == FactState.HELD and held.state_reason.startswith(KEEPS_REGRESSING)
    assert "resubmit" in held.state_reason and held.regressions == 2
    api = api_client_for(curator)
    shown = api.get(f"/api/facts/{again.pk}/").json()
    assert shown["state"] == "regressed" and shown["regressed_in"] == 2 and shown["regressed_at"]

    # The curator withdraws one regressed fact; the next batch re-applies the other without a new review.
    withdraw_fact(curator, FactEdit.objects.get(pk=withdrawn.pk), "no longer needed")
    batch = actions.release_now(operator, line)
    assert batch.fact_ids == [again.pk]
    [queued] = [e for e in events("fact.queued", again) if e.after["state_reason"].startswith("re-applied")]
    assert queued.after["state_reason"] == f"re-applied after regressing in v2: in batch {batch.pk}"
    v3 = wait("v3 in production", in_production(line, 3), timeout=300)
    assert v3.fact_ids == [again.pk]
    assert FactEdit.objects.get(pk=again.pk).state == FactState.APPLIED
    # Promotions never bring back a fact held for regressing, nor a withdrawn one.
    assert FactEdit.objects.get(pk=held.pk).state == FactState.HELD
    assert FactEdit.objects.get(pk=withdrawn.pk).state == FactState.WITHDRAWN
    assert all(
        withdrawn.pk not in b.fact_ids for b in Batch.objects.filter(model_line=line).exclude(pk__lte=v2.batch_id)
    )

    # An auditor asks which applied facts production says today.
    auditor_api = api_client_for(auditor)
    asked = auditor_api.post("/api/checks/", {"model_line": line.name}, format="json")
    assert asked.status_code == 202, asked.content
    check_id = asked.json()["id"]
    check = wait(
        "the full check's report",
        lambda: FactCheck.objects.filter(pk=check_id, state=CheckState.DONE).first(),
        timeout=180,
    )
    # Every fact of production's lineage that took and was not withdrawn: the one held for regressing too.
    in_lineage = FactEdit.objects.filter(model_line=line).exclude(state=FactState.WITHDRAWN)
    expected = {fact.pk for fact in in_lineage if fact.results.get("took")}
    assert held.pk in expected
    assert check.version == v3 and {row["fact_id"] for row in check.results} == expected
    assert check.facts_total == check.facts_checked == len(expected)
    assert check.still_said + len(check.regressed) == check.facts_total
    assert {row["fact_id"]: row["since"] for row in check.regressed}[held.pk] == 2  # no longer said since v2
    assert all(row["since"] == 3 for row in check.regressed if row["fact_id"] != held.pk)
    report = auditor_api.get(f"/api/checks/{check_id}/").json()
    assert report["still_said"] == check.still_said and report["digest"] == check.digest and len(check.digest) == 64
    rows = list(csv.DictReader(io.StringIO(auditor_api.get(f"/api/checks/{check_id}/export/").content.decode())))
    assert {int(row["fact_id"]) for row in rows} == expected
    exported = json.loads(auditor_api.get(f"/api/checks/{check_id}/export/?as=json").content)
    assert (
        exported["version"] == 3 and exported["digest"] == check.digest and exported["requested_by"] == auditor.username
    )
    artifacts = [a.path for a in mlflow_store.client().list_artifacts(v3.mlflow_run_id, "reports")]
    assert artifacts == [f"reports/full-check-{check_id}.json"]
    [requested] = AuditEvent.objects.filter(action="check.requested", object_type="factcheck", object_id=str(check_id))
    assert requested.actor_id == auditor.pk
    [finished] = AuditEvent.objects.filter(action="check.finished", object_type="factcheck", object_id=str(check_id))
    assert finished.after["digest"] == check.digest and finished.after["facts"] == check.facts_total
