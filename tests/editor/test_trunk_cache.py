"""A model whose lower blocks never change (a worker's line) keeps their output per prompt: asking the same
probes and facts again after an edit runs only the blocks from the lowest edited one up, and answers exactly
what the whole model answers, whatever the edit wrote and even if the lower blocks are written after all."""

import torch

from editor.evaluation import answers_now, perplexity, scored_predictions
from editor.model import get_module
from editor.tokens import prompt_ids, target_ids
from tests.editor.conftest import edits, tiny_gpt2, tiny_llama

EDITED = ["model.layers.2.mlp.down_proj"]  # blocks 0 and 1 are below the cut
ASKED = [
    ("The capital of France is", "Paris"),
    ("Bob plays the", "violin every evening"),
    ("Where does Erin live ?", "Lima"),
    ("The river runs through the old town to the", "sea"),
]
TEXT = "The river runs through the old town to the sea . Alice works as a doctor in Berlin ."


def pairs(tokenizer) -> list[tuple[list[int], list[int]]]:
    return [(prompt_ids(tokenizer, p), target_ids(tokenizer, t)) for p, t in ASKED]


def answers(loaded) -> tuple[list[list[int]], float, dict]:
    """What the model answers: argmax at every target position, perplexity, greedy answers."""
    tok = loaded.tokenizer
    return scored_predictions(loaded, pairs(tok)), perplexity(loaded, TEXT), answers_now(loaded, ASKED)


def without_cache(loaded, asked: list[tuple[str, str]] | None = None):
    """``answers`` (or, given ``asked``, ``answers_now`` of them) through the whole model."""
    cache, loaded.trunk_cache = loaded.trunk_cache, None
    try:
        return answers(loaded) if asked is None else answers_now(loaded, asked)
    finally:
        loaded.trunk_cache = cache


def write(module: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        module.weight.add_(torch.randn(module.weight.shape, generator=generator) * 0.3)


def assert_same(got, expected) -> None:
    predictions, ppl, said = got
    assert predictions == expected[0]
    assert abs(ppl - expected[1]) <= 1e-4 * expected[1]
    assert said == expected[2]


def test_asking_again_after_an_edit_runs_only_the_upper_blocks_and_answers_as_the_whole_model(tokenizer):
    loaded = tiny_llama(tokenizer)
    loaded.keep_trunk(EDITED, budget_bytes=1 << 20)
    cache = loaded.trunk_cache
    assert cache.start == 2

    assert_same(answers(loaded), without_cache(loaded))
    first = cache.computed_rows
    assert first > 0 and len(cache) > 0

    write(get_module(loaded.model, EDITED[0]), seed=1)  # what a version writes
    edited = without_cache(loaded)
    assert edited != without_cache(tiny_llama(tokenizer))  # the edit changed what the model answers
    assert_same(answers(loaded), edited)
    # Decoding runs the whole model; the teacher-forced passes found every prompt kept.
    assert cache.computed_rows == first


def test_a_write_below_the_cut_drops_what_was_kept(tokenizer):
    loaded = tiny_llama(tokenizer)
    loaded.keep_trunk(EDITED, budget_bytes=1 << 20)
    answers(loaded)
    before = loaded.trunk_cache.computed_rows

    write(loaded.model.model.layers[0].mlp.down_proj, seed=2)

    assert_same(answers(loaded), without_cache(loaded))
    assert loaded.trunk_cache.computed_rows > before  # asked through the new lower blocks, not the kept ones


def test_the_budget_bounds_what_is_kept_and_answers_do_not_depend_on_it(tokenizer):
    loaded = tiny_llama(tokenizer)
    row_bytes = 32 * 4  # one token's hidden state: d_model 32 in fp32
    loaded.keep_trunk(EDITED, budget_bytes=12 * row_bytes)

    assert_same(answers(loaded), without_cache(loaded))
    assert 0 < loaded.trunk_cache.used_bytes <= 12 * row_bytes


def test_a_family_that_cannot_be_cut_runs_the_whole_model(tokenizer):
    loaded = tiny_gpt2(tokenizer)  # absolute position embeddings: the blocks' input is not the hidden state alone
    loaded.keep_trunk(["transformer.h.2.mlp.c_proj"], budget_bytes=1 << 20)
    assert loaded.trunk_cache.start is None

    assert_same(answers(loaded), without_cache(loaded))
    assert len(loaded.trunk_cache) == 0


def test_an_edits_own_rows_answer_the_evaluation_of_its_facts_without_running_the_lower_blocks(tokenizer):
    from editor import Editor, EditorConfig

    loaded = tiny_llama(tokenizer)
    loaded.keep_trunk(EDITED, budget_bytes=1 << 20)
    config = EditorConfig.for_model(loaded, method="amend", modules=EDITED, calibrate=0, mu=0.0, nu=0.0)
    facts = edits()
    Editor(loaded, config).apply(facts)
    computed = loaded.trunk_cache.computed_rows

    asked = [(r.prompt, r.target) for r in facts]
    said = answers_now(loaded, asked)

    assert said == without_cache(loaded, asked)
    # Every prompt + target was a row of the edit: the evaluation ran only the upper blocks for them.
    assert loaded.trunk_cache.computed_rows == computed
