"""One set of words and one formatting for everything the pages show of the release flow.

Metrics are stored as fractions (0.5) and drift as a ratio minus one (0.1); every page shows them
through `format_metric`, so 50.0% and +10.0% read the same on the versions table, the version page,
the gate table, the batch page and the fact page. Version states and batch triggers are named here
once; fact and change-set states with the facts (apps.facts.states), audit actions with the audit
trail (apps.audit.wording).
"""

from dataclasses import dataclass
from typing import Any

from apps.releases.models import BatchTrigger, VersionState


@dataclass(frozen=True)
class Metric:
    label: str
    kind: str  # "rate" (0..1 shown as a percentage), "drift" (signed percentage) or "number"


METRICS: dict[str, Metric] = {
    "efficacy": Metric("Efficacy", "rate"),
    "generalization": Metric("Generalisation", "rate"),
    "locality": Metric("Locality", "rate"),
    "locality_accuracy": Metric("Locality accuracy", "rate"),
    "retention": Metric("Retention", "rate"),
    "generation_efficacy": Metric("Greedy answer efficacy", "rate"),
    "generation_generalization": Metric("Greedy answer generalisation", "rate"),
    "perplexity": Metric("Perplexity", "number"),
    "perplexity_drift": Metric("Perplexity drift", "drift"),
}
MISSING = "—"


def metric_label(name: str) -> str:
    known = METRICS.get(name)
    return known.label if known else name.replace("_", " ").capitalize()


def ordered_metrics(metrics: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """The metrics in METRICS order (jsonb keeps no key order), unknown ones after, by name."""
    metrics = metrics or {}
    known = [name for name in METRICS if name in metrics]
    return [(name, metrics[name]) for name in known + sorted(set(metrics) - set(known))]


def format_metric(value: Any, name: str = "efficacy") -> str:
    """A metric as every page shows it: rates 50.0%, drift +10.0% (never -0.0%), other numbers 12.34."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return MISSING
    kind = METRICS[name].kind if name in METRICS else "number"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "drift":
        shown = round(value * 100, 1)
        return "0.0%" if shown == 0 else f"{shown:+.1f}%"
    return f"{value:.2f}"


VERSION_STATES: dict[str, tuple[str, str]] = {
    VersionState.CANDIDATE: ("Candidate", "met its gates; promotion is on its way"),
    VersionState.PRODUCTION: ("In production", "the version that serves"),
    VersionState.SUPERSEDED: ("Superseded", "was or could have been production; production now builds on it"),
    VersionState.HELD: ("Held", "missed a gate or an operator held it; never promoted"),
    VersionState.FAILED: ("Failed", "non-finite weights or metrics"),
    VersionState.ROLLED_BACK: ("Off the production line", "production no longer builds on it (a rollback or a revert)"),
}

TRIGGERS: dict[str, str] = {
    BatchTrigger.SIZE: "batch size reached",
    BatchTrigger.WAIT: "maximum wait reached",
    BatchTrigger.RELEASE_NOW: "released now by an operator",
    BatchTrigger.REVERT: "revert of one fact",
}
