"""Tasks on the `default` queue for bulk imports: read a change set's file into its rows.

Sent through the outbox by apps.facts.actions.start_import. acks_late (settings): a worker killed in
the middle leaves the message to be delivered again, and the job resumes after the last committed
chunk of rows, so no row is lost or doubled.
"""

from celery import shared_task

from apps.facts.actions import run_import
from apps.outbox import tasks


@shared_task(name=tasks.IMPORT_CHANGE_SET.name)
def import_change_set(change_set_id: int) -> dict:
    """Import the change set's rows; a set no longer importing is left alone (a duplicate delivery)."""
    change_set = run_import(change_set_id)
    if change_set is None:
        return {"change_set": change_set_id, "skipped": "no such change set"}
    return {
        "change_set": change_set_id,
        "state": change_set.state,
        "rows_created": change_set.rows_created,
        "rows_refused": len(change_set.refused),
    }
