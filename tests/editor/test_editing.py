"""Editing a small model: the edits take effect, unrelated prompts keep their answers, and
memory stays flat however many batches are applied."""

import gc

import torch

from editor import Editor, EditorConfig, EditRequest, evaluate, locality_baseline
from tests.editor.conftest import SENTENCES, UNRELATED, edits, tiny_gpt2, tiny_llama


def test_edits_take_effect_while_unrelated_prompts_keep_their_answers(tokenizer):
    any_model = tiny_llama(tokenizer)
    baseline = locality_baseline(any_model, UNRELATED)
    before = evaluate(any_model, edits(), locality_baseline=baseline).metrics
    assert before["efficacy"] == 0.0  # the model does not know the new answers yet

    # All rows in every step (skip_settled off), so the losses before each step compare; the prompts alone are
    # rows (no context prefixes; the paraphrases stay unseen wordings).
    settings = {
        "lr": 3e-3,
        "steps": 8,
        "mu": 100.0,
        "positions": "target",
        "answer_end": "none",
        "skip_settled": False,
        "paraphrase_rows": False,
        "templates": 0,
        "margin": 0.0,
    }
    config = EditorConfig.for_model(any_model, method="amend", **settings)
    editor = Editor(any_model, config)
    editor.preserve_text = " ".join(SENTENCES)
    editor.apply(edits())

    after = evaluate(any_model, edits(), locality_baseline=baseline).metrics
    assert after["efficacy"] >= 0.75
    assert after["locality"] >= 0.75
    assert editor.last_losses[-1] < editor.last_losses[0] / 2  # each closed-form step lowers the edit loss


def test_edits_take_effect_through_gpt2_conv1d_layers(gpt2):
    config = EditorConfig.for_model(gpt2, method="amend", lr=3e-3, steps=8, mu=0.0, nu=0.0, settle=False)
    assert type(gpt2.model.get_submodule(config.modules[0])).__name__ == "Conv1D"
    Editor(gpt2, config).apply(edits())
    report = evaluate(gpt2, edits())
    assert report.metrics["efficacy"] >= 0.75


def _live_tensor_bytes() -> int:
    gc.collect()
    # type(), not isinstance(): a dead weakref.proxy left by another test raises on isinstance.
    return sum(o.nbytes for o in gc.get_objects() if issubclass(type(o), torch.Tensor))


def test_memory_does_not_grow_over_turns(tokenizer):
    loaded = tiny_gpt2(tokenizer)
    config = EditorConfig.for_model(loaded, method="amend", lr=1e-3, steps=2, mu=10.0, nu=1.0, settle=True)
    editor = Editor(loaded, config)
    words = ["Lima", "Madrid", "Paris", "Rome", "Oslo", "Berlin", "tennis", "violin"]
    held, state = [], []
    for turn in range(6):
        batch = [EditRequest(p.prompt, words[(turn + i) % len(words)]) for i, p in enumerate(edits())]
        delta = editor.apply(batch)
        assert delta.rank <= 2 * len(batch)  # one row per target token and step, never the lineage
        del delta
        held.append(_live_tensor_bytes())
        state.append(editor.normalizer.nbytes)
    assert len(set(state)) == 1  # the normaliser is a count and two vectors per module shape
    assert len(set(held[1:])) == 1  # after the first batch built the fixed matrices, nothing accumulates


def test_a_lines_first_batch_of_a_single_fact_takes_effect(tokenizer):
    # Without calibration the lifelong normaliser has seen only this fact's own rows: each is
    # standardised against itself and the edit is (nearly) nothing.
    fact = [EditRequest("Where does Erin live ?", "Lima")]
    settings = {"method": "amend", "lr": 3e-3, "steps": 4, "mu": 0.0, "positions": "target"}
    plain = tiny_llama(tokenizer)
    Editor(plain, EditorConfig.for_model(plain, **settings, calibrate=0)).apply(fact)
    assert evaluate(plain, fact).metrics["efficacy"] == 0.0

    calibrated = tiny_llama(tokenizer)
    config = EditorConfig.for_model(calibrated, **settings, calibrate=100)
    editor = Editor(calibrated, config)
    editor.apply(fact)
    assert evaluate(calibrated, fact).metrics["efficacy"] == 1.0
    assert editor.normalizer.count(editor.normalizer.keys[0]) > 100  # seeded before the fact's rows came


def test_the_calibration_weighs_as_the_rows_it_is_given(tokenizer):
    """``calibrate_rows``: a line's first batch is standardised mostly by its own rows, the calibration's
    statistics weighing as that many rows per module (0, the default: as many as its edits have)."""
    counts = {}
    for weight in (0, 20):
        loaded = tiny_llama(tokenizer)
        config = EditorConfig.for_model(loaded, method="amend", calibrate=100, calibrate_rows=weight)
        editor = Editor(loaded, config)
        editor.ensure_calibrated()
        counts[weight] = editor.normalizer.count(editor.normalizer.keys[0])
    modules = len(config.modules)  # of one shape: their rows merge into one statistic
    assert counts[20] == 20 * modules
    assert counts[0] > 100 * modules  # every row of the 100 calibration edits
