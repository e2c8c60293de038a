"""Test-only: keep a worker at a batch's stage until a test lets it go, so a fault lands at a stage, not a time.

Off unless AMEND_HOLD_DIR names a folder (the fault tests set it for the workers they start; a deployment
never does). Then a worker that reaches stage S (workers.pipeline reports each) while that folder holds a file
named S writes S.held beside it (the test's sign that the worker is there, text: the batch) and waits while
both are there: the test removes S.held to let this one pass through (the next to reach S is held again), or
S to hold no more. A hold lasts HOLD_MAX_SECONDS at most, so a test that died leaves no worker stuck for good.
"""

import logging
import time
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)

HOLD_MAX_SECONDS = 600.0
POLL_SECONDS = 0.2


def hold_at(stage: str, batch_id: int) -> None:
    """Wait here while a test holds `stage` (nothing, at once, without AMEND_HOLD_DIR)."""
    if not settings.AMEND_HOLD_DIR:
        return
    folder = Path(settings.AMEND_HOLD_DIR)
    hold, held = folder / stage, folder / f"{stage}.held"
    if not hold.exists():
        return
    writing = folder / f".{stage}.held"
    writing.write_text(f"batch {batch_id}\n")
    writing.replace(held)  # whole when it appears
    log.warning("batch %s: held at stage %r by %s", batch_id, stage, hold)
    deadline = time.monotonic() + HOLD_MAX_SECONDS
    while hold.exists() and held.exists() and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    held.unlink(missing_ok=True)
    log.warning("batch %s: let go at stage %r", batch_id, stage)
