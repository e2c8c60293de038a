"""Many writers at once still make one unbroken chain (the chain's tail is taken under a lock)."""

import threading

import pytest
from django.db import connection

from apps.audit.models import AuditEvent
from apps.audit.record import verify_chain
from apps.facts.actions import create_fact

WRITERS = 6
FACTS_EACH = 15


@pytest.mark.postgres_only(
    "SQLite's in-memory test database locks tables in shared-cache mode without waiting; "
    "on a file database writers queue (transaction_mode IMMEDIATE)"
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_keep_the_chain_linear(curator, model_line):
    before = AuditEvent.objects.count()
    failures: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            for number in range(FACTS_EACH):
                create_fact(
                    curator,
                    model_line,
                    prompt=f"Writer {index} question {number}?",
                    target="yes",
                    rationale="concurrency",
                    source="test",
                )
        except BaseException as error:  # reported below, in the test's own thread
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(index,)) for index in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert AuditEvent.objects.count() == before + WRITERS * FACTS_EACH
    checked, broken, reason = verify_chain()
    assert broken is None, reason
    assert checked == before + WRITERS * FACTS_EACH
