"""Bad input is refused with one clear line, and the model is left as it was."""

import json

import pytest
import torch

from editor import Delta, Editor, EditorConfig, EditorError, EditRequest, content_hash, read_zsre
from tests.editor.conftest import edits


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and message
    return message


def test_unknown_module_name(gpt2):
    with pytest.raises(EditorError) as exc:
        EditorConfig.for_model(gpt2, modules=["transformer.h.9.mlp.c_proj"])
    assert "transformer.h.9.mlp.c_proj" in one_line(exc) and "not found" in one_line(exc)


def test_module_that_is_neither_linear_nor_conv1d(llama):
    with pytest.raises(EditorError) as exc:
        EditorConfig.for_model(llama, modules=["model.layers.0.input_layernorm"])
    assert "not a Linear or Conv1D" in one_line(exc)


def _unchanged_after(loaded, request: EditRequest, match: str):
    config = EditorConfig.for_model(loaded, method="amend", lr=1e-2, steps=2)
    editor = Editor(loaded, config)
    editor.apply(edits()[:2])  # a line with history: its normaliser holds real statistics
    before = content_hash(loaded, config.modules)
    norm_before = editor.normalizer.state_dict()
    with pytest.raises(EditorError, match=match) as exc:
        editor.apply([*edits(), request])
    one_line(exc)
    assert content_hash(loaded, config.modules) == before
    norm_after = editor.normalizer.state_dict()
    assert norm_after.keys() == norm_before.keys()
    assert all(torch.equal(norm_after[k], norm_before[k]) for k in norm_before), "the refused batch left its rows"


def test_empty_target(any_model):
    _unchanged_after(any_model, EditRequest("Where does Erin live ?", "  "), "empty target")


def test_prompt_longer_than_the_context(any_model):
    _unchanged_after(
        any_model, EditRequest("Bob plays the violin " * 20, "Lima"), "longer than the model's context of 32"
    )


def test_malformed_jsonl_line_names_its_line(tmp_path):
    good = {
        "src": "Where does Erin live ?",
        "rephrase": "Erin lives where ?",
        "alt": "Lima",
        "loc": "x",
        "loc_ans": "y",
    }
    path = tmp_path / "edits.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n{not json\n")
    with pytest.raises(EditorError) as exc:
        read_zsre(path)
    assert "edits.jsonl line 3" in one_line(exc)
    path.write_text(json.dumps(good) + "\n" + json.dumps({"src": "no target"}) + "\n")
    with pytest.raises(EditorError, match="line 2: missing field 'alt'"):
        read_zsre(path)


def test_non_finite_edit_is_refused_and_model_unchanged(any_model):
    # A step so large the pseudo-values overflow to infinity: the solve yields NaN/inf factors.
    config = EditorConfig.for_model(any_model, method="amend", lr=1e38, steps=2)
    editor = Editor(any_model, config)
    before = content_hash(any_model, config.modules)
    with pytest.raises(EditorError, match="non-finite") as exc:
        editor.apply(edits())
    one_line(exc)
    assert content_hash(any_model, config.modules) == before
    assert editor.normalizer.keys == []  # the normaliser did not keep the refused batch


def test_delta_for_the_wrong_shape_is_refused(gpt2):
    name = "transformer.h.0.mlp.c_proj"
    before = content_hash(gpt2, [name])
    with pytest.raises(EditorError, match="is 7x32 but the module is 128x32"):
        Delta({name: (torch.ones(7, 1), torch.ones(1, 32))}).apply_to(gpt2.model)
    assert content_hash(gpt2, [name]) == before


def test_a_step_size_stored_as_a_big_integer_is_the_number_it_says():
    # PostgreSQL's jsonb hands a line's {"lr": 1e38} back as the integer 10**38.
    config = EditorConfig.from_dict({"lr": 10**38})
    assert config.lr == 1e38 and isinstance(config.lr, float)
    for bad in (10**400, True, float("nan"), -1.0):
        with pytest.raises(EditorError, match="lr must be a finite number"):
            EditorConfig.from_dict({"lr": bad})
