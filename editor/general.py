"""Amend's fixed set of general-knowledge prompts (editor/data/general_knowledge.jsonl).

Two uses, both fixed and seeded so every run and every machine sees the same rows:
- locality probes for a model line on a real model: 125 prompts across capitals, languages,
  authors, currencies and science, so damage to what the model knows shows in every version;
- calibration edits: the same prompts with each answer moved to another prompt (a seeded
  derangement), whose keys and gradients seed a new line's lifelong normaliser, so that the
  line's very first batch (even a single fact) is standardised against real statistics.
"""

from __future__ import annotations

import json
import random
from functools import cache
from pathlib import Path

from .data import EditRequest, LocalityProbe

DATA = Path(__file__).with_name("data") / "general_knowledge.jsonl"


@cache
def _rows() -> tuple[tuple[str, str], ...]:
    lines = DATA.read_text(encoding="utf-8").splitlines()
    return tuple((r["prompt"], r["answer"]) for r in map(json.loads, filter(str.strip, lines)))


def general_knowledge_probes() -> list[LocalityProbe]:
    return [LocalityProbe(prompt, answer) for prompt, answer in _rows()]


def calibration_requests(count: int, seed: int = 0) -> list[EditRequest]:
    """``count`` counterfactual edits of the general prompts (each answer given to another prompt)."""
    rows = list(_rows())
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    picked = order[: min(count, len(rows))]
    # Each picked prompt gets the answer of the next picked prompt: a derangement whenever count > 1.
    return [
        EditRequest(rows[i][0], rows[picked[(k + 1) % len(picked)]][1] if len(picked) > 1 else "unknown")
        for k, i in enumerate(picked)
    ]
