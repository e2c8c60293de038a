"""Reads of change sets for the pages and the API: the summary, the seeded sample, approvals.

Everything here is a query over the set's rows (facts with `change_set` = the set), built to stay a
handful of queries for a 20,000-row set: conflicts are found by joining on the prompt key in SQL,
not by asking about each row.
"""

import hashlib
import random
from dataclasses import dataclass, field

from django.db.models import Count, QuerySet
from django.dispatch import Signal

from apps.facts.models import ChangeSet, ChangeSetReview, FactEdit, FactState, ReviewDecision
from apps.facts.states import LIVE_STATES

# Rows still proposed by the set: neither excluded nor decided.
IN_PLAY = (FactState.SUBMITTED, FactState.CHANGES_REQUESTED)
# How many conflicts a summary lists side by side (the counts are always complete).
SHOWN_CONFLICTS = 50


def rows_in_play(change_set: ChangeSet) -> QuerySet[FactEdit]:
    return change_set.rows.filter(state__in=IN_PLAY)


def sample_seed(change_set: ChangeSet) -> int:
    """The seed of the revision's sample: fixed per revision, so every reviewer sees the same rows,
    and drawn again when the set changes."""
    digest = hashlib.sha256(f"{change_set.sample_seed}:{change_set.revision}".encode()).hexdigest()
    return int(digest[:15], 16)


def sample_ids(change_set: ChangeSet) -> list[int]:
    """K rows in play (K = the line's review_sample_size) drawn with the revision's seed, in file order.

    A resubmitted set is sampled among the rows its earlier reviews were not shown, while enough remain:
    a new revision shows reviewers new rows by construction, not by the luck of a new seed."""
    ids = list(rows_in_play(change_set).order_by("pk").values_list("pk", flat=True))
    size = min(change_set.model_line.review_sample_size, len(ids))
    shown_before = {
        pk
        for shown in change_set.reviews.filter(revision__lt=change_set.revision).values_list("sample", flat=True)
        for pk in shown
    }
    unseen = [pk for pk in ids if pk not in shown_before]
    return sorted(random.Random(sample_seed(change_set)).sample(unseen if len(unseen) >= size else ids, size))


@dataclass(frozen=True)
class SampleRow:
    fact: FactEdit
    # The production version's answer to the row's prompt when one was asked already (a probe); the
    # web process never runs the model, so None means "none yet".
    production_answer: str | None
    # Production is being asked it now (the import's finish asked the sample): the page polls meanwhile.
    asking: bool = False


# Production's answers are probes of the release app, which sits above this one: it answers this signal
# (apps.releases.apps connects apps.releases.answers.production_answers), so facts never import releases.
# Sent with model_line_id and prompts; each receiver returns {prompt: answer}, None for a prompt still asked.
production_answers_wanted = Signal()


def production_answers(model_line_id: int, prompts: list[str]) -> dict[str, str | None]:
    """Answers of the line's production version to these prompts, from probes already answered."""
    answers: dict[str, str | None] = {}
    for _receiver, found in production_answers_wanted.send(ChangeSet, model_line_id=model_line_id, prompts=prompts):
        answers.update(found)
    return answers


def sample(change_set: ChangeSet, ids: list[int] | None = None) -> list[SampleRow]:
    ids = sample_ids(change_set) if ids is None else ids
    facts = list(FactEdit.objects.filter(pk__in=ids).order_by("source_line", "pk"))
    answers = production_answers(change_set.model_line_id, [fact.prompt for fact in facts])
    return [
        SampleRow(fact, answers.get(fact.prompt), fact.prompt in answers and answers[fact.prompt] is None)
        for fact in facts
    ]


@dataclass(frozen=True)
class Conflicts:
    # (row of the set, live fact outside it) pairs, at most SHOWN_CONFLICTS of them, and how many in all.
    with_live: list[tuple[FactEdit, FactEdit]]
    with_live_total: int
    # Groups of rows of the set with one prompt and different targets, at most SHOWN_CONFLICTS.
    within: list[list[FactEdit]]
    within_total: int
    # Groups of rows naming one subject (the import's `subject`, as ZsRE carries it) with different
    # targets: worded differently, they may ask one question two ways (an architect, "who designed it?")
    # and contradict each other, or ask two things. Shown for a person to judge; they do not block.
    same_subject: list[list[FactEdit]] = field(default_factory=list)
    same_subject_total: int = 0

    @property
    def blocking(self) -> int:
        return self.with_live_total + self.within_total


