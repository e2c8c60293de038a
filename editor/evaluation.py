"""Metrics, as in the knowledge-editing literature (EasyEdit's ZsRE protocol): token-level,
teacher-forced accuracy of target tokens, computed in batches.

- efficacy: fraction of target tokens the model predicts (argmax) after the edit prompt;
- generalization: the same on each paraphrase (mean per request over its paraphrases);
- locality: on unrelated prompts teacher-forced with their answer (or, without one, with the
  pre-edit model's greedy continuation), the fraction of positions where the edited model's
  argmax equals the pre-edit model's; locality_accuracy: fraction equal to the given answer;
- retention: efficacy of earlier edits of the lineage, measured after the newest batch;
- perplexity on a fixed text, and its drift perplexity / perplexity_before - 1.
Every metric is the mean over requests (or probes) of a per-item mean over tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .data import EditRequest, LocalityProbe
from .forward import scored_logits
from .generate import greedy_ids, says_target
from .metrics import (
    GENERATION_EFFICACY,
    GENERATION_GENERALIZATION,
    LOCALITY,
    LOCALITY_ACCURACY,
    PERPLEXITY,
    PERPLEXITY_DRIFT,
    TOKEN_EFFICACY,
    TOKEN_GENERALIZATION,
    TOKEN_RETENTION,
)
from .model import LoadedModel
from .tokens import build_batch, pad_id, prompt_ids, target_ids

DEFAULT_FLUENCY_TEXT = (
    "The river rises in the hills to the north and runs slowly through farmland before it reaches the sea. "
    "In spring the water is high and the meadows along its banks are often flooded for several weeks. "
    "Most of the villages were built on higher ground for that reason, and their churches can be seen "
    "from a long way off. The town at the mouth of the river grew up around a small harbour, where fishing "
    "boats still land their catch every morning. Its market is held on Saturdays in the square in front of "
    "the old town hall, and people come from the surrounding country to buy bread, cheese, vegetables and "
    "fish. A railway line was opened in the nineteenth century, which brought visitors from the city during "
    "the summer months. Many of the large houses near the beach date from that time. Today the town has a "
    "museum, a library, two schools and a hospital, and the population is about twelve thousand. The climate "
    "is mild, with cool summers and wet winters, and snow is rare. Walkers follow the path along the cliffs "
    "to the lighthouse, from where, on a clear day, the islands can be seen on the horizon."
)

EVAL_BATCH = 64
GREEDY_TOKENS = 4  # continuation length scored for a locality probe that has no answer


@dataclass
class LocalityBaseline:
    """Pre-edit predictions on locality probes. entries: (prompt, answer) -> (prompt ids,
    continuation ids, pre-edit argmax at the continuation positions)."""

    entries: dict[tuple[str, str | None], tuple[list[int], list[int], list[int]]] = field(default_factory=dict)


@dataclass
class EvalReport:
    metrics: dict[str, float]
    per_request: list[dict]


@torch.no_grad()
def scored_predictions(loaded: LoadedModel, pairs: list[tuple[list[int], list[int]]]) -> list[list[int]]:
    """For each (prompt ids, continuation ids): the argmax token at every continuation position."""
    out: list[list[int]] = []
    model, ctx, pad = loaded.model, loaded.context_length, pad_id(loaded.tokenizer)
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))  # less padding
    results: dict[int, list[int]] = {}
    for start in range(0, len(order), EVAL_BATCH):
        idx = order[start : start + EVAL_BATCH]
        batch = build_batch([pairs[i] for i in idx], ctx, pad).to(loaded.device)
        logits = scored_logits(model, batch.input_ids, batch.attention_mask, batch.scored)  # (N, V)
        preds = logits.argmax(dim=-1).cpu().split(batch.scored.sum(dim=1).tolist())
        for row, i in enumerate(idx):
            results[i] = preds[row].tolist()
    out = [results[i] for i in range(len(pairs))]
    return out


def _accuracy(pred: list[int], gold: list[int]) -> float:
    return sum(int(p == g) for p, g in zip(pred, gold, strict=True)) / len(gold)


@torch.no_grad()
def sample_text(loaded: LoadedModel, tokens: int, length: int, seed: int = 0) -> list[list[int]]:
    """About ``tokens`` tokens of text sampled from the model (temperature 1) from its BOS/EOS
    token, as rows of ``length``; deterministic for a seed, global RNG state untouched."""
    tok = loaded.tokenizer
    start = next((t for t in (tok.bos_token_id, tok.eos_token_id) if t is not None), None)
    if start is None:
        start = prompt_ids(tok, "The")[0]
    rows = max(1, tokens // length)
    seq = torch.full((rows, 1), start, dtype=torch.long, device=loaded.device)
    devices = [loaded.device.index or 0] if loaded.device.type == "cuda" else []
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # generate() warns about pad == eos, harmless for unpadded rows
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        seq = loaded.model.generate(
            input_ids=seq,
            attention_mask=torch.ones_like(seq),
            do_sample=True,
            top_k=0,
            top_p=1.0,
            temperature=1.0,
            max_new_tokens=length - 1,
            min_new_tokens=length - 1,
            pad_token_id=start,
        )
    hf_logging.set_verbosity(verbosity)
    return seq.cpu().tolist()


def locality_baseline(loaded: LoadedModel, probes: list[LocalityProbe]) -> LocalityBaseline:
    """Record the pre-edit model's predictions on the probes (call before editing)."""
    tok = loaded.tokenizer
    base = LocalityBaseline()
    todo = []
    for probe in probes:
        key = (probe.prompt, probe.answer)
        if key in base.entries:
            continue
        p = prompt_ids(tok, probe.prompt)
        todo.append((key, p, target_ids(tok, probe.answer) if probe.answer else None))
    unanswered = [i for i, (_, _, c) in enumerate(todo) if c is None]
    for i, cont in zip(unanswered, greedy_ids(loaded, [todo[i][1] for i in unanswered], GREEDY_TOKENS), strict=True):
        todo[i] = (todo[i][0], todo[i][1], cont)
    todo = [t for t in todo if t[2]]
    preds = scored_predictions(loaded, [(p, c) for _, p, c in todo])
    for (key, p, c), pred in zip(todo, preds, strict=True):
        base.entries[key] = (p, c, pred)
    return base


