"""Capturing an edit batch in chunks of like-length rows, each cut to its longest row, gives every row the
keys, gradients and loss that one padded pass of the whole model gives: chunks change the time, not the edit."""

import pytest
import torch

from editor.hooks import capture, edit_loss
from editor.tokens import edit_batch
from tests.editor.conftest import tiny_llama

PROMPTS = [
    "Bob plays the violin every evening in the old town by the river and",
    "Where does Erin live ?",
    "What colour is the sky over the old town ?",
    "Who wrote the novel ?",
    "Which sport does Carol play every evening ?",
]
TARGETS = ["Lima", "blue sky", "Tolstoy", "tennis", "bread"]
MODULES = ["model.layers.1.mlp.down_proj", "model.layers.2.mlp.down_proj"]  # block 0 runs once, as the trunk


def per_row(captured, counts: torch.Tensor) -> dict[int, tuple[torch.Tensor, ...]]:
    """Batch row -> (its keys and gradients of each module, whether it is done), from the captured order."""
    sizes = counts[captured.rows].tolist()
    parts = [torch.split(t, sizes) for n in MODULES for t in (captured.keys[n], captured.grads[n])]
    return {int(row): (*(p[i] for p in parts), captured.rows_done[i]) for i, row in enumerate(captured.rows)}


def test_chunks_of_like_length_rows_capture_what_one_padded_pass_of_the_whole_model_does(tokenizer):
    loaded = tiny_llama(tokenizer)
    batch = edit_batch(tokenizer, PROMPTS, TARGETS, loaded.context_length)
    lengths = batch.attention_mask.sum(dim=1)
    assert len(set(lengths.tolist())) == len(PROMPTS)  # every chunk below is cut to a different width

    whole = capture(loaded.model, MODULES, batch, chunk=0)
    chunked = capture(loaded.model, MODULES, batch, chunk=2)

    assert chunked.rows.tolist() == sorted(range(len(PROMPTS)), key=lambda i: int(lengths[i]))  # shortest first
    counts = batch.scored.sum(dim=1)
    expected, got = per_row(whole, counts), per_row(chunked, counts)
    for row in range(len(PROMPTS)):
        for a, b in zip(expected[row], got[row], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    with torch.no_grad():  # the plain model, every block, the padded batch: the loss the capture reports
        logits = loaded.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        loss = float(edit_loss(logits, batch)) / len(PROMPTS)
    assert chunked.loss == pytest.approx(loss, rel=1e-5)
    assert whole.loss == pytest.approx(loss, rel=1e-5)


def test_a_capture_of_some_rows_takes_only_those_rows(tokenizer):
    loaded = tiny_llama(tokenizer)
    batch = edit_batch(tokenizer, PROMPTS, TARGETS, loaded.context_length)
    only = torch.tensor([3, 0, 2])
    captured = capture(loaded.model, MODULES, batch, chunk=2, only=only)
    lengths = batch.attention_mask.sum(dim=1)
    assert sorted(captured.rows.tolist()) == [0, 2, 3]
    assert captured.rows.tolist() == sorted([0, 2, 3], key=lambda i: int(lengths[i]))
    assert captured.keys[MODULES[0]].shape[0] == int(batch.scored[only].sum())
