"""A full check whose worker stopped (its task lost) never blocks its line: with no progress for
AMEND_CHECK_STALL_SECONDS it is failed with the reason and audited, by beat's sweep and at once when a new
check of its line is asked; a check that is making progress is left alone. No worker needed: the stalled
check is one whose worker never reports again, its times set back as the clock would have moved them."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.outbox import tasks
from apps.outbox.models import OutboxMessage, OutboxState
from apps.releases import actions
from apps.releases.models import CheckState, FactCheck
from mlops.tracking import TrackedVersion
from workers import batching

STALL = 1800


@pytest.fixture(autouse=True)
def _stall_bound(settings) -> None:
    settings.AMEND_CHECK_STALL_SECONDS = STALL


@pytest.fixture
def production(model_line):
    return actions.ensure_base_version(model_line, "0" * 64, TrackedVersion(), 0)


def ask(client, line):
    return client.post("/api/checks/", {"model_line": line.name}, format="json")


def age(check: FactCheck, *, asked: float, progress: float | None = None, checked: int = 0, total: int = 0) -> None:
    """The check was asked `asked` seconds ago and last reported progress `progress` seconds ago (None: never)."""
    now = timezone.now()
    FactCheck.objects.filter(pk=check.pk).update(
        created_at=now - timedelta(seconds=asked),
        progress_at=None if progress is None else now - timedelta(seconds=progress),
        facts_checked=checked,
        facts_total=total,
    )


def failed_events(check: FactCheck) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="check.failed", object_type="factcheck", object_id=str(check.pk)))


def test_the_sweep_is_a_beat_task_of_the_one_task_table():
    assert tasks.SWEEP_STALLED_CHECKS in tasks.TASKS
    assert tasks.ROUTES[tasks.SWEEP_STALLED_CHECKS.name] == {"queue": tasks.DEFAULT}
    [entry] = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == tasks.SWEEP_STALLED_CHECKS.name]
    assert entry["schedule"] <= 60
    assert batching.sweep_stalled_checks.name == tasks.SWEEP_STALLED_CHECKS.name


def test_a_stuck_check_is_swept_by_beat_and_a_new_one_can_be_asked(
    model_line, production, auditor, operator, api_client_for
):
    stuck = actions.request_full_check(auditor, model_line)
    actions.report_check_progress(stuck.pk, 3, 10)  # then its worker died and the broker lost its task
    age(stuck, asked=STALL + 600, progress=STALL + 60, checked=3, total=10)

    assert batching.sweep_stalled_checks() == [stuck.pk]
    stuck.refresh_from_db()
    assert stuck.state == CheckState.FAILED and stuck.finished_at is not None
    assert stuck.error.startswith("no progress since ")
    assert stuck.error.endswith(" UTC (3 of 10 facts asked); the worker may have stopped")
    assert OutboxMessage.objects.get(subject=f"check:{stuck.pk}").state == OutboxState.CANCELLED
    [event] = failed_events(stuck)
    assert event.actor_id is None and event.model_line_id == model_line.pk
    assert event.after["stalled"] is True and event.after["by"] == "sweeper"
    assert event.after["error"] == stuck.error and event.after["stall_seconds"] == STALL
    assert batching.sweep_stalled_checks() == [], "swept once"
    assert len(failed_events(stuck)) == 1

    again = ask(api_client_for(operator), model_line)
    assert again.status_code == 202, again.content
    assert again.json()["state"] == "running" and again.json()["id"] != stuck.pk
    # A worker that comes back to the swept check changes nothing of it.
    actions.report_check_progress(stuck.pk, 10, 10)
    assert actions.finish_full_check(stuck, []).state == CheckState.FAILED
    assert FactCheck.objects.get(pk=stuck.pk).facts_checked == 3


def test_asking_again_fails_a_stuck_check_at_once_without_waiting_for_beat(
    model_line, production, auditor, operator, api_client_for
):
    stuck = actions.request_full_check(auditor, model_line)
    age(stuck, asked=STALL + 5)  # no worker ever started it

    asked = ask(api_client_for(operator), model_line)
    assert asked.status_code == 202, asked.content
    stuck.refresh_from_db()
    assert stuck.state == CheckState.FAILED
    assert stuck.error.endswith(" UTC (no worker started it); the worker may have stopped")
    [event] = failed_events(stuck)
    assert event.after["by"] == "new request" and event.actor_id is None
    new = FactCheck.objects.get(pk=asked.json()["id"])
    [requested] = AuditEvent.objects.filter(action="check.requested", object_id=str(new.pk))
    assert event.pk < requested.pk and requested.actor_id == operator.pk
    assert api_client_for(auditor).get(f"/api/checks/{stuck.pk}/").json()["error"] == stuck.error


@pytest.mark.parametrize(
    "asked, progress",
    [
        (STALL + 600, 60),  # asked long ago, its worker reported a minute ago
        (60, None),  # asked a minute ago, no worker has started it yet
        (STALL + 600, STALL - 60),  # quiet, but not yet for the bound
    ],
)
def test_a_check_with_recent_progress_is_not_swept(
    model_line, production, auditor, operator, api_client_for, asked, progress
):
    running = actions.request_full_check(auditor, model_line)
    age(running, asked=asked, progress=progress, checked=2, total=10)

    assert batching.sweep_stalled_checks() == []
    refused = ask(api_client_for(operator), model_line)
    assert refused.status_code == 409
    assert refused.json()["detail"] == f"full check #{running.pk} of {model_line.name} is running; wait for its report"
    running.refresh_from_db()
    assert running.state == CheckState.RUNNING and running.error == ""
    assert failed_events(running) == []
    assert OutboxMessage.objects.get(subject=f"check:{running.pk}").state == OutboxState.PENDING
