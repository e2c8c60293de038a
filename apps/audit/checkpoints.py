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
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.models import GENESIS_HASH, AuditEvent
from apps.audit.signing import Checkpoint, CheckpointKeyError, load_private_key, load_public_key, parse, sign
from apps.audit.verification import Finding, check

log = logging.getLogger(__name__)

# Any constant other than the chain's: serialises checkpoint writers, so sequence numbers never collide.
_CHECKPOINT_LOCK_KEY = 7_201_446_012
MLFLOW_EXPERIMENT = "amend-audit"
MLFLOW_TAG = "amend.audit"
MLFLOW_DIR = "checkpoints"


class CheckpointError(Exception):
    """A checkpoint could not be written (no key, or no location took it)."""


class BrokenTrailError(CheckpointError):
    """The signer refused: the trail it was about to sign does not verify. Retrying cannot help."""


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


# --- writing ----------------------------------------------------------------------------------------


def write_checkpoint(*, force: bool = False) -> tuple[Checkpoint, bool]:
    """Sign the chain's head and write it to every location. Returns (checkpoint, written).

    Nothing is written when the newest checkpoint already covers the head (unless `force`). The range to sign
    is verified first (chain, tags, witness, earlier checkpoints): a trail that does not verify is never signed.
    Raises BrokenTrailError then, CheckpointError when no signing key is configured or no location took it.
    """
    if not settings.AMEND_AUDIT_SIGNING_KEY:
        raise CheckpointError("no audit signing key: set AMEND_AUDIT_SIGNING_KEY (or AMEND_AUDIT_SIGNING_KEY_FILE)")
    try:
        key = load_private_key(settings.AMEND_AUDIT_SIGNING_KEY)
    except CheckpointKeyError as exc:
        raise CheckpointError(str(exc)) from exc
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHECKPOINT_LOCK_KEY])
        found, _ = read_checkpoints()
        public = key.public_key()
        mine = sorted((c for _, c in found if c.verifies(public)), key=lambda c: c.sequence)
        latest = mine[-1] if mine else None
        last_id, last_hash, count = head()
        if latest is not None and latest.last_event_id == last_id and latest.last_hash == last_hash and not force:
            return latest, False
        refusal = _why_not_sign(last_id)
        if not refusal:
            checkpoint = sign(
                key,
                sequence=latest.sequence + 1 if latest else 1,
                last_event_id=last_id,
                last_hash=last_hash,
                event_count=count,
                signed_at=timezone.now().isoformat(),
                previous=latest.digest() if latest else None,
            )
            _store(checkpoint)
    if refusal:
        _refuse(refusal)  # after the lock's transaction: the refusal's own event must commit
    log.info("audit checkpoint %s: %s events up to #%s", checkpoint.sequence, count, last_id)
    return checkpoint, True


def _why_not_sign(last_id: int) -> str:
    """Verify exactly the range about to be signed (chain, tags, witness, earlier checkpoints): "" when it holds.

    Only the age finding is let through: signing is what cures it.
    """
    from apps.audit.report import verify_trail  # the report module reads checkpoints through this one

    report = verify_trail(upto=last_id)
    problems = [str(finding) for finding in report.findings if finding.kind != "unprotected"]
    if report.broken is not None:
        problems.insert(0, f"chain broken at event #{report.broken.pk}: {report.reason}")
    return "; ".join(problems)


def _refuse(reason: str) -> None:
    """Loudly: an error in the log, an event in the trail (appended after the break, which stays reported)."""
    from apps.audit.record import record_event

    log.error("audit checkpoint refused, the trail does not verify: %s", reason)
    with transaction.atomic():
        record_event(None, "audit.checkpoint_refused", "audit:checkpoint", after={"reason": reason[:2000]})
    raise BrokenTrailError(f"checkpoint refused, the trail does not verify: {reason}")


def _store(checkpoint: Checkpoint) -> None:
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
