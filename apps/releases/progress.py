"""Live progress of a batch by stage, for the batch and model line pages (which refresh themselves).

The worker reports each stage with `report_stage`; until it does, what the database already knows
is shown truthfully: queued until a worker takes it (deliveries > 0), decided once it has an outcome.
"""

import statistics
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from apps.releases.models import Batch, BatchState

STAGES: list[tuple[str, str]] = [
    ("queued", "Queued"),
    ("loading", "Loading the model"),
    ("editing", "Editing"),
    ("evaluating", "Evaluating"),
    ("recording", "Recording in MLflow"),
    ("decided", "Decided"),
]
_ORDER = [key for key, _ in STAGES]


def report_stage(batch_id: int, stage: str) -> None:
    """Called by the worker as it moves on. No audit event: progress decides nothing; the batch's
    outcome (version recorded, promoted, held, failed) is audited where it is decided."""
    if stage not in _ORDER:
        raise ValueError(f"unknown stage {stage!r} (one of {', '.join(_ORDER)})")
    Batch.objects.filter(pk=batch_id, state=BatchState.PENDING).update(stage=stage, stage_at=timezone.now())


@dataclass
class Step:
    key: str
    label: str
    status: str  # "done", "current" or "todo"


# How many of the line's latest finished batches the estimate of a running one is drawn from.
ESTIMATE_FROM = 5


@dataclass
class Progress:
    batch: Batch
    steps: list[Step]
    current: str
    note: str
    # Since the batch was cut; and what the line's latest finished batches took from cut to version
    # (their median), None before the first one.
    elapsed: timedelta | None = None
    estimate: timedelta | None = None

    @property
    def running(self) -> bool:
        return self.batch.state == BatchState.PENDING


def _device_words() -> str:
    device = settings.AMEND_DEVICE
    if device == "auto":
        return "on a GPU when the worker's machine has one, else on its CPU"
    return f"on {device}"


def batch_progress(batch: Batch) -> Progress:
    if batch.state != BatchState.PENDING:
        current = "decided"
        note = "Failed: " + batch.failure_reason if batch.state == BatchState.FAILED else "Its version is recorded."
    elif batch.stage:
        current = batch.stage
        note = f"A worker is at this stage (delivery {batch.deliveries})."
    elif batch.deliveries:
        current = "loading"
        note = f"A worker took it (delivery {batch.deliveries}); it has not reported a later stage yet."
    else:
        current = "queued"
        note = (
            "Waiting for a model worker: a Celery worker listening on the queue named “gpu”, which runs the model "
            f"{_device_words()} (AMEND_DEVICE={settings.AMEND_DEVICE}). `make run` starts one on this machine."
        )
    if batch.retries:
        note += f" Retried {batch.retries} time{'s' if batch.retries != 1 else ''} while MLflow was unreachable."
    reached = _ORDER.index(current)
    steps = [
        Step(key, label, "done" if i < reached or current == "decided" else "current" if i == reached else "todo")
        for i, (key, label) in enumerate(STAGES)
    ]
    progress = Progress(batch=batch, steps=steps, current=current, note=note)
    if progress.running:
        progress.elapsed = timezone.now() - batch.created_at
        progress.estimate = typical_duration(batch)
    return progress


def typical_duration(batch: Batch) -> timedelta | None:
    """The median time from cut to version of the line's latest finished batches of the same kind."""
    earlier = (
        Batch.objects.filter(model_line_id=batch.model_line_id, kind=batch.kind, state=BatchState.APPLIED)
        .exclude(finished_at=None)
        .order_by("-finished_at")
        .values_list("created_at", "finished_at")[:ESTIMATE_FROM]
    )
    seconds = [(finished - cut).total_seconds() for cut, finished in earlier]
    return timedelta(seconds=statistics.median(seconds)) if seconds else None
