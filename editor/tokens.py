"""Teacher-forced batches: prompt + target token ids, with the positions that score the target.

A target is tokenised on its own with a leading space (how it follows a prompt in running
text) and appended to the prompt's ids, as EasyEdit does, so that the prompt's tokens never
depend on the target. Position t scores token t+1, so the scored positions of a target
starting at index p with m tokens are p-1 .. p+m-2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import EditorError


def prompt_ids(tokenizer, prompt: str) -> list[int]:
    return list(tokenizer(prompt, add_special_tokens=True)["input_ids"])


def target_ids(tokenizer, target: str) -> list[int]:
    ids = list(tokenizer(" " + target.strip(), add_special_tokens=False)["input_ids"])
    # SentencePiece tokenizers turn the leading space into a token of its own: drop it.
    if len(ids) > 1 and tokenizer.decode(ids[:1]).strip() == "":
        ids = ids[1:]
    if not ids:
        raise EditorError(f"target {target!r} tokenizes to nothing")
    return ids


@dataclass
class TeacherForced:
    """A right-padded batch. input_ids/attention_mask: (B, T); scored: (B, T) bool where the
    logits predict a target token; labels: (B, T) the token each scored position must predict
    (-100 elsewhere); subject: (B, T) bool at the last token of the request's subject (none set
    where a row has no subject)."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    scored: torch.Tensor
    labels: torch.Tensor
    subject: torch.Tensor

    def to(self, device: torch.device) -> TeacherForced:
        return TeacherForced(*(t.to(device) for t in vars(self).values()))

    def rows(self, rows: slice | torch.Tensor) -> TeacherForced:
        return TeacherForced(*(t[rows] for t in vars(self).values()))

    def trimmed(self) -> TeacherForced:
        """The same rows cut to the longest one's length: the padding after it changes nothing."""
        width = int(self.attention_mask.sum(dim=1).max())
        return TeacherForced(*(t[:, :width] for t in vars(self).values()))


def build_batch(
    pairs: list[tuple[list[int], list[int]]],
    context_length: int,
    pad_id: int,
    subject_at: list[int | None] | None = None,
) -> TeacherForced:
    """Pairs of (prompt ids, continuation ids) to one right-padded teacher-forced batch;
    ``subject_at``: per pair, the index of its subject's last token in the prompt (or None)."""
    rows = []
    for p, c in pairs:
        if not p:
            raise EditorError("a prompt tokenizes to nothing")
        if len(p) + len(c) > context_length:
            raise EditorError(
                f"prompt plus target is {len(p) + len(c)} tokens, longer than the model's context of {context_length}"
            )
        rows.append((p, c))
    width = max(len(p) + len(c) for p, c in rows)
    n = len(rows)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    attention = torch.zeros((n, width), dtype=torch.long)
    labels = torch.full((n, width), -100, dtype=torch.long)
    for i, (p, c) in enumerate(rows):
        ids = p + c
        input_ids[i, : len(ids)] = torch.tensor(ids)
        attention[i, : len(ids)] = 1
        if c:
            labels[i, len(p) - 1 : len(p) + len(c) - 1] = torch.tensor(c)
    subject = torch.zeros((n, width), dtype=torch.bool)
    for i, at in enumerate(subject_at or []):
        if at is not None:
            subject[i, at] = True
    return TeacherForced(input_ids, attention, labels != -100, labels, subject)


def pad_id(tokenizer) -> int:
    for attr in ("pad_token_id", "eos_token_id", "bos_token_id"):
        value = getattr(tokenizer, attr, None)
        if value is not None:
            return int(value)
    return 0


def subject_position(tokenizer, prompt: str, subject: str) -> int:
    """Index of the token that ends the subject's last occurrence in the prompt (ROME's key position)."""
    end = prompt.rfind(subject)
    if not subject or end < 0:
        raise EditorError(f"subject {subject!r} does not appear in the prompt {prompt[:60]!r}")
    end += len(subject)
    offsets = tokenizer(prompt, add_special_tokens=True, return_offsets_mapping=True)["offset_mapping"]
    # The last token that starts inside the subject; special tokens have empty (0, 0) spans.
    return max(i for i, (a, b) in enumerate(offsets) if a < end and b > a)


def edit_batch(
    tokenizer,
    prompts: list[str],
    targets: list[str],
    context_length: int,
    subjects: list[str | None] | None = None,
    end_id: int | None = None,
) -> TeacherForced:
    """Teacher-forced rows of prompt + target (+ ``end_id``, a token that must follow the target: where
    the answer ends, so the greedy decoder does not run on into a longer word)."""
    end = [] if end_id is None else [end_id]
    pairs = [(prompt_ids(tokenizer, p), target_ids(tokenizer, t) + end) for p, t in zip(prompts, targets, strict=True)]
    at = None
    if subjects is not None:
        at = [None if s is None else subject_position(tokenizer, p, s) for p, s in zip(prompts, subjects, strict=True)]
    return build_batch(pairs, context_length, pad_id(tokenizer), at)
