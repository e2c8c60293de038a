"""Writing and reading signed checkpoints of the audit chain's head, outside the database.

Two locations: a directory (AMEND_AUDIT_CHECKPOINT_DIR, ideally a volume the database's writers
cannot reach) and the MLflow artifact store (one run, `amend-audit/checkpoints`). A checkpoint is
written to both; verification reads both and takes the union, so deleting one copy is not enough.
Nothing here writes the database: checkpoints are evidence about it, kept elsewhere.
"""

import contextlib
import json
import logging
import os
import tempfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from apps.audit.models import GENESIS_HASH, AuditEvent
from apps.audit.signing import Checkpoint, load_private_key, load_public_key, parse
from apps.audit.verification import Finding, check

log = logging.getLogger(__name__)

# Any constant other than the chain's: serialises checkpoint writers, so sequence numbers never collide.
MLFLOW_EXPERIMENT = "amend-audit"
MLFLOW_TAG = "amend.audit"
MLFLOW_DIR = "checkpoints"


class CheckpointError(Exception):
    """A checkpoint could not be written (no key, or no location took it)."""


def configured_public_key():
    """The key auditors verify with: AMEND_AUDIT_PUBLIC_KEY, else the signing key's public half; None if neither."""
    if settings.AMEND_AUDIT_PUBLIC_KEY:
        return load_public_key(settings.AMEND_AUDIT_PUBLIC_KEY)
    if settings.AMEND_AUDIT_SIGNING_KEY:
        return load_private_key(settings.AMEND_AUDIT_SIGNING_KEY).public_key()
    return None


def head() -> tuple[int, str, int]:
    """(last event id, its hash, number of events) as committed now; (0, genesis, 0) when empty."""
    last = AuditEvent.objects.order_by("-id").values_list("id", "hash").first()
    if last is None:
        return 0, GENESIS_HASH, 0
    return last[0], last[1], AuditEvent.objects.filter(pk__lte=last[0]).count()


# --- the two locations ------------------------------------------------------------------------------


def _read_directory(directory: Path) -> list[tuple[str, Checkpoint]]:
    found = []
    for path in sorted(directory.glob("checkpoint-*.json")) if directory.is_dir() else []:
        try:
            found.append((str(path), parse(json.loads(path.read_text()))))
        except (ValueError, OSError) as exc:
            log.warning("unreadable audit checkpoint %s: %s", path, exc)
    return found


def _write_directory(directory: Path, checkpoint: Checkpoint) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / checkpoint.file_name()
    # Write then rename: a reader never sees half a checkpoint.
    with tempfile.NamedTemporaryFile("w", dir=directory, delete=False, suffix=".tmp") as handle:
        json.dump(checkpoint.document(), handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, target)


def _mlflow_run(create: bool) -> str | None:
    from mlops import tracking

    def find() -> str | None:
        mlflow = tracking.client()
        experiment = mlflow.get_experiment_by_name(MLFLOW_EXPERIMENT)
        if experiment is None:
            if not create:
                return None
            location = tracking.local_artifact_location("audit")
            experiment_id = mlflow.create_experiment(MLFLOW_EXPERIMENT, artifact_location=location)
        else:
            experiment_id = experiment.experiment_id
        runs = mlflow.search_runs([experiment_id], filter_string=f"tags.`{MLFLOW_TAG}` = 'checkpoints'")
        if runs:
            return runs[0].info.run_id
        if not create:
            return None
        return mlflow.create_run(experiment_id, run_name="checkpoints", tags={MLFLOW_TAG: "checkpoints"}).info.run_id

    return tracking.with_backoff("audit checkpoint run", find)


