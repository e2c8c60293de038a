"""Measure: import and approve a 20,000-row change set (ZsRE records repeated with distinct prompts).

Prints the figures; run on PostgreSQL for the numbers the README quotes:
    pytest tests/facts/test_change_set_scale.py -m slow -s
"""

import io
import json
import time
from pathlib import Path

import pytest

from apps.audit.models import AuditEvent
from apps.audit.record import verify_chain
from apps.facts.actions import review_change_set, run_import, start_import
from apps.facts.models import ChangeSetState, FactState, ImportChannel

ZSRE = Path("/work/shared/data/zsre_dev.jsonl")
ROWS = 20_000


def zsre_rows(count: int) -> bytes:
    """`count` ZsRE records: the real ones repeated, each repeat's prompt made distinct."""
    records = [json.loads(line) for line in ZSRE.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = []
    for i in range(count):
        record = dict(records[i % len(records)])
        record["src"] = f"{record['src']} (#{i})"
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.slow
@pytest.mark.skipif(not ZSRE.exists(), reason="needs /work/shared/data/zsre_dev.jsonl")
def test_a_20000_row_change_set_is_imported_and_approved_in_seconds(curator, reviewer, model_line):
    upload = io.BytesIO(zsre_rows(ROWS))
    upload.name = "zsre-20000.jsonl"

    started = time.perf_counter()
    change_set = start_import(curator, model_line, upload, "jsonl", channel=ImportChannel.API, in_background=False)
    accepted = time.perf_counter() - started
    change_set = run_import(change_set.pk)
    imported = time.perf_counter() - started
    assert change_set.state == ChangeSetState.SUBMITTED, change_set.state_reason
    assert change_set.rows_created == ROWS

    started = time.perf_counter()
    review_change_set(reviewer, change_set, "approve", "sample checked", revision=change_set.revision)
    approved = time.perf_counter() - started

    assert change_set.rows.filter(state=FactState.APPROVED).count() == ROWS
    events = AuditEvent.objects.count()
    started = time.perf_counter()
    checked, broken, _ = verify_chain()
    verified = time.perf_counter() - started
    assert broken is None and checked == events
    print(
        f"\n{ROWS} rows: upload accepted in {accepted:.2f} s, imported in {imported:.1f} s "
        f"({ROWS / imported:.0f} rows/s); approved in {approved:.1f} s (one transaction, "
        f"{ROWS} fact.approved events); together {imported + approved:.1f} s; "
        f"audit chain of {events} events verified in {verified:.1f} s"
    )
