"""One verification of the whole trail, for `manage.py verify_audit`, the API, the verify page and the signer:
the hash chain and every event's tag, the witness of the newest heads, then the signed checkpoints."""

from dataclasses import dataclass, field

from django.conf import settings

from apps.audit import witness
from apps.audit.chain import ChainWalk
from apps.audit.checkpoints import check_database
from apps.audit.models import AuditEvent
from apps.audit.record import walk_chain
from apps.audit.verification import Finding


@dataclass
class TrailReport:
    checked: int
    broken: AuditEvent | None
    reason: str
    checkpoints: int = 0
    newest_checkpoint: dict | None = None
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken is None and not self.findings

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "broken_event": self.broken.pk if self.broken else None,
            "reason": self.reason,
            "checkpoints": self.checkpoints,
            "newest_checkpoint": self.newest_checkpoint,
            "findings": [{"kind": f.kind, "message": f.message} for f in self.findings],
            "notes": self.notes,
        }


def tag_notes(chain: ChainWalk) -> list[str]:
    """What the walk says about tags, for the notes: never a finding (a forged tag breaks the chain instead)."""
    if not chain.tags_checked:
        return ["tags not checked: no audit key (AMEND_AUDIT_HMAC_KEY) here"]
    if not chain.untagged:
        return []
    since = f"before {chain.tagged_since}" if chain.tagged_since else "no event is tagged yet"
    return [f"{chain.untagged} event(s) untagged ({since}): written before the audit key was configured"]


def check_witness() -> tuple[list[Finding], list[str]]:
    """Every event held against the witness file: (findings, notes). Never cut at a head: a witnessed id past
    it that is gone is exactly what a deleted tail looks like."""
    path = settings.AMEND_AUDIT_WITNESS_FILE
    if not path:
        return [], ["no witness file configured (AMEND_AUDIT_WITNESS_FILE): the newest events are not witnessed"]
    if not path.is_file():
        return [], [f"no witness file at {path} yet: the newest events are not witnessed"]
    witnessed, findings = witness.read(path)
    events = AuditEvent.objects.order_by("id")
    compared, unwitnessed = witness.compare(witnessed, events.values_list("id", "hash").iterator(chunk_size=5000))
    last = witnessed[-1].event_id if witnessed else 0
    notes = [f"{unwitnessed} newest event(s) after the last witnessed one (#{last}) are not in the witness"]
    return findings + compared, notes if unwitnessed else []


def verify_trail(upto: int | None = None) -> TrailReport:
    """Walk the chain (hashes and tags), hold it against the witness and every signed checkpoint that can be read.

    `upto`: only the events up to that id (the signer verifies exactly the range it is about to sign).
    """
    chain = walk_chain(upto)
    witness_findings, witness_notes = check_witness()
    checkpoints, findings, notes = check_database()
    newest = checkpoints[-1].payload() if checkpoints else None
    return TrailReport(
        chain.checked,
        chain.broken,
        chain.reason,
        len(checkpoints),
        newest,
        witness_findings + findings,
        tag_notes(chain) + witness_notes + notes,
    )
