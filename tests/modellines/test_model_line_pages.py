"""An operator's pages for model lines: create one, see a bad gate named, change it and read the change."""

from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.modellines.models import ModelLine


def text(response) -> str:
    return response.content.decode()


def test_an_operator_creates_and_changes_a_model_line_and_bad_gates_are_named(client_for, operator):
    client = client_for(operator)
    base = {
        "name": "history",
        "edited_modules": "model.layers.20.mlp.down_proj\nmodel.layers.22.mlp.down_proj",
        "editor_settings": '{"method": "amend"}',
        "locality_probes": "[]",
        "min_efficacy": "1.5",
        "min_generalization": "0.6",
        "min_locality": "0.9",
        "min_retention": "0.8",
        "max_perplexity_drift": "0.1",
        "approvals_required": "2",
        "batch_size": "50",
        "max_wait": "00:30:00",
    }
    refused = client.post(reverse("modelline_create"), base)
    assert refused.status_code == 400
    assert "Ensure this value is less than or equal to 1.0." in text(refused)
    assert not ModelLine.objects.filter(name="history").exists()

    created = client.post(reverse("modelline_create"), {**base, "min_efficacy": "0.9"})
    assert created.status_code == 302
    line = ModelLine.objects.get(name="history")
    assert line.edited_modules == ["model.layers.20.mlp.down_proj", "model.layers.22.mlp.down_proj"]
    assert line.editor_settings == {"method": "amend"} and line.approvals_required == 2

    client.post(reverse("modelline_edit", args=["history"]), {**base, "min_efficacy": "0.95"})
    line.refresh_from_db()
    assert line.min_efficacy == 0.95
    change = AuditEvent.objects.filter(action="modelline.updated").get()
    assert change.before == {"min_efficacy": 0.9} and change.after == {"min_efficacy": 0.95}
    page = text(client.get(reverse("modelline_detail", args=["history"])))
    assert "Model line settings changed: model line #" in page and "modelline.updated" not in page
    assert "95.0%" in page  # the new efficacy gate, formatted as every metric is
