"""Reads of the outbox, for the pages, the API and the sweeper."""

from apps.outbox.models import OutboxMessage, OutboxState

# What a user is told when a decision committed but its task could not be handed to the broker yet.
BROKER_UNREACHABLE = "queued, the broker is unreachable: it is sent as soon as the broker answers"


def latest(subject: str, task: str | None = None) -> OutboxMessage | None:
    """The newest message about `subject` (of `task`, if given)."""
    messages = OutboxMessage.objects.filter(subject=subject)
    if task:
        messages = messages.filter(task=task)
    return messages.order_by("-id").first()


def waiting_for_broker(subject: str) -> OutboxMessage | None:
    """The oldest message about `subject` the broker has not taken yet, or None."""
    return OutboxMessage.objects.filter(subject=subject, state=OutboxState.PENDING).order_by("id").first()


def dispatch_status(subject: str) -> dict | None:
    """What an operator sees of a task's way to the workers: None when nothing was ever sent about it."""
    messages = list(OutboxMessage.objects.filter(subject=subject).exclude(state=OutboxState.CANCELLED).order_by("id"))
    if not messages:
        return None
    waiting = next((m for m in messages if m.state == OutboxState.PENDING), None)
    shown = waiting or messages[-1]
    return {
        "waiting_for_broker": waiting is not None,
        "note": BROKER_UNREACHABLE if waiting is not None and waiting.last_error else "",
        "since": shown.created_at,
        "attempts": shown.attempts,
        "last_error": shown.last_error,
        "sent_at": messages[-1].sent_at,
        "sends": len(messages),
    }
