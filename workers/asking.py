"""What the worker asks the model about facts: a fact as the editor's request, which wordings the edit
may use and which judge it, and whether the model (greedy, batched) still says a fact's target.

One rule for "still said" everywhere (the check after every version, the full check of production):
editor.generate.says_target on the greedy answer to the fact's prompt.
"""

import itertools
import random
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from apps.facts.models import FactEdit, FactState
from apps.facts.outcomes import edit_took
from apps.modellines.models import ModelLine
from apps.releases.models import ModelVersion
from apps.releases.queries import applied_fact_ids

# Prompts per greedy decode of a check: enough to fill editor.generate's batches, small enough that progress
# is reported every few seconds.
CHECK_CHUNK = 128


@dataclass(frozen=True)
class Wordings:
    """A fact's paraphrases split by role: `edited` may be edit rows (the editor's paraphrase_rows), `judged`
    never are, so generalisation is measured on wordings the edit did not see."""

    edited: list[str]
    judged: list[str]


def split_paraphrases(paraphrases: list[str], *, as_rows: bool) -> Wordings:
    """With paraphrases as edit rows, all but the last are edited and the last judges the edit; a fact with a
    single paraphrase has it edited and nothing of its own to judge (its report says so). Without, every
    paraphrase judges."""
    if not as_rows:
        return Wordings(edited=[], judged=list(paraphrases))
    if len(paraphrases) == 1:
        return Wordings(edited=list(paraphrases), judged=[])
    return Wordings(edited=list(paraphrases[:-1]), judged=list(paraphrases[-1:]))


def edit_request(fact: FactEdit, paraphrases: list[str] | None = None) -> Any:
    """The fact as an editor.EditRequest, with these paraphrases (default: all of the fact's)."""
    from editor import EditRequest, LocalityProbe

    return EditRequest(
        prompt=fact.prompt,
        target=fact.target,
        paraphrases=list(fact.paraphrases or []) if paraphrases is None else paraphrases,
        locality=[LocalityProbe(prompt=p["prompt"], answer=p.get("answer")) for p in fact.locality_probes or []],
        subject=fact.subject or None,
    )


def locality_probes(line: ModelLine, requests: list[Any]) -> list[Any]:
    """The line's own locality probes, Amend's fixed general-knowledge set (so damage to what the model knows
    shows in every version whatever probes the line was given), then the requests' own, each once."""
    from editor import LocalityProbe
    from editor.general import general_knowledge_probes

    own = [LocalityProbe(prompt=p["prompt"], answer=p.get("answer")) for p in line.locality_probes or []]
    probes = {(p.prompt, p.answer): p for p in [*own, *general_knowledge_probes()]}
    for request in requests:
        for probe in request.locality:
            probes.setdefault((probe.prompt, probe.answer), probe)
    return list(probes.values())


def said(
    loaded: Any, asks: list[tuple[Hashable, str, str]], progress: Callable[[int], None] | None = None
) -> dict[Hashable, tuple[str, bool]]:
    """For each (key, prompt, target): key -> (greedy answer to the prompt, whether it begins with the target).

    Prompts whose targets have the same number of tokens are decoded together, for that many tokens plus
    one (enough to see the target and where its word ends: what the evaluation asks too), in batches of
    CHECK_CHUNK; ``progress(done)`` after each batch. Decoded outright: for facts not yet applied (the
    answers before an edit) the target is rarely the greedy path, so a teacher-forced pass first would be
    wasted."""
    from editor import greedy_answers
    from editor.generate import says_target
    from editor.tokens import target_ids

    length = {key: len(target_ids(loaded.tokenizer, target)) for key, _, target in asks}
    result: dict[Hashable, tuple[str, bool]] = {}
    for tokens, same in itertools.groupby(sorted(asks, key=lambda a: length[a[0]]), key=lambda a: length[a[0]]):
        group = list(same)
        for start in range(0, len(group), CHECK_CHUNK):
            chunk = group[start : start + CHECK_CHUNK]
            answers = greedy_answers(loaded, [prompt for _, prompt, _ in chunk], max_new_tokens=tokens + 1)
            for (key, _, target), answer in zip(chunk, answers, strict=True):
                result[key] = (answer, says_target(answer, target))
            if progress is not None:
                progress(len(result))
    return result


def still_said(
    loaded: Any, facts: list[FactEdit], progress: Callable[[int], None] | None = None
) -> dict[int, tuple[str, bool]]:
    """fact id -> (what the model answers to its prompt, whether that still begins with its target), in chunks
    of CHECK_CHUNK with ``progress(done)`` after each. editor.evaluation.answers_now: applied facts are mostly
    still said, and one teacher-forced pass answers for those; only the others are decoded, once."""
    from editor.evaluation import answers_now

    result: dict[int, tuple[str, bool]] = {}
    for start in range(0, len(facts), CHECK_CHUNK):
        chunk = facts[start : start + CHECK_CHUNK]
        answers = answers_now(loaded, [(fact.prompt, fact.target) for fact in chunk])
        for fact in chunk:
            result[fact.pk] = answers[(fact.prompt, fact.target)]
        if progress is not None:
            progress(len(result))
    return result


def facts_that_took(version: ModelVersion, states: Iterable[str], exclude: Iterable[int] = ()) -> list[FactEdit]:
    """The facts of `version`'s lineage in these states whose edit took, in application order (each once)."""
    order = list(dict.fromkeys(applied_fact_ids(version)))
    left_out = set(exclude)
    facts = FactEdit.objects.in_bulk([pk for pk in order if pk not in left_out])
    wanted = set(states)
    return [facts[pk] for pk in order if pk in facts and facts[pk].state in wanted and edit_took(facts[pk].results)]


def recheck_sample(line: ModelLine, start: ModelVersion, exclude: Iterable[int], seed: int) -> list[FactEdit]:
    """The earlier applied facts a new version is asked again: every one that took, or a sample of the line's
    `recheck_sample_size` seeded by the batch (the same batch always asks the same facts)."""
    size = line.recheck_sample_size
    if size == 0:
        return []
    earlier = facts_that_took(start, [FactState.APPLIED], exclude)
    if len(earlier) <= size:
        return earlier
    return sorted(random.Random(seed).sample(earlier, size), key=lambda fact: fact.pk)
