"""The whole release story with a real worker and a real MLflow store: approved facts become a promoted
version, recorded in MLflow; production can be rolled back exactly, and one fact can be reverted."""

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.facts.models import FactEdit, FactState
from apps.releases.models import Batch, BatchState, ModelVersion, Promotion, VersionState
from editor.metrics import GENERATION_RETENTION

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]


def production_number(line) -> int | None:
    version = ModelVersion.objects.filter(model_line=line, state=VersionState.PRODUCTION).first()
    return version.number if version else None


def aliases(store, line) -> dict[str, str]:
    model = store.client().get_registered_model(f"amend-{line.name}")
    return {alias: str(number) for alias, number in model.aliases.items()}


def test_approved_facts_become_a_promoted_version_that_can_be_rolled_back_and_reverted(
    workers, wait, mlflow_store, pipeline_line, approve_edits, operator, api_client_for
):
    line = pipeline_line
    worker = workers.start("w1")
    api = api_client_for(operator)

    # An operator releases the approved facts without waiting for the beat.
    first = approve_edits(line, 0, 4)
    response = api.post("/api/batches/release-now/", {"model_line": line.pk}, format="json")
    assert response.status_code == 201, response.content
    batch1 = Batch.objects.get(pk=response.json()["id"])
    assert batch1.fact_ids == [fact.pk for fact in first]
    assert all(fact.state == FactState.QUEUED for fact in FactEdit.objects.filter(pk__in=batch1.fact_ids))

    wait("version 1 in production", lambda: production_number(line) == 1)
    v1 = ModelVersion.objects.get(model_line=line, number=1)
    v0 = ModelVersion.objects.get(model_line=line, number=0)
    assert v1.parent == v0 and v1.batch == batch1
    assert {"efficacy", "locality", "perplexity_drift"} <= set(v1.metrics)
    # Each fact's one paraphrase was an edit row (the default): no wording of its own was left to judge
    # generalisation on, and the gate says so rather than inventing a figure.
    assert "generalization" not in v1.metrics
    assert v1.gate_results["min_generalization"]["reason"] == "no data for generalisation"
    assert "retention" not in v1.metrics  # nothing was applied before the first batch
    assert all(result["passed"] for result in v1.gate_results.values())
    assert v1.content_hash != v0.content_hash
    assert 0 < v1.delta_bytes < v1.checkpoint_bytes
    for fact in FactEdit.objects.filter(pk__in=batch1.fact_ids):
        assert fact.state == FactState.APPLIED
        assert {"efficacy", "answer_before", "answer_after"} <= set(fact.results)
        assert fact.results["paraphrases_edited"] == fact.paraphrases and fact.results["paraphrases_judged"] == []
    promotion = Promotion.objects.filter(version=v1).get()
    assert promotion.automatic and promotion.actor is None and promotion.previous == v0
    assert promotion.metrics == v1.metrics

    # MLflow holds the run (params, metrics, delta and normaliser artifacts, report) and the registered version.
    client = mlflow_store.client()
    run = client.get_run(v1.mlflow_run_id)
    assert run.data.params["batch"] == str(batch1.pk) and run.data.params["parent_version"] == "0"
    assert run.data.metrics["efficacy"] == pytest.approx(v1.metrics["efficacy"])
    artifacts = {a.path for a in client.list_artifacts(v1.mlflow_run_id)}
    assert {"deltas", "normalizer.safetensors", "evaluation_report.json"} <= artifacts
    assert [a.path for a in client.list_artifacts(v1.mlflow_run_id, "deltas")] == ["deltas/delta-1.safetensors"]
    registered = client.get_model_version(f"amend-{line.name}", v1.mlflow_model_version)
    assert registered.tags["batch"] == str(batch1.pk)
    assert registered.tags["parent_version"] == "0"
    assert registered.tags["content_hash"] == v1.content_hash
    assert registered.tags["fact_count"] == "4"
    wait(
        "aliases on v1",
        lambda: (
            aliases(mlflow_store, line) == {"production": v1.mlflow_model_version, "previous": v0.mlflow_model_version}
        ),
    )
    # No full checkpoint per version: the registered version is a pyfunc model that rebuilds itself.
    model_files = {a.path for a in client.list_artifacts(v1.mlflow_run_id, "model")}
    assert {"model/MLmodel", "model/python_model.pkl"} <= model_files
    assert registered.source.endswith("/model") and not ModelVersion.objects.get(pk=v1.pk).checkpoint_uri

    # Anyone with a role can ask the production model; the answer is the one recorded for the fact.
    fact = FactEdit.objects.get(pk=first[0].pk)
    response = api.post(f"/api/versions/{v1.pk}/probe/", {"prompt": fact.prompt, "max_new_tokens": 8}, format="json")
    assert response.status_code == 202, response.content
    probe_id = response.json()["id"]
    probe = wait(
        "probe answer", lambda: (body := api.get(f"/api/probes/{probe_id}/").json())["state"] != "pending" and body
    )
    assert probe["state"] == "done", probe
    assert probe["answer"].startswith(fact.results["answer_after"].split()[0])

    # A second batch builds on v1 and replaces it.
    second = approve_edits(line, 4, 4)
    assert api.post("/api/batches/release-now/", {"model_line": line.pk}, format="json").status_code == 201
    wait("version 2 in production", lambda: production_number(line) == 2)
    v2 = ModelVersion.objects.get(model_line=line, number=2)
    assert v2.parent_id == v1.pk and v2.metrics.get(GENERATION_RETENTION) is not None
    assert ModelVersion.objects.get(pk=v1.pk).state == VersionState.SUPERSEDED
    wait(
        "aliases on v2",
        lambda: (
            aliases(mlflow_store, line) == {"production": v2.mlflow_model_version, "previous": v1.mlflow_model_version}
        ),
    )

    # Rollback: production points back at v1 exactly; the second batch's facts are rolled back.
    response = api.post(
        f"/api/versions/{v1.pk}/rollback/", {"reason": "batch 2 broke a customer answer"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["kind"] == "rollback" and response.json()["previous"] == 2
    assert production_number(line) == 1
    assert ModelVersion.objects.get(pk=v2.pk).state == VersionState.ROLLED_BACK
    assert {f.state for f in FactEdit.objects.filter(pk__in=[f.pk for f in second])} == {FactState.ROLLED_BACK}
    assert {f.state for f in FactEdit.objects.filter(pk__in=[f.pk for f in first])} == {FactState.APPLIED}
    wait(
        "aliases back on v1",
        lambda: (
            aliases(mlflow_store, line) == {"production": v1.mlflow_model_version, "previous": v2.mlflow_model_version}
        ),
    )
    # Exactly v1: the worker rebuilds it from base + deltas and gets the recorded content hash.
    response = api.post(f"/api/versions/{v1.pk}/probe/", {"prompt": fact.prompt, "max_new_tokens": 8}, format="json")
    again = wait(
        "probe of the rolled-back production",
        lambda: (body := api.get(f"/api/probes/{response.json()['id']}/").json())["state"] != "pending" and body,
    )
    assert again["state"] == "done" and again["answer"] == probe["answer"]

    # Revert one fact of the first batch: a new version replays batch 1 without it, from v0.
    reverted = first[1]
    response = api.post(
        "/api/batches/revert/", {"fact": reverted.pk, "reason": "the source was withdrawn"}, format="json"
    )
    assert response.status_code == 201, response.content
    wait("the revert version in production", lambda: production_number(line) == 3)
    v3 = ModelVersion.objects.get(model_line=line, number=3)
    assert v3.parent_id == v0.pk and v3.replayed_batch_ids == [batch1.pk]
    assert v3.fact_ids == [f.pk for f in first if f.pk != reverted.pk]
    assert FactEdit.objects.get(pk=reverted.pk).state == FactState.REVERTED
    kept = FactEdit.objects.filter(pk__in=v3.fact_ids)
    assert {f.state for f in kept} == {FactState.APPLIED}
    # Nothing was erased: every version and batch is still there.
    assert ModelVersion.objects.filter(model_line=line).count() == 4
    assert Batch.objects.filter(model_line=line, state=BatchState.APPLIED).count() == 3

    # The operator's pages tell the same story: timeline with its chart, history, per-fact results.
    browser = Client()
    browser.force_login(operator)
    page = browser.get(f"/model-lines/{line.name}/").content.decode()
    assert "<svg" in page and "Metrics along production's lineage" in page
    assert "batch 2 broke a customer answer" in page  # the rollback's reason in the history
    page = browser.get(f"/releases/versions/{v1.pk}/").content.decode()
    assert v1.content_hash in page and f"Roll back to {v1.label}" in page
    page = browser.get(f"/releases/batches/{batch1.pk}/").content.decode()
    assert "Reverted" in page and fact.results["answer_after"] in page
    page = browser.get(f"/releases/versions/{v2.pk}/promote/").content.decode()
    assert "Yes, promote v2" in page and 'name="reason"' in page

    actions = set(AuditEvent.objects.filter(model_line_id=line.pk).values_list("action", flat=True))
    assert {
        "batch.cut",
        "version.recorded",
        "version.promoted",
        "version.rolled_back_to",
        "fact.revert_requested",
        "fact.reverted",
        "fact.rolled_back",
    } <= actions
    assert "Traceback" not in worker.output()