@torch.no_grad()
def perplexity(loaded: LoadedModel, text: str) -> float:
    """exp(mean token NLL) of ``text``, in non-overlapping windows of the model's context."""
    ids = prompt_ids(loaded.tokenizer, text)
    window = min(loaded.context_length, 1024)
    total, count = 0.0, 0
    for start in range(0, max(len(ids) - 1, 1), window):
        chunk = ids[start : start + window]
        if len(chunk) < 2:
            break
        t = torch.tensor([chunk], device=loaded.device)
        logits = loaded.model(input_ids=t).logits[0, :-1].float()
        nll = torch.nn.functional.cross_entropy(logits, t[0, 1:], reduction="sum")
        total += float(nll)
        count += len(chunk) - 1
    return math.exp(total / max(count, 1))


def _said_targets(
    loaded: LoadedModel, requests: list[EditRequest], targets: list[list[int]]
) -> list[tuple[str, bool, list[tuple[str, bool]]]]:
    """Per request: (answer to the prompt, whether it gives the target, [(paraphrase answer, ok)]).

    Each prompt is continued for its target's length plus one token (enough to see the target and
    where its word ends), prompts of equal target length decoded together."""
    tok = loaded.tokenizer
    asks = [
        (i, p, len(t) + 1)
        for i, (r, t) in enumerate(zip(requests, targets, strict=True))
        for p in (r.prompt, *r.paraphrases)
    ]
    answers: dict[tuple[int, str], str] = {}
    for length in sorted({n for _, _, n in asks}):
        same = [(i, p) for i, p, n in asks if n == length]
        ids = greedy_ids(loaded, [prompt_ids(tok, p) for _, p in same], length)
        for (i, p), row in zip(same, ids, strict=True):
            answers[(i, p)] = tok.decode(row, skip_special_tokens=True).strip()
    out = []
    for i, r in enumerate(requests):
        first = answers[(i, r.prompt)]
        paras = [(answers[(i, p)], says_target(answers[(i, p)], r.target)) for p in r.paraphrases]
        out.append((first, says_target(first, r.target), paras))
    return out


