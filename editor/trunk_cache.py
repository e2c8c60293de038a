"""The input of the lowest edited block, remembered per token sequence across passes.

The editor writes only its edited modules, so below the lowest of them a line's weights are the base
model's in every version. A prompt asked again (the locality probes after every version, earlier facts
re-checked, a full check of production) then needs only the blocks from there up: on SmolLM2 with the
default modules (blocks 16-24 of 30) a teacher-forced pass costs about half. The cached pass gives the
same logits as the whole model (right padding, causal attention: a real token's hidden state does not
depend on the rows beside it), up to the rounding of a different batch shape.

A row is kept up to its last scored position: nothing after it is read (causal attention), so "prompt +
target + any token" is one key, and an edit's own rows (prompt + target + the answer's end, ``remember``)
answer the evaluation's pass over the same prompt and target after the edit.

The cache is bounded in bytes (least recently used out) and dropped whenever a parameter below the cut
is written in place (its version counter moves), so a caller that changes the lower blocks after all
gets the new weights' answers, only slower.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .forward import backbone, block_inputs, block_list, lowest_block, scored_logits, upper_blocks


class TrunkCache:
    """Per token sequence, the input (t, d_model) of block ``start`` (the lowest holding an edited module)."""

    def __init__(self, model: nn.Module, edited: list[nn.Module], budget_bytes: int) -> None:
        self.model = model
        self.budget_bytes = budget_bytes
        start = lowest_block(model, edited)
        self.start = start if start else None  # None (or 0): nothing below the edited blocks to keep
        lower = [backbone(model).get_input_embeddings(), *list(block_list(model) or [])[: self.start or 0]]
        self._lower = [p for module in lower for p in module.parameters()]
        self._stamp = self._versions()
        self._rows: OrderedDict[tuple[int, ...], torch.Tensor] = OrderedDict()
        self.used_bytes = 0
        self.computed_rows = 0  # rows run through the lower blocks (the misses), for tests and figures

    def _versions(self) -> tuple[int, ...]:
        return tuple(p._version for p in self._lower)

    def clear(self) -> None:
        self._rows.clear()
        self.used_bytes = 0

    def __len__(self) -> int:
        return len(self._rows)

    def _fresh(self) -> None:
        if self._versions() != self._stamp:  # the lower blocks were written: what is kept is stale
            self.clear()
            self._stamp = self._versions()

    @staticmethod
    def _keys(
        input_ids: torch.Tensor, attention_mask: torch.Tensor, scored: torch.Tensor
    ) -> tuple[list[tuple[int, ...]], list[int]]:
        """Per row, its key (the tokens up to its last scored position: nothing after is read) and that
        length, the row's reach (its whole length where nothing is scored)."""
        width = scored.shape[1]
        last = torch.where(scored.any(dim=1), width - scored.flip(1).int().argmax(dim=1), attention_mask.sum(dim=1))
        reach = last.tolist()
        return [tuple(row[:n]) for row, n in zip(input_ids.tolist(), reach, strict=True)], reach

    @torch.no_grad()
    def scored_logits(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, scored: torch.Tensor
    ) -> torch.Tensor:
        """``forward.scored_logits`` of a right-padded batch (B, T): logits (N, V) at the scored positions."""
        if self.start is None:
            return scored_logits(self.model, input_ids, attention_mask, scored)
        self._fresh()
        keys, reach = self._keys(input_ids, attention_mask, scored)
        width = max(reach)
        input_ids, scored = input_ids[:, :width], scored[:, :width]  # nothing after a row's reach is read
        attention_mask = (
            torch.arange(width, device=input_ids.device) < torch.tensor(reach, device=input_ids.device)[:, None]
        ).long()
        fresh: dict[tuple[int, ...], torch.Tensor] = {}
        missing = [i for i, key in enumerate(keys) if key not in self._rows]
        if missing:
            rows = torch.tensor(missing, device=input_ids.device)
            computed = block_inputs(self.model, self.start, input_ids[rows], attention_mask[rows])  # (m, W, d)
            self.computed_rows += len(missing)
            for j, i in enumerate(missing):
                fresh[keys[i]] = computed[j, : reach[i]].clone()  # (t, d_model)
        hidden: torch.Tensor | None = None  # (B, W, d_model)
        for i, key in enumerate(keys):
            row = fresh.get(key)
            if row is None:
                row = self._rows[key]
                self._rows.move_to_end(key)
            if hidden is None:
                hidden = row.new_zeros(*input_ids.shape, row.shape[-1])
            hidden[i, : reach[i]] = row
        for key, row in fresh.items():
            self._keep(key, row)
        with upper_blocks(self.model, self.start):
            return scored_logits(self.model, input_ids, attention_mask, scored, inputs_embeds=hidden)

    def remember(
        self,
        start: int,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        scored: torch.Tensor,
        hidden: torch.Tensor,
    ) -> None:
        """Keep rows whose input (B, T, d_model) of block ``start`` a caller computed anyway (an edit's trunk)."""
        if start != self.start:
            return
        self._fresh()
        keys, reach = self._keys(input_ids, attention_mask, scored)
        for i, (key, n) in enumerate(zip(keys, reach, strict=True)):
            if key not in self._rows:
                self._keep(key, hidden[i, :n].detach().clone())

    def _keep(self, key: tuple[int, ...], row: torch.Tensor) -> None:
        size = row.numel() * row.element_size()
        if size > self.budget_bytes:
            return
        self._rows[key] = row
        self.used_bytes += size
        while self.used_bytes > self.budget_bytes:
            _, old = self._rows.popitem(last=False)
            self.used_bytes -= old.numel() * old.element_size()
