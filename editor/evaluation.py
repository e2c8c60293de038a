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
    GENERATION_RETENTION,
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
    # What the model answers now to the locality probes, as a baseline: a later edit of these same weights
    # starts from it instead of asking again (``locality_baseline(..., known=)``).
    locality_now: LocalityBaseline = field(default_factory=LocalityBaseline)


def _scored_logits(
    loaded: LoadedModel, input_ids: torch.Tensor, attention_mask: torch.Tensor, scored: torch.Tensor
) -> torch.Tensor:
    """Logits (N, V) at the scored positions, through the model's trunk cache where its owner keeps one."""
    if loaded.trunk_cache is not None:
        return loaded.trunk_cache.scored_logits(input_ids, attention_mask, scored)
    return scored_logits(loaded.model, input_ids, attention_mask, scored)


@torch.no_grad()
def scored_predictions(loaded: LoadedModel, pairs: list[tuple[list[int], list[int]]]) -> list[list[int]]:
    """For each (prompt ids, continuation ids): the argmax token at every continuation position."""
    out: list[list[int]] = []
    ctx, pad = loaded.context_length, pad_id(loaded.tokenizer)
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))  # less padding
    results: dict[int, list[int]] = {}
    for start in range(0, len(order), EVAL_BATCH):
        idx = order[start : start + EVAL_BATCH]
        batch = build_batch([pairs[i] for i in idx], ctx, pad).to(loaded.device)
        logits = _scored_logits(loaded, batch.input_ids, batch.attention_mask, batch.scored)  # (N, V)
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


def locality_baseline(
    loaded: LoadedModel, probes: list[LocalityProbe], known: LocalityBaseline | None = None
) -> LocalityBaseline:
    """Record the pre-edit model's predictions on the probes (call before editing). ``known``: what these
    same weights were found to answer (``EvalReport.locality_now``); its probes are not asked again."""
    tok = loaded.tokenizer
    base = LocalityBaseline()
    todo = []
    for probe in probes:
        key = (probe.prompt, probe.answer)
        if key in base.entries:
            continue
        if known is not None and key in known.entries:
            base.entries[key] = known.entries[key]
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
        t = torch.tensor([chunk], device=loaded.device)  # (1, L)
        scored = torch.ones_like(t, dtype=torch.bool)
        scored[0, -1] = False  # the last token predicts nothing scored
        logits = _scored_logits(loaded, t, torch.ones_like(t), scored).float()  # (L - 1, V)
        nll = torch.nn.functional.cross_entropy(logits, t[0, 1:], reduction="sum")
        total += float(nll)
        count += len(chunk) - 1
    return math.exp(total / max(count, 1))


