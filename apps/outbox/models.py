"""A task to send, written in the transaction of the decision that calls for it.

The row exists exactly when the decision committed, so a broker that is down loses nothing: the
dispatcher sends pending rows until the broker takes them. Sending is at least once (a dispatcher
that dies between the broker's acceptance and its own commit sends again); every task is idempotent
on its own (it checks the state of its batch, probe or version first), and the message's task id is
the row's, so a duplicate is recognisable in the worker's log.
"""

import uuid

from django.db import models


class OutboxState(models.TextChoices):
    PENDING = "pending"  # not yet accepted by the broker
    SENT = "sent"  # the broker took it
    CANCELLED = "cancelled"  # an operator (or a newer message for the same thing) made it moot


class OutboxMessage(models.Model):
    task_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    task = models.CharField(max_length=128)
    args = models.JSONField(default=list)
    queue = models.CharField(max_length=32)
    # What the task is about, for the pages and the sweeper: "batch:12", "probe:3", "version:7", "line:2".
    subject = models.CharField(max_length=64, blank=True, db_index=True)
    state = models.CharField(max_length=16, choices=OutboxState.choices, default=OutboxState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "id"])]

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)} [{self.state}]"
