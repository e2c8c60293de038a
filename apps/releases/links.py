"""Links from Amend to the MLflow UI (settings.MLFLOW_UI_URL)."""

from urllib.parse import quote

from django.conf import settings

from apps.releases.models import ModelVersion


def mlflow_version_url(version: ModelVersion) -> str:
    """The registered model version's page in the MLflow UI (it links on to the run)."""
    if not version.mlflow_model_name or not version.mlflow_model_version:
        return ""
    base = settings.MLFLOW_UI_URL.rstrip("/")
    return f"{base}/#/models/{quote(version.mlflow_model_name)}/versions/{quote(version.mlflow_model_version)}"
