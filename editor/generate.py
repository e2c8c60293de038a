"""Greedy answers, batched, and the rule that says whether an answer gives a target.

One decoder for everything that asks the model what it says: a fact's answer before and after
its batch, probes, the generation metric. Prompts are left-padded so every row ends at the same
position and ``generate`` continues all of them at once with the KV cache.
"""

from __future__ import annotations

import re
import unicodedata

import torch

from .model import LoadedModel
from .tokens import pad_id, prompt_ids

ANSWER_BATCH = 64


@torch.no_grad()
def greedy_ids(loaded: LoadedModel, prompts: list[list[int]], max_new_tokens: int) -> list[list[int]]:
    """The greedy continuation (token ids, up to end-of-text) of each tokenised prompt."""
    tokenizer, model = loaded.tokenizer, loaded.model
    pad = pad_id(tokenizer)
    eos = getattr(tokenizer, "eos_token_id", None)
    out: list[list[int]] = []
    for start in range(0, len(prompts), ANSWER_BATCH):
        rows = [row[-(loaded.context_length - max_new_tokens) :] for row in prompts[start : start + ANSWER_BATCH]]
        width = max(len(row) for row in rows)
        input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=loaded.device)  # (b, width)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=loaded.device)
        generated = model.generate(
            input_ids=input_ids,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            num_beams=1,
            pad_token_id=pad,
            eos_token_id=eos,
        )  # (b, width + new)
        for row in generated[:, width:].tolist():
            if eos is not None and eos in row:
                row = row[: row.index(eos)]
            out.append(row)
    return out


def greedy_answers(loaded: LoadedModel, prompts: list[str], max_new_tokens: int = 16) -> list[str]:
    """The greedy continuation of each prompt, decoded and stripped."""
    ids = greedy_ids(loaded, [prompt_ids(loaded.tokenizer, p) for p in prompts], max_new_tokens)
    return [loaded.tokenizer.decode(row, skip_special_tokens=True).strip() for row in ids]


def generate_answer(loaded: LoadedModel, prompt: str, max_new_tokens: int = 16) -> str:
    return greedy_answers(loaded, [prompt], max_new_tokens)[0]


_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)


def normalize_answer(text: str) -> str:
    """Case-folded, NFKC, punctuation dropped, whitespace collapsed: "  Lyon." -> "lyon"."""
    text = _PUNCTUATION.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(text.split())


def says_target(answer: str, target: str) -> bool:
    """Whether a greedy answer begins with the target, word for word (after normalising both)."""
    a, t = normalize_answer(answer), normalize_answer(target)
    return bool(t) and (a == t or a.startswith(t + " "))
