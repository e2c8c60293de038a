"""The chain's arithmetic, with no Django import: the server and the offline verifier share it.

An event's hash is sha256(prev_hash + canonical JSON of its content). `canonical` takes the
event's fields as plain values (the export's row, or a model instance's attributes), so an
export checked on an auditor's laptop gives exactly the hashes the database holds.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "created_at",
    "actor_id",
    "actor_name",
    "action",
    "object_type",
    "object_id",
    "model_line_id",
    "fact_id",
    "before",
    "after",
    "request_id",
)


def canonical(fields: Mapping[str, Any]) -> str:
    """The content an event's hash covers, as canonical JSON (created_at as an ISO string)."""
    content = {name: fields.get(name) for name in HASHED_FIELDS}
    content["object_id"] = str(content["object_id"])
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def first_break(rows: Iterable[Mapping[str, Any]]) -> tuple[int, Mapping[str, Any] | None, str]:
    """Walk rows (id order, from the first event). Returns (rows verified, first broken row or None, why)."""
    expected_prev = GENESIS_HASH
    checked = 0
    for row in rows:
        if row["prev_hash"] != expected_prev:
            return (
                checked,
                row,
                "its prev_hash does not match the previous event's hash (a row was removed or reordered)",
            )
        if event_hash(row["prev_hash"], row) != row["hash"]:
            return checked, row, "its content does not match its hash (the row was altered)"
        expected_prev = row["hash"]
        checked += 1
    return checked, None, ""
