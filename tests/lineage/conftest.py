"""The pipeline tests' fixtures (the bundled real model, a real MLflow store, facts, lines), shared."""

from tests.pipeline.conftest import (  # noqa: F401 - fixtures, registered by being imported here
    _mlflow_template,
    approve_edits,
    base_model,
    edits,
    mlflow_store,
    open_gates,
    pipeline_line,
)
