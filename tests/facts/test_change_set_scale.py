"""Measure: import and approve a 20,000-row change set of ZsRE-shaped records with distinct prompts.

Prints the figures; run on PostgreSQL for the numbers the README quotes:
    pytest tests/facts/test_change_set_scale.py -m slow -s
"""

import io
import json
import time

import pytest

from apps.audit.models import AuditEvent
from apps.audit.record import verify_chain
from apps.facts.actions import review_change_set, run_import, start_import
from apps.facts.models import ChangeSetState, FactState, ImportChannel

ROWS = 20_000


def zsre_rows(count: int) -> bytes:
    """`count` records in the ZsRE format the importer reads, each about a subject of its own."""
    lines = [
        json.dumps(
            {
                "src": f"Which city is the headquarters of company number {i}?",
                "alt": f"City {i % 97}",
                "rephrase": f"Where does company number {i} have its headquarters?",
                "loc": "who wrote the novel war and peace",
                "loc_ans": "Leo Tolstoy",
            }
        )
        for i in range(count)
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.slow
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
