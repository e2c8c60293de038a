"""Every Celery task of Amend in one table: its name, its queue, and what its first argument names.

The apps send tasks by name through the outbox (apps.outbox.send.enqueue) and never import the workers,
which sit above them; the workers define each task with `name=` from here; the settings route every task
to its queue and schedule beat's from here. tests/outbox/test_tasks.py holds the table and the Celery app
to each other: every name here is a registered task, every registered task of Amend is here.
"""

from dataclasses import dataclass

GPU = "gpu"  # one lineage at a time per model line, on a machine with the model (workers.gpu)
DEFAULT = "default"  # everything else: promotion, imports, probes' bookkeeping, beat's rounds


@dataclass(frozen=True)
class Task:
    name: str
    queue: str = DEFAULT
    # What the first argument names, so the pages and the sweeper find a task's messages ("batch:12").
    subject: str = ""

    def subject_of(self, args: tuple[object, ...]) -> str:
        return f"{self.subject}:{args[0]}" if self.subject and args else ""


APPLY_BATCH = Task("workers.gpu.apply_batch", GPU, "batch")
EXPORT_CHECKPOINT = Task("workers.gpu.export_checkpoint", GPU, "version")
ANSWER_PROBE = Task("workers.gpu.answer_probe", GPU, "probe")
PROBE_BASE = Task("workers.gpu.probe_base", GPU, "fact")
PROBE_LINE = Task("workers.gpu.probe_line", GPU, "line")
CHECK_LINE = Task("workers.gpu.check_line", GPU, "check")
PROMOTE_VERSION = Task("workers.batching.promote_version", subject="version")
SYNC_ALIASES = Task("workers.batching.sync_aliases", subject="line")
CHECKPOINT_AUDIT = Task("workers.batching.checkpoint_audit")
IMPORT_CHANGE_SET = Task("workers.imports.import_change_set", subject="changeset")
ASK_PRODUCTION = Task("workers.probes.ask_production", subject="fact")
ASK_CHANGE_SET_SAMPLE = Task("workers.probes.ask_change_set_sample", subject="changeset")
# Beat's rounds.
CUT_DUE_BATCHES = Task("workers.batching.cut_due_batches")
SCHEDULE_FULL_CHECKS = Task("workers.batching.schedule_full_checks")
SWEEP_STALLED_CHECKS = Task("workers.batching.sweep_stalled_checks")
DISPATCH_OUTBOX = Task("workers.batching.dispatch_outbox")

TASKS: tuple[Task, ...] = (
    APPLY_BATCH,
    EXPORT_CHECKPOINT,
    ANSWER_PROBE,
    PROBE_BASE,
    PROBE_LINE,
    CHECK_LINE,
    PROMOTE_VERSION,
    SYNC_ALIASES,
    CHECKPOINT_AUDIT,
    IMPORT_CHANGE_SET,
    ASK_PRODUCTION,
    ASK_CHANGE_SET_SAMPLE,
    CUT_DUE_BATCHES,
    SCHEDULE_FULL_CHECKS,
    SWEEP_STALLED_CHECKS,
    DISPATCH_OUTBOX,
)
# CELERY_TASK_ROUTES: every task to its queue.
ROUTES: dict[str, dict[str, str]] = {task.name: {"queue": task.queue} for task in TASKS}
