"""The words every page shows for audit events: what happened (`action_label`) and to what (`object_label`).

One table for the actions of every app, kept with the audit trail that records them: the fact page's
timeline, the audit page and a model line's recent events all read the same words.
"""


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
    "fact.regressed": "No longer said: regressed",
    "fact.retried": "Did not take: retried in the next batch",
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
    "check.requested": "Full check of production asked",
    "check.finished": "Full check of production finished",
    "check.failed": "Full check of production failed",
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
        "factcheck": "full check",
    }
    return f"{names.get(object_type, object_type)} #{object_id}"
