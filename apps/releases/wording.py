"""One set of words and one formatting for everything the pages show of the release flow.

Metrics are stored as fractions (0.5) and drift as a ratio minus one (0.1); every page shows them
through `format_metric`, so 50.0% and +10.0% read the same on the versions table, the version page,
the gate table, the batch page and the fact page. Version states and batch triggers are named here
once; fact and change-set states with the facts (apps.facts.states), audit actions with the audit
trail (apps.audit.wording).
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import editor.metrics as names
from apps.releases.models import Batch, BatchState, BatchTrigger, VersionState
from apps.releases.progress import STAGES


@dataclass(frozen=True)
class Metric:
    label: str
    kind: str  # "rate" (0..1 shown as a percentage), "drift" (signed percentage) or "number"


# What the model says leads (its greedy answer begins with the target); the literature's teacher-forced
# token accuracies follow, named as such, so no page reads them as the edit's success. Stored keys are
# editor.metrics' and never change meaning.
METRICS: dict[str, Metric] = {
    names.GENERATION_EFFICACY: Metric("Efficacy", "rate"),
    names.GENERATION_GENERALIZATION: Metric("Generalisation", "rate"),
    names.GENERATION_RETENTION: Metric("Retention", "rate"),
    names.LOCALITY: Metric("Locality", "rate"),
    names.LOCALITY_ACCURACY: Metric("Locality accuracy", "rate"),
    names.PERPLEXITY: Metric("Perplexity", "number"),
    names.PERPLEXITY_DRIFT: Metric("Perplexity drift", "drift"),
    names.TOKEN_EFFICACY: Metric("Efficacy, token accuracy", "rate"),
    names.TOKEN_GENERALIZATION: Metric("Generalisation, token accuracy", "rate"),
    names.TOKEN_RETENTION: Metric("Retention, token accuracy", "rate"),
}
# The teacher-forced ones: shown after the others, in muted type, never in a column of their own.
TOKEN_METRICS = frozenset({names.TOKEN_EFFICACY, names.TOKEN_GENERALIZATION, names.TOKEN_RETENTION})
MISSING = "—"


def metric_label(name: str) -> str:
    known = METRICS.get(name)
    return known.label if known else name.replace("_", " ").capitalize()


def ordered_metrics(metrics: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """The metrics in METRICS order (jsonb keeps no key order), unknown ones after, by name."""
    metrics = metrics or {}
    known = [name for name in METRICS if name in metrics]
    return [(name, metrics[name]) for name in known + sorted(set(metrics) - set(known))]


def format_metric(value: Any, name: str = names.GENERATION_EFFICACY) -> str:
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


def format_duration(value: timedelta | None) -> str:
    """ "45 s", "2 min 40 s", "1 h 05 min": a running batch's elapsed time and estimate."""
    if value is None:
        return MISSING
    seconds = max(0, round(value.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


VERSION_STATES: dict[str, tuple[str, str]] = {
    VersionState.CANDIDATE: ("Candidate", "met its gates; promotion is on its way"),
    VersionState.PRODUCTION: ("In production", "the version that serves"),
    VersionState.SUPERSEDED: ("Superseded", "an earlier step of production's lineage: production builds on it"),
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

# What became of a batch that produced its version: that version's fate, never a plain "applied" (a
# held version's facts are all held). Pairs of (badge style, words).
BATCH_OUTCOMES: dict[str, tuple[str, str]] = {
    VersionState.CANDIDATE: ("candidate", "Promoting"),
    VersionState.PRODUCTION: ("production", "Promoted"),
    VersionState.SUPERSEDED: ("superseded", "Superseded"),
    VersionState.HELD: ("held", "Held"),
    VersionState.FAILED: ("failed", "Failed"),
    VersionState.ROLLED_BACK: ("rolled_back", "Rolled back"),
}


def batch_outcome(batch: Batch, version_state: str | None) -> tuple[str, str]:
    """The batch's badge: the worker's stage while it runs ("Evaluating"), its version's fate after."""
    if batch.state == BatchState.FAILED:
        return "failed", "Failed"
    if batch.state == BatchState.PENDING:
        stage = batch.stage or ("loading" if batch.deliveries else "queued")
        return "pending", dict(STAGES)[stage]
    return BATCH_OUTCOMES.get(version_state or "", ("applied", "Version recorded"))
