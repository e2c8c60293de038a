"""The chain's arithmetic, with no Django import: the server and the offline verifier share it.

An event's hash is sha256(prev_hash + canonical JSON of its content). `canonical` takes the
event's fields as plain values (the export's row, or a model instance's attributes), so an
export checked on an auditor's laptop gives exactly the hashes the database holds.

The hash proves order, not authorship: anyone who can INSERT can extend the chain. So each event
also carries a tag, HMAC-SHA256 under a key the database never sees (AMEND_AUDIT_HMAC_KEY, held by
the processes that write events) over the event's predecessor's hash and its own hash. A row
written with a database login alone has no valid tag; a row rewritten by a superuser who recomputed
the later hashes fails its tag at the first event that changed.
"""

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


def event_tag(key: bytes, prev_hash: str, hash_: str) -> str:
    """The event's authentication tag: HMAC-SHA256(key, prev_hash ":" hash)."""
    return hmac.new(key, f"{prev_hash}:{hash_}".encode("ascii"), hashlib.sha256).hexdigest()


@dataclass
class ChainWalk:
    """What a walk of the chain found. `broken` is the first row that fails, or None."""

    checked: int
    broken: Mapping[str, Any] | None
    reason: str
    # Events from the first one on that carry no tag: written before the key was configured (migrated data).
    untagged: int = 0
    # created_at of the first tagged event (the untagged ones are all older), or None when none is tagged.
    tagged_since: str | None = None
    tags_checked: bool = False


def walk(rows: Iterable[Mapping[str, Any]], key: bytes | None = None, *, upto: int | None = None) -> ChainWalk:
    """Walk rows (id order, from the first event; each with prev_hash, hash, tag and the hashed fields).

    With `key`, every tag is checked: an untagged prefix is accepted (events from before the key was
    configured) and reported as such; an untagged event after a tagged one, or a tag that does not verify,
    breaks the chain there. `upto` stops after that event id.
    """
    expected_prev = GENESIS_HASH
    result = ChainWalk(0, None, "", tags_checked=key is not None)
    for row in rows:
        if upto is not None and row["id"] > upto:
            break
        reason = _row_problem(row, expected_prev, key, result)
        if reason:
            result.broken, result.reason = row, reason
            return result
        expected_prev = row["hash"]
        result.checked += 1
    return result


def _row_problem(row: Mapping[str, Any], expected_prev: str, key: bytes | None, seen: ChainWalk) -> str:
    if row["prev_hash"] != expected_prev:
        return "its prev_hash does not match the previous event's hash (a row was removed or reordered)"
    if event_hash(row["prev_hash"], row) != row["hash"]:
        return "its content does not match its hash (the row was altered)"
    if key is None:
        return ""
    tag = row.get("tag") or ""
    if not tag:
        if seen.tagged_since is not None:
            return ("it carries no tag though earlier events do: it was written without the audit key "
                    "(a forged insert)")
        seen.untagged += 1
        return ""
    if not hmac.compare_digest(tag, event_tag(key, row["prev_hash"], row["hash"])):
        return ("its tag does not verify with the audit key: it was written or rewritten by someone without "
                "the key (forged, or altered and its hashes recomputed)")
    if seen.tagged_since is None:
        seen.tagged_since = str(row["created_at"])
    return ""


def first_break(rows: Iterable[Mapping[str, Any]]) -> tuple[int, Mapping[str, Any] | None, str]:
    """Walk rows without checking tags. Returns (rows verified, first broken row or None, why)."""
    result = walk(rows)
    return result.checked, result.broken, result.reason
