"""{% load facts %}: what a model line's pages show of its facts, read by the facts app itself.

Model lines sit below facts: their pages include the facts' counts through this tag (as they include the
release timeline through a template) instead of their views importing the facts app.
"""

from django import template
from django.db.models import Count

from apps.facts.states import FACT_STATES

register = template.Library()


class FactCounts:
    """A line's facts by state: {{ counts.submitted }} (0 when none), and `rows` for every state."""

    def __init__(self, by_state: dict[str, int]) -> None:
        self.by_state = by_state

    def __getitem__(self, state: str) -> int:
        if state not in FACT_STATES:
            raise KeyError(state)  # not a state: the template looks for an attribute (`rows`)
        return self.by_state.get(state, 0)

    @property
    def rows(self) -> list[tuple[str, str, int]]:
        """(state, label, count) for every state, in the state machine's order."""
        return [(state, label, self[state]) for state, label in FACT_STATES.items()]


@register.simple_tag
def fact_counts(line: object) -> FactCounts:
    """{% fact_counts line as counts %}: how many of the line's facts are in each state (one query)."""
    return FactCounts(dict(line.facts.values_list("state").annotate(n=Count("id")).order_by()))