def _read_mlflow() -> list[tuple[str, Checkpoint]]:
    from mlops import tracking

    run_id = _mlflow_run(create=False)
    if run_id is None:
        return []

    def read() -> list[tuple[str, Checkpoint]]:
        mlflow = tracking.client()
        found = []
        with tempfile.TemporaryDirectory(prefix="amend-checkpoints-") as scratch:
            for item in mlflow.list_artifacts(run_id, MLFLOW_DIR):
                local = mlflow.download_artifacts(run_id, item.path, scratch)
                with contextlib.suppress(ValueError, OSError):
                    found.append((f"mlflow:{item.path}", parse(json.loads(Path(local).read_text()))))
        return found

    return tracking.with_backoff("audit checkpoint read", read)


def _write_mlflow(checkpoint: Checkpoint) -> None:
    from mlops import tracking

    run_id = _mlflow_run(create=True)
    with tempfile.TemporaryDirectory(prefix="amend-checkpoint-") as scratch:
        path = Path(scratch, checkpoint.file_name())
        path.write_text(json.dumps(checkpoint.document(), indent=1, sort_keys=True))
        upload = lambda: tracking.client().log_artifact(run_id, path, MLFLOW_DIR)  # noqa: E731
        tracking.with_backoff("audit checkpoint upload", upload)


def read_checkpoints() -> tuple[list[tuple[str, Checkpoint]], list[str]]:
    """Every checkpoint in every location, and the locations that could not be read (why)."""
    from mlops.tracking import TrackingUnavailableError

    found = _read_directory(settings.AMEND_AUDIT_CHECKPOINT_DIR)
    unreadable = []
    if settings.AMEND_AUDIT_CHECKPOINT_MLFLOW:
        try:
            found += _read_mlflow()
        except TrackingUnavailableError as exc:
            unreadable.append(f"MLflow: {exc}")
    return found, unreadable


def store(checkpoint: Checkpoint) -> None:
    """Write a signed checkpoint to every configured location; CheckpointError when none took it."""
    from mlops.tracking import TrackingUnavailableError

    errors = []
    try:
        _write_directory(settings.AMEND_AUDIT_CHECKPOINT_DIR, checkpoint)
    except OSError as exc:
        errors.append(f"{settings.AMEND_AUDIT_CHECKPOINT_DIR}: {exc}")
    if settings.AMEND_AUDIT_CHECKPOINT_MLFLOW:
        try:
            _write_mlflow(checkpoint)
        except TrackingUnavailableError as exc:
            errors.append(f"MLflow: {exc}")
    locations = 1 + int(settings.AMEND_AUDIT_CHECKPOINT_MLFLOW)
    if len(errors) == locations:
        raise CheckpointError(f"checkpoint {checkpoint.sequence} reached no location: {'; '.join(errors)}")
    for error in errors:
        log.error("audit checkpoint %s not written to %s", checkpoint.sequence, error)


# --- verifying the database against them ------------------------------------------------------------


class DatabaseIndex:
    """The events as the database holds them, for apps.audit.verification.check."""

    def hash_of(self, event_id: int) -> str | None:
        return AuditEvent.objects.filter(pk=event_id).values_list("hash", flat=True).first()

    def count_upto(self, event_id: int) -> int:
        return AuditEvent.objects.filter(pk__lte=event_id).count()

    def first_after(self, event_id: int) -> tuple[int, str] | None:
        row = AuditEvent.objects.filter(pk__gt=event_id).order_by("id").values_list("id", "created_at").first()
        return (row[0], row[1].isoformat()) if row else None


def check_database() -> tuple[list[Checkpoint], list[Finding], list[str]]:
    """(valid checkpoints, findings, notes). Notes say what could not be checked (no key, a location down)."""
    public = configured_public_key()
    if public is None:
        return [], [], ["no audit public key configured (AMEND_AUDIT_PUBLIC_KEY): checkpoints not checked"]
    found, unreadable = read_checkpoints()
    checkpoints, findings = check(
        found,
        public,
        DatabaseIndex(),
        now=timezone.now(),
        max_age=timedelta(seconds=settings.AMEND_AUDIT_CHECKPOINT_MAX_AGE),
    )
    return checkpoints, findings, [f"could not read checkpoints from {where}" for where in unreadable]
