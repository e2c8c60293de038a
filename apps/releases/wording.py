"""One set of words and one formatting for everything the pages show of the release flow.

Metrics are stored as fractions (0.5) and drift as a ratio minus one (0.1); every page shows them
through `format_metric`, so 50.0% and +10.0% read the same on the versions table, the version page,
the gate table, the batch page and the fact page. States and audit actions are named here once.
"""

from dataclasses import dataclass
from typing import Any

from apps.facts.models import ChangeSetState, FactState
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

FACT_STATES: dict[str, str] = {
    FactState.DRAFT: "Draft",
    FactState.SUBMITTED: "Submitted",
    FactState.CHANGES_REQUESTED: "Changes requested",
    FactState.APPROVED: "Approved",
    FactState.REJECTED: "Rejected",
    FactState.WITHDRAWN: "Withdrawn",
    FactState.QUEUED: "Queued",
    FactState.APPLIED: "Applied",
    FactState.HELD: "Held",
    FactState.ROLLED_BACK: "Rolled back",
    FactState.REVERTED: "Reverted",
}
DID_NOT_TAKE = "Did not take"

CHANGE_SET_STATES: dict[str, str] = {
    ChangeSetState.IMPORTING: "Importing",
    ChangeSetState.FAILED: "Import failed",
    ChangeSetState.SUBMITTED: "In review",
    ChangeSetState.CHANGES_REQUESTED: "Changes requested",
    ChangeSetState.APPROVED: "Approved",
    ChangeSetState.REJECTED: "Rejected",
}

TRIGGERS: dict[str, str] = {
    BatchTrigger.SIZE: "batch size reached",
    BatchTrigger.WAIT: "maximum wait reached",
    BatchTrigger.RELEASE_NOW: "released now by an operator",
    BatchTrigger.REVERT: "revert of one fact",
}

ACTIONS: dict[str, str] = {
    "fact.created": "Saved as a draft",
    "fact.submitted": "Submitted for review",
    "fact.updated": "Edited",
    "fact.imported": "Imported",
    "fact.conflict_flagged": "Conflict flagged",
    "fact.marked_superseding": "Marked as superseding another fact",
    "fact.withdrawn": "Withdrawn",
    "fact.approved": "Approved",
    "fact.rejected": "Rejected",
    "fact.changes_requested": "Changes requested",
    "fact.queued": "Queued for a batch",
    "fact.applied": "Applied in a version",
    "fact.held": "Held",
    "fact.rolled_back": "Rolled back",
    "fact.reverted": "Reverted",
    "fact.revert_requested": "Revert requested",
    "fact.resubmitted": "Sent back for the next batch",
    "fact.reopened": "Reopened to edit and resubmit",
    "facts.import": "Bulk import",
    "fact.excluded": "Excluded from its change set",
    "changeset.created": "Change set uploaded",
    "changeset.imported": "Change set imported",
    "changeset.failed": "Change set import failed",
    "changeset.review.approve": "Change set review: approve",
    "changeset.review.reject": "Change set review: reject",
    "changeset.review.request_changes": "Change set review: request changes",
    "changeset.approved": "Change set approved",
    "changeset.rejected": "Change set rejected",
    "changeset.changes_requested": "Change set sent back for changes",
    "changeset.rows_excluded": "Change set rows excluded",
    "changeset.resubmitted": "Change set resubmitted",
    "review.approve": "Review: approve",
    "review.reject": "Review: reject",
    "review.request_changes": "Review: request changes",
    "batch.cut": "Batch cut",
    "batch.failed": "Batch failed",
    "batch.retry": "Batch retried",
    "version.recorded": "Version recorded",
    "version.promoted": "Promoted to production",
    "version.rolled_back_to": "Production rolled back to it",
    "version.held": "Version held",
    "version.checkpoint_exported": "Full checkpoint exported",
    "probe.requested": "Probe asked",
    "probe.answered": "Probe answered",
    "probe.failed": "Probe failed",
    "modelline.created": "Model line created",
    "modelline.updated": "Model line settings changed",
}


def action_label(action: str) -> str:
    return ACTIONS.get(action) or action.split(".", 1)[-1].replace("_", " ").capitalize()


def object_label(object_type: str, object_id: str, after: dict | None = None) -> str:
    """How a person names what an audit event is about: "fact #11", "v2", "batch #3"."""
    after = after or {}
    if object_type == "modelversion":
        return f"v{after['number']}" if isinstance(after.get("number"), int) else f"version #{object_id}"
    if object_type == "modelline":
        return f"model line {after.get('name') or '#' + object_id}"
    names = {
        "factedit": "fact",
        "changeset": "change set",
        "changesetreview": "change set review",
        "batch": "batch",
        "review": "review",
        "probe": "probe",
        "promotion": "promotion",
    }
    return f"{names.get(object_type, object_type)} #{object_id}"
