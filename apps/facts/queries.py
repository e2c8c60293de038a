"""Reads of facts: the review queue, read in one order everywhere (submitted facts, oldest first)."""

from django.db.models import QuerySet

from apps.facts.models import FactEdit, FactState


def submitted_queue(model_line_id: int | None = None) -> QuerySet[FactEdit]:
    # Rows of change sets are reviewed with their set, not one by one.
    facts = FactEdit.objects.filter(state=FactState.SUBMITTED, change_set__isnull=True).select_related(
        "model_line", "submitter", "supersedes"
    )
    if model_line_id is not None:
        facts = facts.filter(model_line_id=model_line_id)
    return facts.order_by("submitted_at", "id")


def next_to_review(user: object, after: FactEdit) -> FactEdit | None:
    """The fact a reviewer should read next: the oldest submitted one that is not theirs, preferring
    the same model line as the fact they just decided."""
    others = submitted_queue().exclude(pk=after.pk).exclude(submitter_id=getattr(user, "pk", None))
    return others.filter(model_line_id=after.model_line_id).first() or others.first()
