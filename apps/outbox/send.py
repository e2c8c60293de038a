"""Writing tasks to the outbox, and publishing them to the broker.

`enqueue` is called inside the decision's transaction; once it commits the message is published
at once (best effort: a broker that is down costs the request a few seconds at most, never an
error). `publish_pending` is the dispatcher: beat runs it every AMEND_OUTBOX_POLL_SECONDS through
`workers.batching.dispatch_outbox`, and `manage.py dispatch_outbox` runs it by hand or in a loop.
"""

import logging

from celery import current_app
from django.db import transaction
from django.utils import timezone

from apps.outbox.models import OutboxMessage, OutboxState
from apps.outbox.tasks import Task

log = logging.getLogger(__name__)


def enqueue(task: Task, *args: object) -> OutboxMessage:
    """Write the task (apps.outbox.tasks) to send in the current transaction; it is published once that commits.

    Its queue and subject ("batch:12", what its first argument names) come from the task table."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("enqueue must run inside the transaction of the decision that sends the task")
    message = OutboxMessage.objects.create(
        task=task.name, args=list(args), queue=task.queue, subject=task.subject_of(args)
    )
    # robust: a broker failure here is logged, never raised into a request whose decision has committed.
    transaction.on_commit(lambda: publish_pending(only=[message.pk]), robust=True)
    return message


def _publish(message: OutboxMessage) -> None:
    # No kombu retry loops (neither connecting nor publishing): the outbox is the retry, and a web request
    # must not wait seconds for a dead broker (measured: ~0.5 s with these, 6-20 s without). ignore_result:
    # otherwise Celery subscribes to the task's result in Redis before publishing, retrying for ~20 s when
    # Redis is down (issue 16: release-now took 19.5 s); nothing reads task results.
    # socket_timeout: a broker that takes the connection and never answers (a half-dead host) must not hold the
    # request either; only this publishing connection gets it (workers' long polls are not bounded by it).
    with current_app.connection_for_write() as conn:
        timeout = current_app.conf.broker_connection_timeout
        conn.transport_options = {**conn.transport_options, "max_retries": 0, "socket_timeout": timeout}
        current_app.send_task(
            message.task,
            args=message.args,
            queue=message.queue,
            task_id=str(message.task_id),
            retry=False,
            ignore_result=True,
            connection=conn,
        )


def publish_pending(*, only: list[int] | None = None, limit: int = 500) -> int:
    """Publish pending messages, oldest first; stop at the first broker failure. Returns how many were sent."""
    pending = OutboxMessage.objects.filter(state=OutboxState.PENDING)
    if only is not None:
        pending = pending.filter(pk__in=only)
    sent = 0
    for pk in list(pending.order_by("id").values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            # skip_locked: the post-commit publish and the dispatcher never send the same row at once.
            message = OutboxMessage.objects.select_for_update(skip_locked=True).filter(
                pk=pk, state=OutboxState.PENDING
            ).first()
            if message is None:
                continue
            message.attempts += 1
            try:
                _publish(message)
            except Exception as exc:  # the broker's client raises many kinds; all mean "not taken"
                message.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                message.save(update_fields=["attempts", "last_error"])
                log.warning("broker did not take %s (attempt %s): %s", message, message.attempts, exc)
                return sent
            message.state, message.sent_at, message.last_error = OutboxState.SENT, timezone.now(), ""
            message.save(update_fields=["attempts", "state", "sent_at", "last_error"])
            sent += 1
    return sent


def cancel_pending(subject: str) -> int:
    """Cancel the messages about `subject` still waiting for the broker (call inside the deciding transaction)."""
    return OutboxMessage.objects.filter(subject=subject, state=OutboxState.PENDING).update(
        state=OutboxState.CANCELLED
    )
