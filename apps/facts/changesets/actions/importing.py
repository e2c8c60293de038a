"""A bulk import as a change set: the upload is accepted in the request, the rows are read by a job.

`start_import` runs in the web request (or the command): it checks the file, stores it with a new
change set and, in the same transaction, writes the job to the outbox, so a broker that is down
delays the import but loses nothing. `run_import` is the job (workers.imports, or the command in
process): a thousand rows per transaction with the set's progress, resumable after the last committed
line when a killed worker's message is delivered again. Refusals:
- PermissionDenied: not a curator (HTTP 403);
- ValidationError keyed "file", "format", "rationale" or "source": the upload is unusable (HTTP 400).
"""

import logging
import secrets
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.roles import Role, require_role
from apps.audit.record import record_event
from apps.facts.actions.state import User, move_many
from apps.facts.changesets.files import FORMATS, iter_rows, read_text
from apps.facts.changesets.rows import Row, chunks, import_rows
from apps.facts.models import ChangeSet, ChangeSetState, FactState
from apps.facts.validation import MAX_RATIONALE, MAX_SOURCE, clean_text
from apps.modellines.models import ModelLine
from apps.outbox import tasks
from apps.outbox.send import enqueue

log = logging.getLogger(__name__)

CHUNK_ROWS = 1000


def ask_sample(change_set: ChangeSet) -> None:
    """Reviewers see what production answers to each sampled row: the set asks it once its rows are in
    review (imported, resubmitted), through the outbox, in the transaction that puts them there; the
    release app above this one writes the probes (workers.probes)."""
    enqueue(tasks.ASK_CHANGE_SET_SAMPLE, change_set.pk)


@transaction.atomic(durable=True)
def start_import(
    actor: User,
    model_line: ModelLine,
    fileobj: Any,
    fmt: str,
    *,
    channel: str,
    rationale: str = "",
    source: str = "",
    in_background: bool = True,
) -> ChangeSet:
    """A curator uploads a ZsRE JSONL or CSV file: a new change set, `importing` until the job has read it.

    With in_background=False nothing is sent to the workers: the caller runs `run_import` itself (the
    command). Refused (400): an unknown format, a file over the size limit, not UTF-8 text, a CSV
    without prompt and target columns, a file without a single row.
    """
    require_role(actor, Role.CURATOR, "import facts")
    if fmt not in FORMATS:
        raise ValidationError({"format": f"must be one of {', '.join(FORMATS)}"})
    rationale = clean_text("rationale", rationale, max_length=MAX_RATIONALE, required=False, multiline=True)
    source = clean_text("source", source, max_length=MAX_SOURCE, required=False)
    text = read_text(fileobj)
    if "\x00" in text:
        raise ValidationError({"file": "contains NUL characters: it is not a text file"})
    if next(iter_rows(text, fmt), None) is None:  # also refuses a CSV header without the needed columns
        raise ValidationError({"file": "has no rows to import"})
    change_set = ChangeSet.objects.create(
        model_line=model_line,
        importer=actor,
        file_name=Path(getattr(fileobj, "name", "") or "upload").name[:255],
        file_format=fmt,
        channel=channel,
        rationale=rationale,
        source=source,
        upload=text,
        rows_total=sum(1 for _ in iter_rows(text, fmt)),
        sample_seed=secrets.randbits(62),
    )
    record_event(
        actor,
        "changeset.created",
        change_set,
        after={**change_set.audit_snapshot(), "rows_total": change_set.rows_total, "characters": len(text)},
        model_line_id=model_line.pk,
    )
    if in_background:
        enqueue(tasks.IMPORT_CHANGE_SET, change_set.pk)
    return change_set


@transaction.atomic(durable=True)
def _import_chunk(change_set_id: int, rows: list[Row]) -> None:
    change_set = ChangeSet.objects.select_for_update().select_related("importer").get(pk=change_set_id)
    if change_set.state != ChangeSetState.IMPORTING or rows[-1][0] <= change_set.last_line:
        return  # another delivery of the job got here first
    created, refused = import_rows(change_set, rows)
    change_set.rows_read += len(rows)
    change_set.rows_created += created
    change_set.refused = change_set.refused + refused
    change_set.last_line = rows[-1][0]
    change_set.save(update_fields=["rows_read", "rows_created", "refused", "last_line"])


@transaction.atomic(durable=True)
def _finish_import(change_set_id: int) -> ChangeSet:
    change_set = ChangeSet.objects.select_for_update().get(pk=change_set_id)
    if change_set.state != ChangeSetState.IMPORTING:
        return change_set
    if change_set.rows_created:
        change_set.state = ChangeSetState.SUBMITTED
    else:
        change_set.state = ChangeSetState.FAILED
        change_set.state_reason = f"no valid row: all {len(change_set.refused)} rows were refused"
    change_set.imported_at = timezone.now()
    if change_set.state == ChangeSetState.SUBMITTED:
        ask_sample(change_set)
    change_set.upload = ""  # the rows are facts now; the report keeps the refused ones
    change_set.save(update_fields=["state", "state_reason", "imported_at", "upload"])
    record_event(
        change_set.importer,
        "changeset.imported",
        change_set,
        before={"state": ChangeSetState.IMPORTING},
        after={**change_set.audit_snapshot(), "refused_rows": change_set.refused},
        model_line_id=change_set.model_line_id,
    )
    return change_set


@transaction.atomic(durable=True)
def fail_import(change_set_id: int, reason: str) -> ChangeSet:
    """The job could not finish: the set fails with the reason, the rows it had created are withdrawn."""
    change_set = ChangeSet.objects.select_for_update().get(pk=change_set_id)
    if change_set.state != ChangeSetState.IMPORTING:
        return change_set
    move_many(
        None,
        change_set.rows.filter(state=FactState.SUBMITTED),
        FactState.WITHDRAWN,
        action="fact.withdrawn",
        reason=f"the import of change set #{change_set.pk} failed",
        note={"change_set_id": change_set.pk},
    )
    change_set.state, change_set.state_reason = ChangeSetState.FAILED, reason
    change_set.upload = ""
    change_set.save(update_fields=["state", "state_reason", "upload"])
    record_event(
        None,
        "changeset.failed",
        change_set,
        before={"state": ChangeSetState.IMPORTING},
        after=change_set.audit_snapshot(),
        model_line_id=change_set.model_line_id,
    )
    return change_set


def run_import(change_set_id: int) -> ChangeSet | None:
    """The import job: read the stored file after the last committed line, then open the set for review.

    Idempotent: a set no longer `importing` is left as it is. Any error fails the set with the reason
    (a person must see why), after which the job ends normally (nothing to retry).
    """
    change_set = ChangeSet.objects.filter(pk=change_set_id).only("state", "last_line").first()
    if change_set is None or change_set.state != ChangeSetState.IMPORTING:
        return change_set
    text = ChangeSet.objects.filter(pk=change_set_id).values_list("upload", "file_format").get()
    try:
        rows = (row for row in iter_rows(*text) if row[0] > change_set.last_line)
        for chunk in chunks(rows, CHUNK_ROWS):
            try:
                _import_chunk(change_set_id, chunk)
            except IntegrityError:
                # A concurrent import of the same rows into another set won the unique import key:
                # read the chunk again, those rows are now duplicates.
                _import_chunk(change_set_id, chunk)
        return _finish_import(change_set_id)
    except Exception as error:  # every failure must end on the set, where its importer reads it
        log.exception("import of change set %s failed", change_set_id)
        return fail_import(change_set_id, f"{type(error).__name__}: {error}"[:1000])
