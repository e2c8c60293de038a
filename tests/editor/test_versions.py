"""Deltas and versions: exact undo, files that round-trip, and bit-for-bit rebuilt versions."""

import copy

import pytest
import torch

from tests.editor.conftest import edits, tiny_gpt2, tiny_llama
from workers.editor import BaseSnapshot, Delta, Editor, EditorConfig, EditorError, content_hash, write_version_weights


def weights(loaded, modules):
    return {n: loaded.model.get_submodule(n).weight.detach().clone() for n in modules}


def test_apply_then_remove_restores_fp32_weights_exactly(any_model):
    config = EditorConfig.for_model(any_model, method="ultraedit", lr=1e-2)
    before = weights(any_model, config.modules)
    delta = Editor(copy.deepcopy(any_model), config).apply(edits())
    delta.apply_to(any_model.model)
    changed = weights(any_model, config.modules)
    assert any(not torch.equal(before[n], changed[n]) for n in config.modules)
    delta.remove_from(any_model.model)
    for n in config.modules:
        assert torch.equal(any_model.model.get_submodule(n).weight, before[n])


def test_delta_file_round_trip(any_model, tmp_path):
    config = EditorConfig.for_model(any_model, method="ultraedit", lr=1e-2)
    delta = Editor(any_model, config).apply(edits())
    delta.save(tmp_path / "d.safetensors")
    loaded = Delta.load(tmp_path / "d.safetensors")
    assert loaded.modules == delta.modules
    assert loaded.meta["edits"] == 4
    for n in delta.modules:
        assert torch.equal(loaded.dense(n), delta.dense(n))
    assert loaded.nbytes == delta.nbytes


@pytest.mark.parametrize("build", [tiny_gpt2, tiny_llama])
def test_materialised_version_is_bitwise_reproducible(tokenizer, build):
    first = build(tokenizer)
    config = EditorConfig.for_model(first, method="amend", lr=1e-2, steps=2)
    base = BaseSnapshot.capture(first, config.modules)
    editor = Editor(first, config)
    deltas = [editor.apply(edits()[:2]), editor.apply(edits()[2:])]

    hash_a = write_version_weights(first, base, deltas)
    again = write_version_weights(first, base, deltas)
    elsewhere = build(tokenizer)  # a fresh copy of the same base model, as on another worker
    hash_b = write_version_weights(elsewhere, base, deltas)
    assert hash_a == again == hash_b == content_hash(elsewhere, config.modules)
    for n in config.modules:
        assert torch.equal(first.model.get_submodule(n).weight, elsewhere.model.get_submodule(n).weight)

    # The live, in-place edits land on the same version up to fp32 rounding.
    live = build(tokenizer)
    live_editor = Editor(live, config)
    live_editor.apply(edits()[:2])
    live_editor.apply(edits()[2:])
    for n in config.modules:
        torch.testing.assert_close(live.model.get_submodule(n).weight, first.model.get_submodule(n).weight)

    # Rolling back to the base is exact, and its hash is the base's.
    base_hash = write_version_weights(first, base, [])
    assert base_hash != hash_a
    assert base_hash == content_hash(build(tokenizer), config.modules)


def test_a_wide_delta_is_stored_at_most_dense_size():
    torch.manual_seed(0)
    u, r = torch.randn(6, 20), torch.randn(20, 4)  # rank 20 > min(6, 4)
    small = Delta({"m": (u, r)}).compact()
    assert small.rank == 4 and small.nbytes < Delta({"m": (u, r)}).nbytes
    torch.testing.assert_close(small.dense("m"), u @ r)


def test_non_finite_delta_is_refused_and_model_unchanged(gpt2):
    config = EditorConfig.for_model(gpt2, method="ultraedit")
    name = config.modules[0]
    d_in, d_out = 128, 32
    u = torch.zeros(d_in, 1)
    u[3, 0] = float("nan")
    before = content_hash(gpt2, config.modules)
    bad = Delta({name: (u, torch.ones(1, d_out))})
    with pytest.raises(EditorError, match="non-finite"):
        bad.apply_to(gpt2.model)
    with pytest.raises(EditorError, match="non-finite"):
        write_version_weights(gpt2, BaseSnapshot.capture(gpt2, config.modules), [bad])
    assert content_hash(gpt2, config.modules) == before
