"""Reading a change set's rows in bulk: validate a chunk of rows, refuse the invalid and the duplicate
ones, insert the rest as submitted facts of the set with one `fact.imported` event each.

Bulk, not row by row: a 20,000-row file costs a few queries per thousand rows instead of three per
row (measured in tests/facts/test_change_set_scale.py). The caller (apps.facts.changesets.actions.importing)
holds the transaction. Conflicts are not refused here: they are what reviewers see and resolve.
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.audit.record import record_events
from apps.facts.changesets.files import describe
from apps.facts.conflicts import normalize_prompt, normalize_target
from apps.facts.models import ChangeSet, FactEdit, FactState
from apps.facts.states import DUPLICATE_STATES
from apps.facts.validation import clean_fact_fields

Row = tuple[int, dict[str, Any] | None, str]


def import_key(model_line_id: int, prompt: str, target: str) -> str:
    """What makes a row the same row on a second import: the line, the prompt key and the target key."""
    key = f"{model_line_id}\0{normalize_prompt(prompt)}\0{normalize_target(target)}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    while chunk := list(islice(rows, size)):
        yield chunk


def refusal(line: int, kind: str, reason: str) -> dict:
    """One refused row of the report: kind "invalid" (bad content) or "duplicate" (already proposed)."""
    return {"line": line, "kind": kind, "reason": reason}


@dataclass
class _Candidate:
    line: int
    fields: dict[str, Any]
    prompt_key: str
    target_key: str
    key: str


def _valid_rows(change_set: ChangeSet, rows: list[Row], refused: list[dict]) -> list[_Candidate]:
    candidates = []
    for line, fields, reason in rows:
        if fields is None:
            refused.append(refusal(line, "invalid", reason))
            continue
        fields.setdefault("rationale", change_set.rationale or f"Bulk import of {change_set.file_name}")
        fields.setdefault("source", change_set.source or f"{change_set.file_name}, line {line}")
        try:
            cleaned = clean_fact_fields(fields)
        except ValidationError as error:
            refused.append(refusal(line, "invalid", describe(error)))
            continue
        prompt, target = cleaned["prompt"], cleaned["target"]
        candidates.append(
            _Candidate(
                line,
                cleaned,
                normalize_prompt(prompt),
                normalize_target(target),
                import_key(change_set.model_line_id, prompt, target),
            )
        )
    return candidates


def _duplicate_reason(
    change_set: ChangeSet, row: _Candidate, seen: dict[str, int], by_key: dict, same: dict
) -> str | None:
    """Why the row repeats something already proposed, or None."""
    if row.key in seen:
        return f"same prompt and target as line {seen[row.key]}"
    earlier = by_key.get(row.key)
    if earlier is not None and earlier["change_set_id"] == change_set.pk:
        return f"same prompt and target as line {earlier['source_line']}"
    if earlier is not None and earlier["state"] in DUPLICATE_STATES:
        return f"already imported as fact #{earlier['pk']} ({earlier['state']})"
    other = same.get((row.prompt_key, row.target_key))
    if other is not None:
        return f"fact #{other['pk']} on this model line already has this prompt and target ({other['state']})"
    return None


def import_rows(change_set: ChangeSet, rows: list[Row]) -> tuple[int, list[dict]]:
    """Insert the chunk's valid, new rows as submitted facts of the set. Returns (created, refused rows)."""
    refused: list[dict] = []
    candidates = _valid_rows(change_set, rows, refused)
    line_facts = FactEdit.objects.filter(model_line_id=change_set.model_line_id)
    by_key = {
        row["import_key"]: row
        for row in line_facts.filter(import_key__in=[c.key for c in candidates]).values(
            "pk", "import_key", "change_set_id", "source_line", "state"
        )
    }
    same: dict[tuple[str, str], dict] = {}
    for row in (
        line_facts.filter(normalized_prompt__in={c.prompt_key for c in candidates}, state__in=DUPLICATE_STATES)
        .values("pk", "normalized_prompt", "normalized_target", "state")
        .order_by("pk")
    ):
        same.setdefault((row["normalized_prompt"], row["normalized_target"]), row)
    now = timezone.now()
    seen: dict[str, int] = {}
    new = []
    for row in candidates:
        reason = _duplicate_reason(change_set, row, seen, by_key, same)
        if reason:
            refused.append(refusal(row.line, "duplicate", reason))
            continue
        seen[row.key] = row.line
        new.append(
            FactEdit(
                model_line_id=change_set.model_line_id,
                submitter_id=change_set.importer_id,
                normalized_prompt=row.prompt_key,
                normalized_target=row.target_key,
                state=FactState.SUBMITTED,
                submitted_at=now,
                # A row whose earlier import ended (rejected, withdrawn) comes back without the key, which
                # that earlier fact still holds; the prompt/target check above keeps it from doubling.
                import_key="" if row.key in by_key else row.key,
                change_set_id=change_set.pk,
                source_line=row.line,
                **row.fields,
            )
        )
    created = FactEdit.objects.bulk_create(new)
    record_events(
        change_set.importer,
        (
            {
                "action": "fact.imported",
                "obj": fact,
                "after": {**fact.audit_snapshot(), "change_set_id": change_set.pk, "line": fact.source_line},
                "model_line_id": fact.model_line_id,
                "fact_id": fact.pk,
            }
            for fact in created
        ),
    )
    return len(created), sorted(refused, key=lambda row: row["line"])
