"""The data behind a fact's timeline: its audit events in order, each review beside its event."""

from dataclasses import dataclass, field
from datetime import datetime

from apps.audit.models import AuditEvent
from apps.audit.wording import action_label
from apps.facts.models import FactEdit, FactState, Review
from apps.facts.states import FACT_STATES


@dataclass
class TimelineEntry:
    at: datetime
    actor: str
    action: str
    label: str
    from_state: str | None = None
    to_state: str | None = None
    reason: str = ""
    review: Review | None = None
    changed: list[str] = field(default_factory=list)
    request_id: str = ""

    @property
    def from_label(self) -> str:
        return FACT_STATES.get(self.from_state or "", self.from_state or "")

    @property
    def to_label(self) -> str:
        return FACT_STATES.get(self.to_state or "", self.to_state or "")


def fact_timeline(fact: FactEdit) -> list[TimelineEntry]:
    """The fact's audit events in order, each review event carrying its review (decision, comment, revision)."""
    reviews = {str(review.pk): review for review in fact.reviews.select_related("reviewer")}
    entries = []
    for event in AuditEvent.objects.filter(fact_id=fact.pk).order_by("id"):
        before, after = event.before or {}, event.after or {}
        review = reviews.pop(event.object_id, None) if event.object_type == "review" else None
        moved = before.get("state") != after.get("state") and bool(after.get("state"))
        changed = []
        if event.action == "fact.updated":
            changed = sorted(name for name in after if name != "revision" and before.get(name) != after.get(name))
        reason = after.get("state_reason") or "" if moved else ""
        if reason and entries and entries[-1].review is not None and entries[-1].review.comment == reason:
            reason = ""  # the review just above already says it
        entries.append(
            TimelineEntry(
                at=event.created_at,
                actor=event.actor_name,
                action=event.action,
                label=action_label(event.action),
                from_state=before.get("state") if moved else None,
                to_state=after.get("state") if moved else None,
                reason=reason,
                review=review,
                changed=changed,
                request_id=event.request_id,
            )
        )
    # A review without its event would be a bug elsewhere; still show it rather than hide it.
    for review in reviews.values():
        entries.append(
            TimelineEntry(
                at=review.created_at,
                actor=review.reviewer.get_username(),
                action=f"review.{review.decision}",
                label=action_label(f"review.{review.decision}"),
                review=review,
            )
        )
    entries.sort(key=lambda entry: entry.at)
    return _promotions_in_one_step(entries)


def _promotions_in_one_step(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    """A held fact that an operator's promotion brings into production passes through queued (the state
    machine asks it) in the same moment: one line, Held → Applied, not "Queued for a batch" it never joins."""
    merged: list[TimelineEntry] = []
    for entry in entries:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and (previous.from_state, previous.to_state) == (FactState.HELD, FactState.QUEUED)
            and (entry.from_state, entry.to_state) == (FactState.QUEUED, FactState.APPLIED)
        ):
            entry.from_state, entry.label = FactState.HELD, "Promoted with its held version"
            merged[-1] = entry
            continue
        merged.append(entry)
    return merged
