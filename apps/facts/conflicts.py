"""Conflicts and duplicates: two facts on one line that answer the same prompt.

Prompts and targets are compared by their keys (apps.core.keys: NFKC, case folded, whitespace collapsed,
the Unicode TR39 confusables skeleton; a prompt also loses trailing punctuation), so "Who wrote Hamlet?",
"who  wrote hamlet" and "Who wrote H\u0430mlet" (a Cyrillic a) are the same question. Same prompt key and same
target key is a duplicate, which the database refuses too (FactEdit's `fact_once_per_line` constraint);
another target is a conflict, for reviewers to resolve.
"""

from django.db.models import Exists, OuterRef, QuerySet, Value
from django.db.models.functions import Coalesce

from apps.core.keys import prompt_key as normalize_prompt
from apps.core.keys import target_key as normalize_target
from apps.facts.models import FactEdit
from apps.facts.states import DUPLICATE_STATES, LIVE_STATES
from apps.modellines.models import ModelLine

__all__ = ["normalize_prompt", "normalize_target"]


def _same_prompt(model_line: ModelLine | int, prompt: str, exclude: FactEdit | int | None) -> QuerySet[FactEdit]:
    line_id = model_line if isinstance(model_line, int) else model_line.pk
    facts = FactEdit.objects.filter(model_line_id=line_id, normalized_prompt=normalize_prompt(prompt))
    if exclude is not None:
        facts = facts.exclude(pk=exclude if isinstance(exclude, int) else exclude.pk)
    return facts


def find_conflicts(
    model_line: ModelLine | int, prompt: str, target: str, exclude: FactEdit | int | None = None
) -> list[FactEdit]:
    """Live facts (submitted, approved, queued, applied) on the line with the same prompt and another target."""
    return list(
        _same_prompt(model_line, prompt, exclude)
        .filter(state__in=LIVE_STATES)
        .exclude(normalized_target=normalize_target(target))
        .order_by("id")
    )


def find_duplicate(
    model_line: ModelLine | int, prompt: str, target: str, exclude: FactEdit | int | None = None
) -> FactEdit | None:
    """A fact still in play on the line with the same prompt and the same target, if any."""
    return (
        _same_prompt(model_line, prompt, exclude)
        .filter(state__in=DUPLICATE_STATES, normalized_target=normalize_target(target))
        .order_by("id")
        .first()
    )


def duplicate_and_conflicts(
    model_line: ModelLine | int, prompt: str, target: str, exclude: FactEdit | int | None = None
) -> tuple[FactEdit | None, list[FactEdit]]:
    """find_duplicate and find_conflicts in one query (the submission hot path)."""
    wanted = normalize_target(target)
    facts = _same_prompt(model_line, prompt, exclude).filter(state__in=DUPLICATE_STATES | LIVE_STATES).order_by("id")
    duplicate, conflicts = None, []
    for fact in facts:
        if fact.normalized_target == wanted:
            if duplicate is None and fact.state in DUPLICATE_STATES:
                duplicate = fact
        elif fact.state in LIVE_STATES:
            conflicts.append(fact)
    return duplicate, conflicts


def blocking_conflicts(fact: FactEdit) -> list[FactEdit]:
    """The conflicts that stop `fact` from being approved: all of them except the fact it supersedes."""
    conflicts = find_conflicts(fact.model_line_id, fact.prompt, fact.target, exclude=fact)
    return [other for other in conflicts if other.pk != fact.supersedes_id]


def with_conflict_flag(facts: QuerySet[FactEdit]) -> QuerySet[FactEdit]:
    """Annotate each fact with `has_conflict` (what the review queue flags), in one query."""
    others = (
        FactEdit.objects.filter(
            model_line_id=OuterRef("model_line_id"),
            normalized_prompt=OuterRef("normalized_prompt"),
            state__in=LIVE_STATES,
        )
        .exclude(pk=OuterRef("pk"))
        .exclude(normalized_target=OuterRef("normalized_target"))
        # Coalesce: a NULL supersedes_id would make the comparison NULL and drop every row.
        .exclude(pk=Coalesce(OuterRef("supersedes_id"), Value(0)))
    )
    return facts.annotate(has_conflict=Exists(others))