def _answers(
    loaded: LoadedModel, keys: list[tuple[str, str]], target_of: dict[str, list[int]], generation: bool
) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], str]]:
    """Per distinct (prompt, target): the teacher-forced token accuracy and (``generation``) the greedy
    answer, continued for the target's length plus one token (enough to see the target and where its word
    ends).

    One teacher-forced pass scores the target and the token after it; where every target token is the
    argmax, that pass already is the greedy decoder's path (greedy picks the argmax, and the target is
    what it was fed), so the answer is the target plus that next token. Only the other prompts are
    decoded, in batches of equal length with the KV cache."""
    tok = loaded.tokenizer
    eos, filler = getattr(tok, "eos_token_id", None), pad_id(tok)
    # The filler is fed after the target only so that the position before it predicts the next token.
    preds = scored_predictions(loaded, [(prompt_ids(tok, p), target_of[t] + [filler]) for p, t in keys])
    token, answers, rest = {}, {}, []
    for key, pred in zip(keys, preds, strict=True):
        target = target_of[key[1]]
        token[key] = _accuracy(pred[:-1], target)
        if pred[:-1] == target:
            row = [*target, pred[-1]]
            answers[key] = tok.decode(row[: row.index(eos)] if eos in row else row, skip_special_tokens=True)
        else:
            rest.append(key)
    if generation:
        for length in sorted({len(target_of[t]) + 1 for _, t in rest}):
            same = [(p, t) for p, t in rest if len(target_of[t]) + 1 == length]
            for key, row in zip(same, greedy_ids(loaded, [prompt_ids(tok, p) for p, _ in same], length), strict=True):
                answers[key] = tok.decode(row, skip_special_tokens=True)
    return token, {key: answer.strip() for key, answer in answers.items()} if generation else {}


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

    generation: also ask the model (greedy) for each prompt's and paraphrase's answer and score whether
    it begins with the target (``generation_efficacy`` / ``generation_generalization``, and
    ``generation_retention`` for ``retained``). Every distinct prompt is scored and asked once: earlier
    edits that are also among ``requests`` (the benchmark's) are not evaluated twice."""
    tok = loaded.tokenizer
    metrics: dict[str, float] = {}
    target_of: dict[str, list[int]] = {}
    for r in [*requests, *retained]:
        target_of.setdefault(r.target, target_ids(tok, r.target))
    # Every (prompt, target) to score: the requests' prompts and paraphrases, the earlier edits' prompts.
    wanted = {(p, r.target) for r in requests for p in (r.prompt, *r.paraphrases)}
    wanted |= {(r.prompt, r.target) for r in retained}
    token, answers = _answers(loaded, sorted(wanted), target_of, generation)
    said = {key: (answer, says_target(answer, key[1])) for key, answer in answers.items()}

    loc_agree: dict[tuple, float] = {}
    loc_acc: dict[tuple, float] = {}
    now = LocalityBaseline()
    if locality_baseline is not None and locality_baseline.entries:
        keys = list(locality_baseline.entries)
        preds = scored_predictions(loaded, [locality_baseline.entries[k][:2] for k in keys])
        for key, pred in zip(keys, preds, strict=True):
            ids, cont, before = locality_baseline.entries[key]
            loc_agree[key] = _accuracy(pred, before)
            if key[1] is not None:
                loc_acc[key] = _accuracy(pred, cont)
            # An unanswered probe is scored along the model's own greedy continuation: the one scored now is
            # still the model's own only where it predicts every token of it.
            if key[1] is not None or pred == cont:
                now.entries[key] = (ids, cont, pred)

    per_request = []
    for r in requests:
        item = {"prompt": r.prompt, "target": r.target, TOKEN_EFFICACY: token[(r.prompt, r.target)]}
        if r.paraphrases:
            item[TOKEN_GENERALIZATION] = sum(token[(p, r.target)] for p in r.paraphrases) / len(r.paraphrases)
        if said:
            item["answer"], item["says_target"] = said[(r.prompt, r.target)]
            if r.paraphrases:
                item["paraphrase_answers"] = [said[(p, r.target)] for p in r.paraphrases]
                item["paraphrases_say_target"] = sum(said[(p, r.target)][1] for p in r.paraphrases) / len(r.paraphrases)
        agree = [loc_agree[(p.prompt, p.answer)] for p in r.locality if (p.prompt, p.answer) in loc_agree]
        if agree:
            item[LOCALITY] = sum(agree) / len(agree)
        per_request.append(item)

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    if per_request:
        metrics[TOKEN_EFFICACY] = mean([item[TOKEN_EFFICACY] for item in per_request])
    with_para = [item for item in per_request if TOKEN_GENERALIZATION in item]
    if with_para:
        metrics[TOKEN_GENERALIZATION] = mean([item[TOKEN_GENERALIZATION] for item in with_para])
    if said and per_request:
        metrics[GENERATION_EFFICACY] = mean([float(item["says_target"]) for item in per_request])
        if with_para:
            metrics[GENERATION_GENERALIZATION] = mean([item["paraphrases_say_target"] for item in with_para])
    if loc_agree:
        metrics[LOCALITY] = mean(list(loc_agree.values()))
    if loc_acc:
        metrics[LOCALITY_ACCURACY] = mean(list(loc_acc.values()))
    if retained:
        metrics[TOKEN_RETENTION] = mean([token[(r.prompt, r.target)] for r in retained])
        if said:
            metrics[GENERATION_RETENTION] = mean([float(said[(r.prompt, r.target)][1]) for r in retained])
    if fluency_text:
        ppl = perplexity(loaded, fluency_text)
        metrics[PERPLEXITY] = ppl
        if perplexity_before:
            metrics[PERPLEXITY_DRIFT] = ppl / perplexity_before - 1
    return EvalReport(metrics=metrics, per_request=per_request, locality_now=now)


def answers_now(loaded: LoadedModel, asks: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, bool]]:
    """Per distinct (prompt, target): the model's greedy answer (the target's length plus one token) and
    whether it begins with the target. Each pair is asked once; where the target is the greedy path, the
    teacher-forced pass is the answer and nothing is decoded."""
    target_of = {target: target_ids(loaded.tokenizer, target) for _, target in asks}
    _, answers = _answers(loaded, sorted(set(asks)), target_of, True)
    return {key: (answer, says_target(answer, key[1])) for key, answer in answers.items()}


def says_now(loaded: LoadedModel, requests: list[EditRequest]) -> list[bool]:
    """Whether the model's greedy answer to each request's prompt begins with its target: what a lineage's
    probe and the benchmark's retention curve ask."""
    said = answers_now(loaded, [(r.prompt, r.target) for r in requests])
    return [said[(r.prompt, r.target)][1] for r in requests]
