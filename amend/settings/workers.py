"""How the workers run their tasks (workers/): deliveries and retries, MLflow call attempts, the answers a batch
records, the models and files a worker keeps, and lineage snapshots."""

import os
from pathlib import Path

from amend.settings.environment import VAR_DIR

# A batch redelivered more often than this is a poison pill: it ends `failed` with its reason.
AMEND_MAX_DELIVERIES = int(os.environ.get("AMEND_MAX_DELIVERIES", "3"))
# A task that ends on purpose to retry later (MLflow unreachable) backs off exponentially: base, 2x, 4x, ... cap.
AMEND_RETRY_BASE_SECONDS = float(os.environ.get("AMEND_RETRY_BASE_SECONDS", "5"))
AMEND_RETRY_MAX_SECONDS = float(os.environ.get("AMEND_RETRY_MAX_SECONDS", "300"))
# After this many retries of one batch its facts go back to the queue (the batch ends `failed`).
AMEND_MLFLOW_MAX_RETRIES = int(os.environ.get("AMEND_MLFLOW_MAX_RETRIES", "10"))
# A GPU task that loses its database connection mid-batch (a restart, a failover) is sent again with the backoff
# above, at most this many times; the batch stays pending meanwhile (workers/gpu.py).
AMEND_DB_MAX_RETRIES = int(os.environ.get("AMEND_DB_MAX_RETRIES", "10"))
# Quick tries of each MLflow call inside a task before the task itself retries.
AMEND_MLFLOW_ATTEMPTS = int(os.environ.get("AMEND_MLFLOW_ATTEMPTS", "3"))
AMEND_MLFLOW_BACKOFF_SECONDS = float(os.environ.get("AMEND_MLFLOW_BACKOFF_SECONDS", "0.5"))
# Greedy answers before and after the edit, for the facts' pages (first N facts of a batch).
AMEND_FACT_ANSWERS = int(os.environ.get("AMEND_FACT_ANSWERS", "100"))
# Test-only (the fault tests set it for their workers; never in a deployment): a folder of files named after
# the stages a worker must wait at until the test lets it go (workers/holds.py). Unset: no worker ever waits.
AMEND_HOLD_DIR = os.environ.get("AMEND_HOLD_DIR", "")
# Where a worker keeps deltas and normaliser states it has written or downloaded.
AMEND_WORKER_CACHE_DIR = Path(os.environ.get("AMEND_WORKER_CACHE_DIR", VAR_DIR / "worker-cache"))
# Model lines whose model a worker keeps loaded at once (least recently used out).
AMEND_WORKER_MAX_LINES = int(os.environ.get("AMEND_WORKER_MAX_LINES", "2"))
# Per loaded line, MiB of the lower blocks' output a worker keeps per prompt it asks (editor/trunk_cache.py):
# re-asking the locality probes and earlier facts after each version then runs only the upper blocks (0: off).
AMEND_WORKER_TRUNK_CACHE_MB = int(os.environ.get("AMEND_WORKER_TRUNK_CACHE_MB", "256"))
# A version stores a dense snapshot of its edited modules once the deltas since the nearest snapshot
# hold this many rank-1 terms: a rebuild then adds fewer (workers/lineage.py; figures: bench lineage).
AMEND_SNAPSHOT_RANK = int(os.environ.get("AMEND_SNAPSHOT_RANK", "1024"))
