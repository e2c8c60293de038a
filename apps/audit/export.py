"""Exporting audit events as CSV or JSON, streamed so a long history does not sit in memory."""

import csv
import json
from collections.abc import Iterator

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from apps.audit.chain import HASHED_FIELDS
from apps.audit.models import AuditEvent

EXPORT_FORMATS = ("csv", "json")
# What spreadsheets treat as the start of a formula (CSV injection), plus the escape itself.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
COLUMNS = ["id", *HASHED_FIELDS, "prev_hash", "hash", "tag"]


def event_row(event: AuditEvent) -> dict:
    return {column: getattr(event, column) for column in COLUMNS}


class _Echo:
    def write(self, value: str) -> str:
        return value


def _json_cell(value: object) -> object:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, cls=DjangoJSONEncoder)
    return value


def neutralise(cell: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading apostrophe (so does one that had it already,
    which keeps the escape reversible: the offline verifier drops exactly one leading apostrophe)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def iter_csv(events: QuerySet[AuditEvent]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for event in events.iterator(chunk_size=2000):
        row = event_row(event)
        row["created_at"] = event.created_at.isoformat()
        cells = ["" if row[column] is None else str(_json_cell(row[column])) for column in COLUMNS]
        yield writer.writerow([neutralise(cell) for cell in cells])


def iter_json(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """A JSON array, one event per line."""
    yield "[\n"
    first = True
    for event in events.iterator(chunk_size=2000):
        row = event_row(event)
        # Full precision, exactly as hashed (DjangoJSONEncoder would cut microseconds and break offline checks).
        row["created_at"] = event.created_at.isoformat()
        yield ("" if first else ",\n") + json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False)
        first = False
    yield "\n]\n"


def export_response(events: QuerySet[AuditEvent], fmt: str) -> StreamingHttpResponse:
    """A download of `events` (already filtered) in `fmt` ("csv" or "json"), oldest first."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    events = events.order_by("id")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    if fmt == "csv":
        response = StreamingHttpResponse(iter_csv(events), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(iter_json(events), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="amend-audit-{stamp}.{fmt}"'
    return response
