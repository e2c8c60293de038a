"""The Celery app. Broker and queues come from settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amend.settings")
# MLflow's "Downloading artifacts" bars write to stderr, which a worker logs line by line as WARNINGs.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

app = Celery("amend")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The task modules: workers.batching, workers.imports and workers.probes (queue default), workers.gpu (queue gpu).
app.autodiscover_tasks(["workers.batching", "workers.imports", "workers.probes", "workers.gpu"], related_name=None)
