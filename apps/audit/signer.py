"""The checkpoint signer: verifies the range it is about to sign (apps.audit.report) and signs the chain's
head into every location (apps.audit.checkpoints), or refuses a trail that does not verify, loudly.

Above the report, which reads checkpoints: signing is the one step that needs both.
"""

import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.audit.checkpoints import CheckpointError, head, read_checkpoints, store
from apps.audit.record import record_event
from apps.audit.report import verify_trail
from apps.audit.signing import Checkpoint, CheckpointKeyError, load_private_key, sign

log = logging.getLogger(__name__)

_CHECKPOINT_LOCK_KEY = 7_201_446_012


class BrokenTrailError(CheckpointError):
    """The signer refused: the trail it was about to sign does not verify. Retrying cannot help."""


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
            store(checkpoint)
    if refusal:
        _refuse(refusal)  # after the lock's transaction: the refusal's own event must commit
    log.info("audit checkpoint %s: %s events up to #%s", checkpoint.sequence, count, last_id)
    return checkpoint, True


def _why_not_sign(last_id: int) -> str:
    """Verify exactly the range about to be signed (chain, tags, witness, earlier checkpoints): "" when it holds.

    Only the age finding is let through: signing is what cures it.
    """
    report = verify_trail(upto=last_id)
    problems = [str(finding) for finding in report.findings if finding.kind != "unprotected"]
    if report.broken is not None:
        problems.insert(0, f"chain broken at event #{report.broken.pk}: {report.reason}")
    return "; ".join(problems)


def _refuse(reason: str) -> None:
    """Loudly: an error in the log, an event in the trail (appended after the break, which stays reported)."""
    log.error("audit checkpoint refused, the trail does not verify: %s", reason)
    with transaction.atomic():
        record_event(None, "audit.checkpoint_refused", "audit:checkpoint", after={"reason": reason[:2000]})
    raise BrokenTrailError(f"checkpoint refused, the trail does not verify: {reason}")
