"""Did a fact's edit take? The one rule every page, serializer and action asks.

A fact counts as applied only when its edit took: the worker records, per fact and version,
`took` (the model's greedy answer to the prompt now begins with the target). Rows written before
the worker recorded it fall back to the teacher-forced efficacy, which must be (all but) 1.
"""

from dataclasses import dataclass
from typing import Any

from apps.facts.models import FactEdit, FactState
from apps.facts.states import DID_NOT_TAKE, FACT_STATES

# Old rows without "took": efficacy is a fraction of target tokens predicted; 0.999 allows float noise.
TOOK_EFFICACY = 0.999


def edit_took(results: dict[str, Any] | None) -> bool | None:
    """True or False from a fact's per-version results; None when it was never evaluated."""
    if not results:
        return None
    took = results.get("took")
    if isinstance(took, bool):
        return took
    efficacy = results.get("efficacy")
    if isinstance(efficacy, int | float) and not isinstance(efficacy, bool):
        return efficacy >= TOOK_EFFICACY
    return None


@dataclass(frozen=True)
class Outcome:
    state: str  # badge key: the fact's state, or "did_not_take"
    label: str
    took: bool | None

    @property
    def did_not_take(self) -> bool:
        return self.state == "did_not_take"


def outcome(fact: FactEdit, results: dict[str, Any] | None = None) -> Outcome:
    """How to show the fact: an applied fact whose edit did not take says so instead of "Applied".

    `results` are one version's results for the fact (default: the fact's latest)."""
    took = edit_took(fact.results if results is None else results)
    if fact.state == FactState.APPLIED and took is False:
        return Outcome("did_not_take", DID_NOT_TAKE, took)
    return Outcome(fact.state, FACT_STATES.get(fact.state, fact.state), took)
