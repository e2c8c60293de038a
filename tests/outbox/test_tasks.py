"""The one table of tasks (apps.outbox.tasks) and the Celery app agree: every name in it is a task the
workers define, every task of Amend the workers define is in it, and each goes to the table's queue."""

from amend.celery import app
from apps.outbox import tasks


def amend_tasks() -> dict[str, object]:
    app.loader.import_default_modules()  # the workers' modules (amend.celery's autodiscovery)
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_task_of_the_table_is_a_registered_task_and_every_registered_task_is_in_the_table():
    assert set(amend_tasks()) == {task.name for task in tasks.TASKS}


def test_each_task_goes_to_its_queue_and_names_are_unique():
    assert len({task.name for task in tasks.TASKS}) == len(tasks.TASKS)
    routes = app.conf.task_routes
    for task in tasks.TASKS:
        assert routes[task.name] == {"queue": task.queue}, task.name


def test_beat_schedules_tasks_of_the_table():
    assert {entry["task"] for entry in app.conf.beat_schedule.values()} <= {task.name for task in tasks.TASKS}
