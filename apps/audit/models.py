"""The audit trail: append-only, hash-chained events.

Each event's hash covers the previous event's hash and the event's canonical JSON, so
removing, reordering or editing any row breaks the chain from that row on, and
`manage.py verify_audit` names the first broken link. PostgreSQL refuses UPDATE and
DELETE on the table with a trigger (see the migration); the model refuses them too.
"""

from django.conf import settings
from django.db import models

from apps.audit.chain import GENESIS_HASH, HASHED_FIELDS, canonical, event_hash

__all__ = ["GENESIS_HASH", "AppendOnlyError", "AuditEvent"]


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("audit events are append-only")

    def delete(self):
        raise AppendOnlyError("audit events are append-only")


class AuditEvent(models.Model):
    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    # The actor's username at the time, or "automation" for workers and the scheduler.
    actor_name = models.CharField(max_length=150, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    model_line_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    fact_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # HMAC of prev_hash and hash under AMEND_AUDIT_HMAC_KEY (apps.audit.chain.event_tag); "" on events written
    # before the key was configured. The database default lets a raw INSERT omit it: it then fails verification.
    tag = models.CharField(max_length=64, blank=True, default="", db_default="")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.actor_name} {self.action} {self.object_type}:{self.object_id}"

    def canonical(self) -> str:
        """The event's content as canonical JSON: what its hash covers (with prev_hash)."""
        return canonical(self.hash_fields())

    def hash_fields(self) -> dict:
        fields = {name: getattr(self, name) for name in HASHED_FIELDS}
        fields["created_at"] = self.created_at.isoformat()
        return fields

    def compute_hash(self) -> str:
        return event_hash(self.prev_hash, self.hash_fields())

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnlyError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit events are append-only")