def _live_conflicts(change_set: ChangeSet) -> tuple[list[tuple[FactEdit, FactEdit]], int]:
    rows = rows_in_play(change_set)
    others = (
        FactEdit.objects.filter(
            model_line_id=change_set.model_line_id,
            state__in=LIVE_STATES,
            normalized_prompt__in=rows.values("normalized_prompt"),
        )
        .exclude(change_set=change_set)
        .order_by("pk")
    )
    by_prompt: dict[str, list[FactEdit]] = {}
    for other in others:
        by_prompt.setdefault(other.normalized_prompt, []).append(other)
    pairs = []
    for row in rows.filter(normalized_prompt__in=list(by_prompt)).order_by("source_line", "pk"):
        for other in by_prompt[row.normalized_prompt]:
            if other.normalized_target != row.normalized_target and other.pk != row.supersedes_id:
                pairs.append((row, other))
    return pairs[:SHOWN_CONFLICTS], len(pairs)


def _internal_conflicts(change_set: ChangeSet) -> tuple[list[list[FactEdit]], int]:
    rows = rows_in_play(change_set)
    prompts = list(
        rows.values("normalized_prompt")
        .annotate(targets=Count("normalized_target", distinct=True))
        .filter(targets__gt=1)
        .order_by("normalized_prompt")
        .values_list("normalized_prompt", flat=True)
    )
    groups: dict[str, list[FactEdit]] = {}
    for row in rows.filter(normalized_prompt__in=prompts[:SHOWN_CONFLICTS]).order_by("source_line", "pk"):
        groups.setdefault(row.normalized_prompt, []).append(row)
    return list(groups.values()), len(prompts)


def _same_subject(change_set: ChangeSet) -> tuple[list[list[FactEdit]], int]:
    rows = rows_in_play(change_set).exclude(subject="")
    subjects = list(
        rows.values("subject")
        .annotate(targets=Count("normalized_target", distinct=True), prompts=Count("normalized_prompt", distinct=True))
        .filter(targets__gt=1, prompts__gt=1)
        .order_by("subject")
        .values_list("subject", flat=True)
    )
    groups: dict[str, list[FactEdit]] = {}
    for row in rows.filter(subject__in=subjects[:SHOWN_CONFLICTS]).order_by("source_line", "pk"):
        groups.setdefault(row.subject, []).append(row)
    return list(groups.values()), len(subjects)


def conflicts(change_set: ChangeSet) -> Conflicts:
    """What blocks approval: rows that answer a live fact's prompt differently, and rows of the set that
    answer one another's prompt differently. Excluding one side (or superseding) resolves it."""
    with_live, with_live_total = _live_conflicts(change_set)
    within, within_total = _internal_conflicts(change_set)
    return Conflicts(with_live, with_live_total, within, within_total, *_same_subject(change_set))


def row_counts(change_set: ChangeSet) -> dict[str, int]:
    """Rows of the set by fact state ("withdrawn" = excluded, or withdrawn by the import's failure)."""
    return dict(change_set.rows.values_list("state").annotate(n=Count("id")).order_by())


def refused_counts(change_set: ChangeSet) -> dict[str, int]:
    counts = {"invalid": 0, "duplicate": 0}
    for row in change_set.refused:
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    return counts


def current_approvals(change_set: ChangeSet) -> list[ChangeSetReview]:
    """Approvals of the set's current revision (an edit of the set makes earlier ones stale)."""
    return list(
        change_set.reviews.filter(revision=change_set.revision, decision=ReviewDecision.APPROVE).select_related(
            "reviewer"
        )
    )


def has_enough_approvals(change_set: ChangeSet) -> bool:
    reviewers = {review.reviewer_id for review in current_approvals(change_set)}
    return len(reviewers) >= change_set.model_line.approvals_required


def import_report(change_set: ChangeSet) -> dict:
    """The import's progress and per-row validation report (the command prints it, the API returns it)."""
    refused = refused_counts(change_set)
    summary = (
        f"{change_set.rows_created} rows to review, {refused['invalid']} refused as invalid, "
        f"{refused['duplicate']} refused as duplicates ({change_set.state})"
    )
    if change_set.state_reason and change_set.state == "failed":
        summary += f": {change_set.state_reason}"
    return {
        "change_set": change_set.pk,
        "state": change_set.state,
        "state_reason": change_set.state_reason,
        "rows_total": change_set.rows_total,
        "rows_read": change_set.rows_read,
        "rows_created": change_set.rows_created,
        "rows_refused": len(change_set.refused),
        "refused_by_kind": refused,
        "summary": summary,
        "refused_rows": change_set.refused,
    }
