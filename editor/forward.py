"""Forward passes that score only what an edit needs.

Three savings over ``model(input_ids).logits``:
- logits only at the scored positions: the output head (vocabulary x hidden, 28 M of SmolLM2's
  135 M parameters) runs on the few target positions instead of every position of the batch, and
  a batch's full (B, T, V) logits are never materialised;
- a trunk cache: the blocks below the lowest edited one do not change while a batch is edited,
  so their output is computed once per batch and every closed-form step runs only the blocks
  from the lowest edited one up. This needs a model whose blocks take the hidden state alone
  (rotary positions, no absolute position embedding or scaling added to ``inputs_embeds``); for
  other families the full stack runs every time (same result, more time);
- no padding to speak of: rows are run in chunks of like length (``by_length``), each chunk cut to its
  longest row. Batches are right-padded and attention is causal, so no real token ever reads what is
  cut off.
Beyond one batch, ``editor.trunk_cache`` keeps the same block inputs per token sequence for a model whose
lower blocks never change (a line's versions), so re-asking a prompt runs only the upper blocks.
"""

from __future__ import annotations

from contextlib import contextmanager, suppress

import torch
from torch import nn

# Model types whose backbone runs ``layers`` on ``inputs_embeds`` unchanged (rotary positions).
_TRUNCATABLE = {"llama", "mistral", "mixtral", "qwen2", "qwen3", "phi3"}


def backbone(model: nn.Module) -> nn.Module:
    """The decoder stack without the output head (``model.model`` for Llama, ``transformer`` for GPT-2)."""
    return model.base_model


def head(model: nn.Module) -> nn.Module:
    return model.get_output_embeddings()


def block_list(model: nn.Module) -> nn.ModuleList | None:
    base = backbone(model)
    for attr in ("layers", "h", "blocks"):
        blocks = getattr(base, attr, None)
        if isinstance(blocks, nn.ModuleList):
            return blocks
    return None


def scored_logits(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    scored: torch.Tensor,
    *,
    inputs_embeds: torch.Tensor | None = None,
) -> torch.Tensor:
    """Logits (N, V) at the ``scored`` positions (B, T) only, in row-major order."""
    if inputs_embeds is not None:
        hidden = backbone(model)(inputs_embeds=inputs_embeds, attention_mask=attention_mask, use_cache=False)
    else:
        hidden = backbone(model)(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    return head(model)(hidden.last_hidden_state[scored])  # (N, V)


def by_length(attention_mask: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``rows`` (b,) shortest first: rows of like length then share a chunk, and a chunk cut to its longest
    row carries little padding (a batch of 100 ZsRE edits: 2,500 padded tokens, 1,650 so, 1,600 real)."""
    lengths = attention_mask.sum(dim=1).cpu()  # (B,)
    return rows[lengths[rows].argsort(stable=True)]


class BlockReachedError(Exception):
    """Raised by a hook to end a forward pass once what it needed has been seen."""


def lowest_block(model: nn.Module, edited: list[nn.Module]) -> int | None:
    """Index of the lowest block holding an edited module; None where the family cannot be cut there."""
    if getattr(model.config, "model_type", "") not in _TRUNCATABLE:
        return None
    blocks = block_list(model)
    if blocks is None:
        return None
    owners = []
    for module in edited:
        owner = next((i for i, b in enumerate(blocks) if any(m is module for m in b.modules())), None)
        if owner is None:
            return None
        owners.append(owner)
    return min(owners)


@torch.no_grad()
def block_inputs(
    model: nn.Module, index: int, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, chunk: int = 0
) -> torch.Tensor:
    """The input (B, T, d_model) of block ``index`` for a right-padded batch, run in chunks of ``chunk`` rows
    (0: all at once), shortest first, each cut to its longest row (what is cut off is never read)."""
    seen: dict[str, torch.Tensor] = {}

    def grab(_module, args, kwargs):
        seen["hidden"] = (args[0] if args else kwargs["hidden_states"]).detach()
        raise BlockReachedError

    order = by_length(attention_mask, torch.arange(input_ids.shape[0]))
    step = chunk if chunk > 0 else len(order)
    hidden: torch.Tensor | None = None
    handle = block_list(model)[index].register_forward_pre_hook(grab, with_kwargs=True)
    try:
        for start in range(0, len(order), step):
            rows = order[start : start + step].to(input_ids.device)
            mask = attention_mask[rows]
            width = int(mask.sum(dim=1).max())
            with suppress(BlockReachedError):
                backbone(model)(input_ids=input_ids[rows, :width], attention_mask=mask[:, :width], use_cache=False)
            part = seen.pop("hidden")  # (rows, width, d_model)
            if hidden is None:
                hidden = part.new_zeros(*input_ids.shape, part.shape[-1])
            hidden[rows, :width] = part
    finally:
        handle.remove()
    return hidden


@contextmanager
def upper_blocks(model: nn.Module, start: int):
    """Within: the backbone holds only blocks ``start`` and above (it then takes their input as
    ``inputs_embeds``)."""
    base = backbone(model)
    blocks = block_list(model)
    name = next(a for a in ("layers", "h", "blocks") if getattr(base, a, None) is blocks)
    setattr(base, name, nn.ModuleList(list(blocks)[start:]))
    try:
        yield
    finally:
        setattr(base, name, blocks)


class Trunk:
    """The input of the lowest edited block for one batch, computed once; ``logits`` then runs the
    blocks from there up. Falls back to the whole model where the family cannot be cut."""

    def __init__(
        self,
        model: nn.Module,
        edited: list[nn.Module],
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        *,
        chunk: int = 0,
    ) -> None:
        self.model = model
        self.input_ids = input_ids  # (B, T)
        self.attention_mask = attention_mask  # (B, T)
        self.start = lowest_block(model, edited)
        self.hidden: torch.Tensor | None = None  # (B, T, d_model): input of block ``start``
        if self.start is not None and self.start > 0:
            self.hidden = block_inputs(model, self.start, input_ids, attention_mask, chunk=chunk)

    def logits(self, rows: slice | torch.Tensor, scored: torch.Tensor) -> torch.Tensor:
        """Logits (N, V) at the scored positions (b, t) of the batch rows ``rows``, each cut to its first
        t <= T positions (``TeacherForced.trimmed``)."""
        width = scored.shape[1]
        ids, mask = self.input_ids[rows][:, :width], self.attention_mask[rows][:, :width]
        if self.hidden is None:
            return scored_logits(self.model, ids, mask, scored)
        with upper_blocks(self.model, self.start):
            return scored_logits(self.model, ids, mask, scored, inputs_embeds=self.hidden[rows][:, :width])
