"""One verification of the whole trail, for `manage.py verify_audit` and the API: chain plus checkpoints."""

from dataclasses import dataclass, field

from apps.audit.checkpoints import check_database
from apps.audit.models import AuditEvent
from apps.audit.record import verify_chain
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


def verify_trail() -> TrailReport:
    """Walk the hash chain, then hold it against every signed checkpoint that can be read."""
    checked, broken, reason = verify_chain()
    checkpoints, findings, notes = check_database()
    newest = checkpoints[-1].payload() if checkpoints else None
    return TrailReport(checked, broken, reason, len(checkpoints), newest, findings, notes)
