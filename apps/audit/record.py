"""The one way to write an audit event. Call it inside the transaction of the change it records."""

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from apps.audit import witness
from apps.audit.chain import HASHED_FIELDS, ChainWalk, event_tag, walk
from apps.audit.middleware import current_request_id
from apps.audit.models import GENESIS_HASH, AuditEvent

AUTOMATION = "automation"
# Any constant: the key of the PostgreSQL advisory lock that serialises the chain's tail.
_CHAIN_LOCK_KEY = 7_201_446_011
_TAIL_SQL = f"SELECT hash FROM {AuditEvent._meta.db_table} ORDER BY id DESC LIMIT 1"


def _stored_number(text: str) -> int | float:
    """A JSON float as PostgreSQL's jsonb gives it back: it keeps numbers as `numeric`, so a float written
    with an exponent whose value is whole returns as that integer ("1e+38" -> 10**38)."""
    if "e" in text.lower():
        exact = Decimal(text)
        if exact == exact.to_integral_value():
            return int(exact)
    return float(text)


def _plain(value: Any) -> Any:
    """JSON-safe copy of value, exactly as the JSONField will give it back (so hashes verify)."""
    return None if value is None else json.loads(json.dumps(value, cls=DjangoJSONEncoder), parse_float=_stored_number)


def _chain_tail() -> str:
    """Lock the chain's tail until the transaction ends and return its hash."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit events must be written inside the transaction of the change they record")
    with connection.cursor() as cursor:
        # Plain SQL: this runs on every write, and the ORM would rebuild the same statement each time.
        if connection.vendor == "postgresql":
            # Lock, then read the tail, in one round trip (migrations/audit/0003_chain_tail_function.py).
            cursor.execute("SELECT audit_lock_chain_tail(%s)", [_CHAIN_LOCK_KEY])
        else:
            cursor.execute(_TAIL_SQL)
        row = cursor.fetchone()
    return (row[0] if row else None) or GENESIS_HASH


def _chained_event(
    user: AbstractBaseUser | None,
    action: str,
    obj: Any,
    prev_hash: str,
    *,
    before: dict | None = None,
    after: dict | None = None,
    model_line_id: int | None = None,
    fact_id: int | None = None,
) -> AuditEvent:
    event = AuditEvent(
        created_at=timezone.now(),
        actor=user,
        actor_name=user.get_username() if user else AUTOMATION,
        action=action,
        object_type=type(obj).__name__.lower() if not isinstance(obj, str) else obj.split(":", 1)[0],
        object_id=str(getattr(obj, "pk", None) or (obj.split(":", 1)[1] if isinstance(obj, str) else "")),
        model_line_id=model_line_id,
        fact_id=fact_id,
        before=_plain(before),
        after=_plain(after),
        request_id=current_request_id.get(),
        prev_hash=prev_hash,
    )
    event.hash = event.compute_hash()
    key = audit_key()
    event.tag = event_tag(key, prev_hash, event.hash) if key else ""
    return event


def audit_key() -> bytes | None:
    """The key that tags events (AMEND_AUDIT_HMAC_KEY): in the writing processes' environment, never the database."""
    return settings.AMEND_AUDIT_HMAC_KEY.encode() or None


def _witness_on_commit(event: AuditEvent) -> None:
    """Once the transaction commits, name its newest event in the witness file (apps.audit.witness)."""
    path = settings.AMEND_AUDIT_WITNESS_FILE
    if path:
        append = partial(witness.append, path, event.pk, event.hash, event.created_at.isoformat())
        transaction.on_commit(append, robust=True)


def _person(actor: AbstractBaseUser | AnonymousUser | None) -> AbstractBaseUser | None:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def record_event(
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    obj: Any,
    *,
    before: dict | None = None,
    after: dict | None = None,
    model_line_id: int | None = None,
    fact_id: int | None = None,
) -> AuditEvent:
    """Append one event to the chain. `actor` None means automation (workers, the scheduler)."""
    event = _chained_event(
        _person(actor),
        action,
        obj,
        _chain_tail(),
        before=before,
        after=after,
        model_line_id=model_line_id,
        fact_id=fact_id,
    )
    event.save()
    _witness_on_commit(event)
    return event


def record_events(actor: AbstractBaseUser | AnonymousUser | None, entries: Iterable[dict]) -> int:
    """Append many events by one actor in one insert per thousand (a 20,000-row change set's decision).

    Each entry holds record_event's arguments (action, obj, before, after, model_line_id, fact_id); the
    chain is locked once and linked in order, so it verifies exactly as if they were written one by one.
    """
    user = _person(actor)
    prev_hash = _chain_tail()
    events = []
    for entry in entries:
        event = _chained_event(user, prev_hash=prev_hash, **entry)
        events.append(event)
        prev_hash = event.hash
    AuditEvent.objects.bulk_create(events, batch_size=1000)
    if events:
        _witness_on_commit(events[-1])  # the chain vouches for the ones before it
    return len(events)


_ROW_FIELDS = ("id", "prev_hash", "hash", "tag", *HASHED_FIELDS)


def _event_rows(upto: int | None) -> Iterator[dict]:
    events = AuditEvent.objects.order_by("id")
    if upto is not None:
        events = events.filter(pk__lte=upto)
    for row in events.values(*_ROW_FIELDS).iterator(chunk_size=2000):
        row["created_at"] = row["created_at"].isoformat()
        yield row


def walk_chain(upto: int | None = None) -> ChainWalk:
    """Walk the chain in order (up to event `upto`), checking hashes and tags; `broken` is an AuditEvent."""
    result = walk(_event_rows(upto), audit_key())
    if result.broken is not None:
        result.broken = AuditEvent.objects.get(pk=result.broken["id"])
    return result


def verify_chain() -> tuple[int, AuditEvent | None, str]:
    """Walk the chain in order. Returns (events checked, first broken event or None, why)."""
    result = walk_chain()
    return result.checked, result.broken, result.reason
