"""The witness: an append-only file outside the database naming each committed head of the chain.

Every transaction that writes audit events appends, once it commits, one line "id hash created_at" for
its newest event (AMEND_AUDIT_WITNESS_FILE, on a volume beside the checkpoints that the database's
administrators cannot write). The signed checkpoints protect what is older than the newest of them; the
witness closes the window after it: deleting the newest events, or rewriting one and recomputing the
hashes after it, leaves a witnessed id missing or with another hash. No Django import: the offline
verifier reads the same file.

Appending is one write() of one short line to a file opened with O_APPEND, so lines from the web
processes and the workers never interleave. It is not fsynced: a power cut can lose the last lines
(reported as "not witnessed", never as tampering).
"""

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from apps.audit.verification import Finding

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Witnessed:
    event_id: int
    hash: str
    created_at: str


def append(path: Path, event_id: int, hash_: str, created_at: str) -> None:
    """Add one line; a witness that cannot be written is logged, never raised (the events are committed)."""
    line = f"{event_id} {hash_} {created_at}\n".encode("ascii")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)
    except OSError as exc:
        log.error("audit witness %s not written for event #%s: %s", path, event_id, exc)


def read(path: Path) -> tuple[list[Witnessed], list[Finding]]:
    """The witnessed heads in id order (the last line wins for an id), and findings about unreadable lines."""
    by_id: dict[int, Witnessed] = {}
    findings = []
    for number, line in enumerate(path.read_text(encoding="ascii", errors="replace").splitlines(), start=1):
        parts = line.split()
        if len(parts) != 3 or not parts[0].isdigit() or len(parts[1]) != 64:
            findings.append(Finding("witness-damaged", f"line {number} of the witness {path} is not 'id hash time'"))
            continue
        by_id[int(parts[0])] = Witnessed(int(parts[0]), parts[1], parts[2])
    return [by_id[event_id] for event_id in sorted(by_id)], findings


def compare(witnessed: list[Witnessed], events: Iterable[tuple[int, str]]) -> tuple[list[Finding], int]:
    """Hold the events (id, hash, in id order) against the witnessed heads.

    Returns (findings, events newer than the newest witnessed head). A witnessed id that is gone means the
    events were deleted; one with another hash means they were rewritten (the tag check names the first
    event that changed; this names the first witnessed one).
    """
    findings: list[Finding] = []
    pending = iter(witnessed)
    expected = next(pending, None)
    newest = witnessed[-1].event_id if witnessed else 0
    unwitnessed = 0
    gone: list[Witnessed] = []
    for event_id, hash_ in events:
        while expected is not None and expected.event_id < event_id:
            gone.append(expected)
            expected = next(pending, None)
        if expected is not None and expected.event_id == event_id:
            if expected.hash != hash_ and not any(f.kind == "witness-rewritten" for f in findings):
                findings.append(Finding("witness-rewritten", f"event #{event_id} no longer has the hash witnessed "
                                        f"at {expected.created_at}: it, or an event before it, was rewritten"))
            expected = next(pending, None)
        elif event_id > newest:
            unwitnessed += 1
    if expected is not None:
        gone.append(expected)
        gone += list(pending)
    if gone:
        findings.insert(0, Finding("witness-deleted", f"event #{gone[0].event_id} (witnessed at {gone[0].created_at})"
                                   f"{f' and {len(gone) - 1} later witnessed event(s)' if len(gone) > 1 else ''} "
                                   "are gone from the trail: events were deleted"))
    return findings, unwitnessed
