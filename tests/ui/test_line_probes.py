"""Every signed-in role probes a line's production, from the line page or POST /api/probes/; a line with no
version yet has v0 (the base model) recorded first by a GPU worker, which then asks it (issue 10, item 12)."""

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.outbox.models import OutboxMessage
from apps.releases.models import ModelVersion, Probe, VersionState

ROLES = ["curator", "reviewer", "operator", "auditor"]
PROMPT = "The capital of France is"


@pytest.fixture
def production(model_line) -> ModelVersion:
    return ModelVersion.objects.create(model_line=model_line, number=0, state=VersionState.PRODUCTION, content_hash="h")


@pytest.mark.parametrize("role", ROLES)
def test_every_role_probes_production_from_the_line_page(role, users, production, client_for):
    client = client_for(users[role])
    page = client.get(reverse("modelline_detail", args=[production.model_line.name]))
    assert page.status_code == 200 and "Probe production" in page.content.decode()
    assert ("Edit settings" in page.content.decode()) == (role == "operator")

    response = client.post(reverse("release_line_probe", args=[production.model_line.name]), {"prompt": PROMPT})

    probe = Probe.objects.get()
    assert response.status_code == 302 and response.url == reverse("release_probe", args=[probe.pk])
    assert probe.version == production and probe.requested_by == users[role]
    assert client.get(response.url).status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_every_role_probes_production_through_the_api(role, users, production, api_client_for):
    response = api_client_for(users[role]).post(
        "/api/probes/", {"model_line": production.model_line.name, "prompt": PROMPT}, format="json"
    )
    assert response.status_code == 202, response.json()
    assert response.json()["version_id"] == production.pk and response.json()["state"] == "pending"


def test_no_role_no_probe(nobody, production, api_client_for):
    response = api_client_for(nobody).post("/api/probes/", {"model_line": production.model_line.name, "prompt": PROMPT})
    assert response.status_code == 403 and not Probe.objects.exists()


def test_a_line_without_a_version_records_v0_then_asks_it(model_line, reviewer, client_for, api_client_for):
    page = client_for(reviewer).get(reverse("modelline_detail", args=[model_line.name])).content.decode()
    assert "Ask the base model (v0)" in page

    response = api_client_for(reviewer).post("/api/probes/", {"model_line": model_line.name, "prompt": PROMPT})

    assert response.status_code == 202 and response.json()["probe"] is None
    message = OutboxMessage.objects.get(task="workers.gpu.probe_line")
    assert message.queue == "gpu" and message.args == [model_line.pk, PROMPT, 16, reviewer.pk]
    assert AuditEvent.objects.filter(action="probe.requested", after__version=None).exists()

    # The worker: v0 recorded under the lineage lock (here: already there), then production asked.
    from workers.gpu import probe_line

    base = ModelVersion.objects.create(model_line=model_line, number=0, state=VersionState.PRODUCTION, content_hash="h")
    result = probe_line.run(*message.args)
    probe = Probe.objects.get(pk=result["probe"])
    assert probe.version == base and probe.prompt == PROMPT and probe.requested_by == reviewer


def test_versions_but_none_in_production_is_refused_with_the_reason(model_line, operator, api_client_for):
    ModelVersion.objects.create(model_line=model_line, number=0, state=VersionState.FAILED, content_hash="h")
    response = api_client_for(operator).post("/api/probes/", {"model_line": model_line.name, "prompt": PROMPT})
    assert response.status_code == 409 and "in production" in response.json()["detail"]
