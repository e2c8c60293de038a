"""Celery beat's periodic tasks, in one table: the intervals are read here or by the part that owns them."""

import os

from amend.settings.audit import AMEND_AUDIT_CHECKPOINT_SECONDS
from amend.settings.outbox import AMEND_OUTBOX_POLL_SECONDS
from apps.outbox import tasks

CELERY_BEAT_SCHEDULE = {
    "cut-due-batches": {
        "task": tasks.CUT_DUE_BATCHES.name,
        "schedule": float(os.environ.get("AMEND_BATCH_POLL_SECONDS", "30")),
    },
    # Lines with a full_check_interval get their check when it is due (the interval itself is the line's).
    "schedule-full-checks": {"task": tasks.SCHEDULE_FULL_CHECKS.name, "schedule": 60.0},
    "checkpoint-audit": {"task": tasks.CHECKPOINT_AUDIT.name, "schedule": AMEND_AUDIT_CHECKPOINT_SECONDS},
    "dispatch-outbox": {"task": tasks.DISPATCH_OUTBOX.name, "schedule": AMEND_OUTBOX_POLL_SECONDS},
    # Fails full checks that stopped reporting progress (AMEND_CHECK_STALL_SECONDS, outbox.py).
    "sweep-stalled-checks": {"task": tasks.SWEEP_STALLED_CHECKS.name, "schedule": 60.0},
}
