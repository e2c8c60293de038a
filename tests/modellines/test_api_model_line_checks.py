"""A model line whose model a worker could not edit is refused when it is saved, not when its first
batch fails: HTTP 400 naming the field and the reason in one line, and nothing changes. The checks
read the model's config.json and build its modules on the meta device; no weights are loaded."""

import json
import time
from pathlib import Path

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.modellines.models import ModelLine
from apps.modellines.structure import skeleton_of

# A Llama-shaped model small enough to describe in a few lines: only its config is ever read.
TINY_LLAMA = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "vocab_size": 256,
    "max_position_embeddings": 128,
}


def model_dir(root: Path, name: str, config: dict | None, *, weights: bool = True) -> str:
    """A Hugging Face directory: config.json, a weights file and a tokenizer (their content is never read)."""
    directory = root / name
    directory.mkdir()
    if config is not None:
        (directory / "config.json").write_text(json.dumps(config))
    if weights:
        (directory / "model.safetensors").write_bytes(b"")
    (directory / "tokenizer.json").write_text("{}")
    return str(directory)


@pytest.fixture
def tiny_llama(tmp_path) -> str:
    return model_dir(tmp_path, "tiny-llama", TINY_LLAMA)


def refusal(response, field: str) -> str:
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body) == [field], body
    (reason,) = body[field]
    assert "\n" not in reason
    return reason


def test_a_line_on_a_llama_directory_with_its_own_modules_is_created(operator, api_client_for, tiny_llama):
    response = api_client_for(operator).post(
        "/api/model-lines/",
        {
            "name": "tiny",
            "base_model": tiny_llama,
            "edited_modules": ["model.layers.2.mlp.down_proj", "model.layers.3.mlp.up_proj"],
            "editor_settings": {"method": "amend", "lr": 1e-4, "steps": 2},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["edited_modules"] == ["model.layers.2.mlp.down_proj", "model.layers.3.mlp.up_proj"]


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"edited_modules": ["model.layers.9.mlp.down_proj"]}, "edited_modules", "layers.9.mlp.down_proj' not found"),
        ({"edited_modules": ["model.layers.0.input_layernorm"]}, "edited_modules", "not a Linear or Conv1D"),
        ({"edited_modules": ["model.layers.1.mlp.down_proj"] * 2}, "edited_modules", "a module is listed twice"),
        ({"editor_settings": {"lr": "fast"}}, "editor_settings", "lr must be a finite number >= 0, got 'fast'"),
        ({"editor_settings": {"learning_rate": 0.1}}, "editor_settings", "unknown editor setting(s): learning_rate"),
        ({"editor_settings": {"method": "rome"}}, "editor_settings", "unknown method 'rome'"),
        ({"editor_settings": {"steps": "four"}}, "editor_settings", "steps must be an integer >= 1, got 'four'"),
        ({"editor_settings": {"modules": ["model.layers.1.mlp.down_proj"]}}, "editor_settings", "under edited_modules"),
    ],
)  # fmt: skip
def test_modules_and_settings_the_editor_would_refuse_are_400_and_change_nothing(
    operator, api_client_for, tiny_llama, fields, field, reason
):
    client = api_client_for(operator)
    created = client.post("/api/model-lines/", {"name": "tiny", "base_model": tiny_llama, **fields}, format="json")
    assert reason in refusal(created, field)
    assert not ModelLine.objects.filter(name="tiny").exists()

    line = client.post("/api/model-lines/", {"name": "tiny", "base_model": tiny_llama}, format="json").json()
    events = AuditEvent.objects.count()
    changed = client.patch(f"/api/model-lines/{line['id']}/", {**fields, "description": "edited"}, format="json")
    assert reason in refusal(changed, field)
    stored = ModelLine.objects.get(pk=line["id"])
    assert (stored.edited_modules, stored.editor_settings, stored.description) == ([], {}, "")
    assert AuditEvent.objects.count() == events


def test_a_base_model_that_is_not_a_causal_lm_directory_is_400_on_base_model(operator, api_client_for, tmp_path):
    client = api_client_for(operator)
    t5 = {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"], "d_model": 32, "num_layers": 1}
    cases = {
        model_dir(tmp_path, "translator", t5): "is a t5 model, not a causal language model",
        model_dir(tmp_path, "notes", None): "has no config.json: not a Hugging Face model directory",
        model_dir(tmp_path, "no-weights", TINY_LLAMA, weights=False): "holds no weights",
        model_dir(tmp_path, "unknown", {"model_type": "no-such-architecture"}): "transformers cannot read its config",
        str(tmp_path / "missing"): "does not exist on this server",
    }
    for path, reason in cases.items():
        assert reason in refusal(
            client.post("/api/model-lines/", {"name": "x", "base_model": path}, format="json"), "base_model"
        )
    assert not ModelLine.objects.filter(name="x").exists()


def test_the_form_names_the_bad_module_beside_its_field_and_keeps_the_line(
    client, operator, api_client_for, tiny_llama
):
    api_client_for(operator).post("/api/model-lines/", {"name": "tiny", "base_model": tiny_llama}, format="json")
    form = {
        "name": "tiny", "base_model": tiny_llama, "edited_modules": "model.layers.1.mlp.down_proj\nmodel.norm",
        "editor_settings": "{}", "locality_probes": "[]", "min_efficacy": "0.9", "min_generalization": "0.6",
        "min_locality": "0.9", "min_retention": "0.8", "max_perplexity_drift": "0.1", "approvals_required": "1",
        "review_sample_size": "20", "batch_size": "100", "max_wait": "01:00:00",
    }  # fmt: skip
    client.force_login(operator)
    response = client.post(reverse("modelline_edit", args=["tiny"]), form)
    assert response.status_code == 400
    assert "module &#x27;model.norm&#x27; is a LlamaRMSNorm, not a Linear or Conv1D layer" in response.content.decode()
    assert ModelLine.objects.get(name="tiny").edited_modules == []


def test_checking_reads_the_config_only_and_is_fast_once_the_libraries_are_loaded(tiny_llama):
    skeleton = skeleton_of(tiny_llama)  # the first call imports torch and transformers
    assert {p.device.type for p in skeleton.parameters()} == {"meta"}  # shapes only: no memory for weights
    started = time.perf_counter()
    for _ in range(100):
        skeleton_of(tiny_llama)
    assert (time.perf_counter() - started) / 100 < 0.05
