"""Every write of the release pipeline: one function each, one transaction, with its audit event.

Workers, the beat scheduler, the API and the pages all go through these functions. The database is
the source of truth for which version is in production; MLflow's aliases are moved to match it by
a task dispatched when the transaction commits (so an unreachable MLflow never loses a decision).
Refusals: PermissionDenied (403), ValidationError keyed by field (400), TransitionError (409).

By concern: `batches` (cut, deliveries, failure), `versions` (record what a worker built),
`promotion` (promote, roll back, hold), `reverts`, `probes`, `dispatching` (re-send, cancel, sweep),
`checks` (full checks of production).
Reads are in apps.releases.queries.
"""

from apps.releases.actions.batches import (
    count_delivery,
    cut_batch,
    cut_due_batches,
    end_delivery_for_retry,
    fail_batch,
    release_now,
)
from apps.releases.actions.checks import (
    fail_full_check,
    fail_stalled_check,
    finish_full_check,
    report_check_progress,
    request_full_check,
    schedule_due_checks,
    sweep_stalled_checks,
)
from apps.releases.actions.common import facts_content_hash
from apps.releases.actions.dispatching import cancel_batch, resend_batch, sweep_stranded_batches
from apps.releases.actions.probes import (
    finish_probe,
    request_fact_probes,
    request_line_probe,
    request_probe,
    request_sample_probes,
)
from apps.releases.actions.promotion import hold, promote, rollback
from apps.releases.actions.reverts import revert_fact
from apps.releases.actions.versions import ensure_base_version, mark_aliases_synced, record_version, set_checkpoint_uri

# Reads, re-exported for the workers that reach them through `actions` (workers/pipeline.py).
from apps.releases.queries import head_version, next_version_number, production_version, revert_plan

__all__ = [
    "cancel_batch",
    "count_delivery",
    "cut_batch",
    "cut_due_batches",
    "end_delivery_for_retry",
    "ensure_base_version",
    "facts_content_hash",
    "fail_batch",
    "fail_full_check",
    "fail_stalled_check",
    "finish_full_check",
    "finish_probe",
    "head_version",
    "hold",
    "mark_aliases_synced",
    "next_version_number",
    "production_version",
    "promote",
    "record_version",
    "release_now",
    "report_check_progress",
    "request_fact_probes",
    "request_full_check",
    "request_line_probe",
    "request_probe",
    "request_sample_probes",
    "resend_batch",
    "revert_fact",
    "revert_plan",
    "rollback",
    "schedule_due_checks",
    "set_checkpoint_uri",
    "sweep_stalled_checks",
    "sweep_stranded_batches",
]