def evaluate(
    loaded: LoadedModel,
    requests: list[EditRequest],
    *,
    locality_baseline: LocalityBaseline | None = None,
    retained: list[EditRequest] = (),
    fluency_text: str | None = None,
    perplexity_before: float | None = None,
    generation: bool = True,
) -> EvalReport:
    """Score the model as it is now. A metric with no data is absent from ``metrics``.

    generation: also ask the model (greedy) for each prompt's and paraphrase's answer and score
    whether it begins with the target (``generation_efficacy`` / ``generation_generalization``)."""
    tok = loaded.tokenizer
    metrics: dict[str, float] = {}
    targets = [target_ids(tok, r.target) for r in requests]
    efficacy = [
        _accuracy(pred, t)
        for pred, t in zip(
            scored_predictions(
                loaded, [(prompt_ids(tok, r.prompt), t) for r, t in zip(requests, targets, strict=True)]
            ),
            targets,
            strict=True,
        )
    ]
    para_pairs, para_owner = [], []
    for i, (r, t) in enumerate(zip(requests, targets, strict=True)):
        for p in r.paraphrases:
            para_pairs.append((prompt_ids(tok, p), t))
            para_owner.append(i)
    para_scores: dict[int, list[float]] = {}
    for owner, pred, (_, t) in zip(para_owner, scored_predictions(loaded, para_pairs), para_pairs, strict=True):
        para_scores.setdefault(owner, []).append(_accuracy(pred, t))

    loc_agree: dict[tuple, float] = {}
    loc_acc: dict[tuple, float] = {}
    if locality_baseline is not None and locality_baseline.entries:
        keys = list(locality_baseline.entries)
        preds = scored_predictions(loaded, [locality_baseline.entries[k][:2] for k in keys])
        for key, pred in zip(keys, preds, strict=True):
            _, cont, before = locality_baseline.entries[key]
            loc_agree[key] = _accuracy(pred, before)
            if key[1] is not None:
                loc_acc[key] = _accuracy(pred, cont)

    said = _said_targets(loaded, requests, targets) if generation else None

    per_request = []
    for i, r in enumerate(requests):
        item = {"prompt": r.prompt, "target": r.target, TOKEN_EFFICACY: efficacy[i]}
        if i in para_scores:
            item[TOKEN_GENERALIZATION] = sum(para_scores[i]) / len(para_scores[i])
        if said is not None:
            item["answer"], item["says_target"] = said[i][0], said[i][1]
            if said[i][2]:
                item["paraphrase_answers"] = said[i][2]
                item["paraphrases_say_target"] = sum(ok for _, ok in said[i][2]) / len(said[i][2])
        agree = [loc_agree[(p.prompt, p.answer)] for p in r.locality if (p.prompt, p.answer) in loc_agree]
        if agree:
            item[LOCALITY] = sum(agree) / len(agree)
        per_request.append(item)

    if efficacy:
        metrics[TOKEN_EFFICACY] = sum(efficacy) / len(efficacy)
    if para_scores:
        metrics[TOKEN_GENERALIZATION] = sum(sum(v) / len(v) for v in para_scores.values()) / len(para_scores)
    if said is not None and requests:
        metrics[GENERATION_EFFICACY] = sum(s[1] for s in said) / len(said)
        with_para = [s for s in said if s[2]]
        if with_para:
            metrics[GENERATION_GENERALIZATION] = sum(sum(ok for _, ok in s[2]) / len(s[2]) for s in with_para) / len(
                with_para
            )
    if loc_agree:
        metrics[LOCALITY] = sum(loc_agree.values()) / len(loc_agree)
    if loc_acc:
        metrics[LOCALITY_ACCURACY] = sum(loc_acc.values()) / len(loc_acc)
    if retained:
        kept = [target_ids(tok, r.target) for r in retained]
        preds = scored_predictions(
            loaded, [(prompt_ids(tok, r.prompt), t) for r, t in zip(retained, kept, strict=True)]
        )
        metrics[TOKEN_RETENTION] = sum(_accuracy(p, t) for p, t in zip(preds, kept, strict=True)) / len(kept)
    if fluency_text:
        ppl = perplexity(loaded, fluency_text)
        metrics[PERPLEXITY] = ppl
        if perplexity_before:
            metrics[PERPLEXITY_DRIFT] = ppl / perplexity_before - 1
    return EvalReport(metrics=metrics, per_request=per_request)
