"""Links from Amend to the MLflow UI (settings.MLFLOW_UI_URL), shown only while that UI answers."""

import urllib.error
import urllib.request
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache

from apps.releases.models import ModelVersion

# A page asks at most this often; a UI that comes up shows its links within this many seconds.
UI_CHECK_SECONDS = 30
UI_CHECK_TIMEOUT = 0.5


def mlflow_version_url(version: ModelVersion) -> str:
    """The registered model version's page in the MLflow UI (it links on to the run)."""
    if not version.mlflow_model_name or not version.mlflow_model_version:
        return ""
    base = settings.MLFLOW_UI_URL.rstrip("/")
    return f"{base}/#/models/{quote(version.mlflow_model_name)}/versions/{quote(version.mlflow_model_version)}"


def mlflow_ui_answers() -> bool:
    """Whether the MLflow UI answers at settings.MLFLOW_UI_URL: a link to a UI that is not running
    would go nowhere. Remembered for UI_CHECK_SECONDS so pages do not wait on it each time."""
    key = f"mlflow-ui-answers:{settings.MLFLOW_UI_URL}"
    known = cache.get(key)
    if known is not None:
        return known
    try:
        with urllib.request.urlopen(settings.MLFLOW_UI_URL, timeout=UI_CHECK_TIMEOUT) as response:
            answers = response.status < 500
    except (urllib.error.URLError, OSError, ValueError):
        answers = False
    cache.set(key, answers, UI_CHECK_SECONDS)
    return answers


def mlflow_page_url(version: ModelVersion) -> str:
    """The link a page shows: the version's MLflow page when the UI answers, else nothing."""
    url = mlflow_version_url(version)
    return url if url and mlflow_ui_answers() else ""


def mlflow_run_page_url(version: ModelVersion) -> str:
    """The version's MLflow run (its params, metrics and per-fact report) when the UI answers, else nothing."""
    if not version.mlflow_run_id or not mlflow_ui_answers():
        return ""
    return f"{settings.MLFLOW_UI_URL.rstrip('/')}/#/runs/{quote(version.mlflow_run_id)}"
