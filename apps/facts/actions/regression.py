"""The lineage's self-check: a fact the model does not say is regressed (re-applied by the next batch). An
applied fact a later version no longer says is held once it kept regressing past its line's limit; a fact its
own version did not say (its edit did not take) is retried within the same limit, then stays applied, marked
as not taken."""

from collections.abc import Mapping

from django.db import transaction
from django.utils import timezone

from apps.facts.actions.state import move_fact
from apps.facts.models import FactEdit, FactState
from apps.facts.outcomes import edit_took
from apps.facts.states import KEEPS_REGRESSING
from apps.modellines.models import ModelLine


@transaction.atomic
def mark_regressed(model_line: ModelLine, answers: Mapping[int, str], *, version: int, where: str) -> list[FactEdit]:
    """Facts of the line no longer said by version `version` (`answers`: fact id -> what it answers now).

    Only applied facts move (a fact reverted, withdrawn or already regressed meanwhile is left alone). Each
    is regressed, so the line's next batch re-applies it, until it has regressed more often than the line's
    `max_reapplications`: then it is held as "keeps regressing" with the next step for its curator.
    `where` says what found it ("v7's check of earlier facts", "the full check #3").
    Returns the facts moved, one audit event each.
    """
    facts = FactEdit.objects.select_for_update().filter(
        model_line=model_line, pk__in=list(answers), state=FactState.APPLIED
    )
    now = timezone.now()
    moved = []
    for fact in facts.order_by("pk"):
        count = fact.regressions + 1
        said = answers[fact.pk] or "nothing"
        extra = {"regressed_in": version, "regressed_at": now, "regressions": count}
        if count > model_line.max_reapplications:
            reason = (
                f"{KEEPS_REGRESSING}: v{version} no longer says it (answers {said!r}), regression {count} after "
                f"{count - 1} re-application(s). Next step: edit it (a subject, other wordings) and resubmit, "
                "or withdraw it"
            )
            move_fact(None, fact, FactState.HELD, action="fact.held", reason=reason, **extra)
        else:
            reason = f"v{version} no longer says it (answers {said!r}; found by {where}); re-applied in the next batch"
            move_fact(None, fact, FactState.REGRESSED, action="fact.regressed", reason=reason, **extra)
        moved.append(fact)
    return moved


@transaction.atomic
def retry_untaken(model_line: ModelLine, results: Mapping[int, dict], *, version: int) -> list[FactEdit]:
    """Facts of version `version`'s own batch (`results`: fact id -> its figures in that version) whose edit did
    not take ride the line's next batch again, as a regressed fact does, while they were re-applied fewer times
    than the line's `max_reapplications`. Past it a fact stays where it is: the version holds its edit and the
    fact's page says it did not take. Returns the facts moved, one audit event each.
    """
    untaken = [fact_id for fact_id, figures in results.items() if edit_took(figures) is False]
    facts = FactEdit.objects.select_for_update().filter(model_line=model_line, pk__in=untaken, state=FactState.QUEUED)
    now = timezone.now()
    moved = []
    for fact in facts.order_by("pk"):
        count = fact.regressions + 1
        if count > model_line.max_reapplications:
            continue
        said = results[fact.pk].get("answer_after") or "nothing"
        reason = (
            f"v{version} did not say it when it applied it (answers {said!r}); re-applied in the next batch "
            f"({count} of {model_line.max_reapplications})"
        )
        extra = {"regressed_in": version, "regressed_at": now, "regressions": count, "results": results[fact.pk]}
        move_fact(None, fact, FactState.REGRESSED, action="fact.retried", reason=reason, **extra)
        moved.append(fact)
    return moved
