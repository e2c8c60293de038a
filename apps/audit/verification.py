"""Checking a trail against its signed checkpoints, with no Django import.

The database (apps.audit.checkpoints) and an export file (apps.audit.verify_export) each offer
the same small index of events; the checks are the same for both:
- a checkpoint whose signature fails is reported (forged or altered) and otherwise ignored;
- checkpoints are numbered and each names the digest of the one before: a gap is a missing
  checkpoint, a wrong link a replaced one;
- each checkpoint's last event must exist (else the trail was truncated), carry the signed hash
  (else the past was rewritten) and have exactly the signed number of events up to it (more:
  forged inserts; fewer: removed events);
- events newer than the newest checkpoint, and older than `max_age`, mean a checkpoint is missing.

What this cannot see: events appended after the newest checkpoint by someone who also holds the
signing key, or the newest checkpoints deleted from every location while younger than `max_age`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from apps.audit.signing import Checkpoint


class EventIndex(Protocol):
    def hash_of(self, event_id: int) -> str | None: ...

    def count_upto(self, event_id: int) -> int: ...

    def first_after(self, event_id: int) -> tuple[int, str] | None:
        """(id, created_at ISO string) of the first event after event_id, or None."""


@dataclass(frozen=True)
class Finding:
    kind: str  # bad-signature, conflict, missing-checkpoint, replaced-checkpoint, truncated, rewritten,
    #            inserted, removed, unprotected
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


def _valid(
    checkpoints: Iterable[tuple[str, Checkpoint]], public: Ed25519PublicKey
) -> tuple[list[Checkpoint], list[Finding]]:
    """Checkpoints whose signature holds, one per sequence number, and findings about the rest."""
    findings: list[Finding] = []
    by_sequence: dict[int, Checkpoint] = {}
    for where, checkpoint in checkpoints:
        if not checkpoint.verifies(public):
            findings.append(Finding("bad-signature", f"checkpoint {checkpoint.sequence} in {where} does not verify "
                                    "with the public key (forged, altered or signed with another key)"))
            continue
        known = by_sequence.setdefault(checkpoint.sequence, checkpoint)
        if known.digest() != checkpoint.digest():
            findings.append(Finding("conflict", f"two different signed checkpoints {checkpoint.sequence} ({where})"))
    return [by_sequence[n] for n in sorted(by_sequence)], findings


def _chain_of_checkpoints(ordered: list[Checkpoint]) -> list[Finding]:
    findings = []
    expected, previous = 1, None
    for checkpoint in ordered:
        if checkpoint.sequence != expected:
            missing = f"{expected}" if checkpoint.sequence == expected + 1 else f"{expected}-{checkpoint.sequence - 1}"
            findings.append(Finding("missing-checkpoint", f"checkpoint(s) {missing} are in no location"))
        elif previous is not None and checkpoint.previous != previous.digest():
            findings.append(Finding("replaced-checkpoint", f"checkpoint {checkpoint.sequence} does not name "
                                    f"checkpoint {previous.sequence} as its predecessor"))
        expected, previous = checkpoint.sequence + 1, checkpoint
    return findings


def _against_events(checkpoint: Checkpoint, index: EventIndex) -> Finding | None:
    where = f"checkpoint {checkpoint.sequence} (signed {checkpoint.signed_at})"
    if checkpoint.last_event_id == 0:
        return None
    found = index.hash_of(checkpoint.last_event_id)
    count = index.count_upto(checkpoint.last_event_id)
    if found is None:
        return Finding("truncated", f"{where} covers {checkpoint.event_count} events up to "
                       f"#{checkpoint.last_event_id}, which is gone; {count} events remain up to it")
    if found != checkpoint.last_hash:
        return Finding("rewritten", f"event #{checkpoint.last_event_id} no longer has the hash {where} signed: "
                       "the past was rewritten")
    if count > checkpoint.event_count:
        return Finding("inserted", f"{count} events up to #{checkpoint.last_event_id} where {where} signed "
                       f"{checkpoint.event_count}: {count - checkpoint.event_count} forged insert(s)")
    if count < checkpoint.event_count:
        return Finding("removed", f"{count} events up to #{checkpoint.last_event_id} where {where} signed "
                       f"{checkpoint.event_count}")
    return None


def check(
    checkpoints: Iterable[tuple[str, Checkpoint]],
    public: Ed25519PublicKey,
    index: EventIndex,
    *,
    now: datetime,
    max_age: timedelta,
) -> tuple[list[Checkpoint], list[Finding]]:
    """(the valid checkpoints, oldest first; every finding). No finding means the trail matches them all."""
    ordered, findings = _valid(checkpoints, public)
    findings += _chain_of_checkpoints(ordered)
    findings += [finding for finding in (_against_events(c, index) for c in ordered) if finding]
    covered = ordered[-1].last_event_id if ordered else 0
    uncovered = index.first_after(covered)
    if uncovered is not None and now - datetime.fromisoformat(uncovered[1]) > max_age:
        since = f"checkpoint {ordered[-1].sequence}" if ordered else "any checkpoint"
        findings.append(Finding("unprotected", f"event #{uncovered[0]} and later ({uncovered[1]}) are older than "
                                f"{max_age} and not covered by {since}: a checkpoint is missing"))
    return ordered, findings
