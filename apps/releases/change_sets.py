"""What became of an approved change set: the batches and versions its rows went into, how many took, and
what to do next. The release app answers it (the facts app below knows no batch)."""

from dataclasses import dataclass, field

from django.db.models import Count, Q

from apps.facts.models import ChangeSet, FactState
from apps.releases.models import Batch

# Rows out of the model for good or for now, by a person's decision or a rollback.
_OUT = (FactState.ROLLED_BACK, FactState.REVERTED, FactState.WITHDRAWN, FactState.REJECTED)


@dataclass
class ChangeSetOutcome:
    took: int
    did_not_take: int
    held: int
    waiting: int  # approved (for the next batch) or queued (in one)
    out: int
    batches: list[Batch] = field(default_factory=list)

    @property
    def next_step(self) -> str:
        if self.held:
            return (
                f"{self.held} row{'s are' if self.held != 1 else ' is'} held: open the version below to read the gate "
                "it missed. An operator may promote it over the gate with a reason, or curators retry, edit or "
                "withdraw each held fact from its page."
            )
        if self.waiting:
            return (
                f"{self.waiting} row{'s wait' if self.waiting != 1 else ' waits'} for a batch or are in one: the line "
                "cuts one at its batch size or maximum wait, or an operator releases now."
            )
        if self.did_not_take:
            return (
                f"{self.did_not_take} applied row{'s' if self.did_not_take != 1 else ''} did not take: each fact's "
                "page offers to retry it, edit and resubmit it, or withdraw it."
            )
        return "Nothing: every row that stayed in the set is in production and said."


def change_set_outcome(change_set: ChangeSet) -> ChangeSetOutcome:
    """Three queries: rows by state (and took), the line's batches since the set was imported."""
    counts = change_set.rows.aggregate(
        applied=Count("pk", filter=Q(state__in=[FactState.APPLIED, FactState.REGRESSED])),
        did_not_take=Count("pk", filter=Q(state=FactState.APPLIED, results__took=False)),
        held=Count("pk", filter=Q(state=FactState.HELD)),
        waiting=Count("pk", filter=Q(state__in=[FactState.APPROVED, FactState.QUEUED])),
        out=Count("pk", filter=Q(state__in=_OUT)),
    )
    ids = set(change_set.rows.values_list("pk", flat=True))
    since = change_set.imported_at or change_set.created_at
    later = Batch.objects.filter(model_line_id=change_set.model_line_id, created_at__gte=since)
    batches = [batch for batch in later.select_related("version").order_by("id") if ids.intersection(batch.fact_ids)]
    took = counts.pop("applied") - counts["did_not_take"]
    return ChangeSetOutcome(took=took, **counts, batches=batches)
