"""The broker and Celery: Redis or RabbitMQ in production; a filesystem broker and a SQLite result store under
var/ when nothing is configured, so `make run` needs no server. How a lost task comes back (visibility timeout,
redelivery scan) is set here too; the periodic tasks are in beat.py."""

import os
from pathlib import Path

from amend.settings.environment import VAR_DIR
from apps.outbox import tasks

BROKER_DIR = Path(os.environ.get("AMEND_BROKER_DIR", VAR_DIR / "broker"))
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")


def filesystem_broker_options(folder: Path) -> dict[str, object]:
    """kombu's filesystem transport in `folder` (its sub-folders made here: the transport does not)."""
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }


# A batch whose worker died is redone within AMEND_VISIBILITY_TIMEOUT + AMEND_REDELIVERY_SCAN_SECONDS (default
# 5.5 min). A batch running longer is handed out again meanwhile: that copy finds the lineage held by the running
# worker and waits its turn without counting a delivery (workers/gpu.py), so long batches are safe (README).
AMEND_VISIBILITY_TIMEOUT = int(os.environ.get("AMEND_VISIBILITY_TIMEOUT", "300"))
# How soon such a copy looks again (keep it well below the visibility timeout).
AMEND_BUSY_LINEAGE_RECHECK_SECONDS = float(os.environ.get("AMEND_BUSY_LINEAGE_RECHECK_SECONDS", "30"))
CELERY_BROKER_TRANSPORT_OPTIONS = (
    filesystem_broker_options(BROKER_DIR)
    if CELERY_BROKER_URL.startswith("filesystem")
    else {
        # Redis hands a message whose worker died (acks late) to another worker once it has been out for
        # the visibility timeout, at the next scan of an idle worker: redelivery within
        # AMEND_VISIBILITY_TIMEOUT + AMEND_REDELIVERY_SCAN_SECONDS of the delivery. The timeout must exceed
        # the longest batch, or a running batch is handed out twice (the lineage lock makes that harmless,
        # but it counts a delivery). kombu's default scan (10 s, every 10th tick) adds up to 100 s.
        "visibility_timeout": AMEND_VISIBILITY_TIMEOUT,
        "unacked_restore_interval": float(os.environ.get("AMEND_REDELIVERY_SCAN_SECONDS", "30")),
        "unacked_restore_throttle": 1,
    }
)
# Publishing waits at most this long for the broker (the web request must not hang on it; the outbox keeps
# what was not taken).
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("AMEND_BROKER_CONNECT_TIMEOUT", "3"))
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", f"db+sqlite:///{VAR_DIR / 'celery-results.sqlite3'}")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's consumer, surviving a failed clean-up of a lost Redis connection (the module says why).
CELERY_WORKER_CONSUMER = "amend.worker_consumer:Consumer"
CELERY_TASK_DEFAULT_QUEUE = "default"
# Every task to its queue, from the one table of tasks (apps.outbox.tasks).
CELERY_TASK_ROUTES = tasks.ROUTES
CELERY_TASK_ALWAYS_EAGER = False
# Nothing reads task results (the database holds every outcome): not storing them keeps a Redis outage from
# stalling a worker's finished task, and a publish from waiting on the result backend's retries (~20 s).
CELERY_TASK_IGNORE_RESULT = True
