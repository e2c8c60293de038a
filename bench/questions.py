"""ZsRE's records come in runs: several wordings of one question (the same subject and true answer), each
with a different counterfactual target ("Who was the designer of Lahti Town Hall?" -> "Alfred Lahti",
"Which person is the architect of Lahti Town Hall?" -> "Willem Marinus Dudok", ...). After every record
is edited, a model that answers a question one way, whatever its wording, can say at most one of its
targets, to the edit prompt and to the unseen paraphrase alike. The benchmark reports its figures apart
for the records whose question carries one target in the run and for those whose question carries
several, and the bound: the share of records a one-answer-per-question model could say at best.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from editor import EditRequest
from editor.data import parse_zsre_record
from editor.generate import normalize_answer
from editor.metrics import GENERATION_EFFICACY, GENERATION_GENERALIZATION, TOKEN_EFFICACY, TOKEN_GENERALIZATION

Question = tuple[str | None, str | None]  # (subject, true answer)


def question_of(path: str | Path, limit: int) -> dict[tuple[str, str], Question]:
    """(prompt, target) -> its question, for the first ``limit`` records of the ZsRE file (read as
    ``read_zsre`` reads them; the true answer is the record's first ``answers``, None if it has none)."""
    out: dict[tuple[str, str], Question] = {}
    read = 0
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if read >= limit:
                break
            if not line.strip():
                continue
            read += 1
            record = json.loads(line)
            request = parse_zsre_record(record, f"{path}:{number}")
            answers = record.get("answers") or [None]
            truth = answers[0] if isinstance(answers, list) else answers
            out[(request.prompt, request.target)] = (request.subject, truth)
    return out


def by_question(requests: list[EditRequest], per_request: list[dict], questions: dict) -> dict:
    """The greedy and token ES / GS of the records whose question carries one target among ``requests``
    (``single_target``) and of those whose question carries several (``several_targets``), and
    ``one_answer_bound``: the most a model answering each question one way could say."""
    groups: dict[Question, list[int]] = defaultdict(list)
    for i, r in enumerate(requests):
        key = questions.get((r.prompt, r.target))
        groups[key if key and key[1] is not None else ("record", r.prompt)].append(i)  # no true answer: alone
    single, several, best = [], [], 0
    for members in groups.values():
        counts = Counter(normalize_answer(requests[i].target) for i in members)
        best += max(counts.values())
        (single if len(counts) == 1 else several).extend(members)
    out: dict = {"questions": len(groups), "one_answer_bound": best / len(requests) if requests else None}
    for name, members in (("single_target", single), ("several_targets", several)):
        items = [per_request[i] for i in members]
        part: dict = {"records": len(items)}
        for metric, field in (
            (GENERATION_EFFICACY, "says_target"),
            (GENERATION_GENERALIZATION, "paraphrases_say_target"),
            (TOKEN_EFFICACY, TOKEN_EFFICACY),
            (TOKEN_GENERALIZATION, TOKEN_GENERALIZATION),
        ):
            values = [float(item[field]) for item in items if field in item]
            part[metric] = sum(values) / len(values) if values else None
        out[name] = part
    return out
