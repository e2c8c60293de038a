"""A registered version takes `params` (issue 17): its pyfunc model declares max_new_tokens in a signature,
with an input example, so `predict(prompts, params={"max_new_tokens": N})` through the production alias
answers with at most N tokens instead of MLflow ignoring the params.

The version here is the bundled base model itself (no delta): what is tested is the MLflow contract."""

import logging

import pytest
from django.conf import settings

from mlops.serving import save_version_model

MODULE = "model.layers.29.mlp.down_proj"


@pytest.fixture
def registered(tmp_path, monkeypatch) -> str:
    mlflow = pytest.importorskip("mlflow")
    from editor import Snapshot, load_model, write_version_weights

    base = settings.AMEND_BASE_MODEL_DIR
    if not (base / "config.json").exists():
        pytest.skip(f"the bundled model is not prepared at {base} (make base-model)")
    loaded = load_model(str(base), device="cpu", dtype="fp32")
    manifest = {
        "base_model": str(base),
        "modules": [MODULE],
        "dtype": "float32",
        "snapshot": None,
        "deltas": [],
        "content_hash": write_version_weights(loaded, Snapshot.capture(loaded, [MODULE]), []),
        "label": "demo v0",
    }
    save_version_model(tmp_path / "model", manifest)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = mlflow.MlflowClient()
    run = client.create_run(client.create_experiment("serving", artifact_location=str(tmp_path / "artifacts")))
    client.log_artifacts(run.info.run_id, str(tmp_path / "model"), "model")
    client.create_registered_model("amend-demo")
    version = client.create_model_version("amend-demo", f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    client.set_registered_model_alias("amend-demo", "production", version.version)
    return "models:/amend-demo@production"


def test_predict_takes_max_new_tokens_through_the_production_alias(registered, caplog):
    import mlflow

    served = mlflow.pyfunc.load_model(registered)
    assert served.metadata.get_params_schema().to_dict() == [
        {"name": "max_new_tokens", "type": "long", "default": 16, "shape": None}
    ]
    assert served.input_example is not None

    with caplog.at_level(logging.WARNING):
        short = served.predict(["The capital of France is"], params={"max_new_tokens": 1})
        longer = served.predict(["The capital of France is"], params={"max_new_tokens": 8})
    assert "Ignoring provided params" not in caplog.text
    assert len(short) == 1 and short[0].strip() and longer[0].startswith(short[0])
    assert len(longer[0]) > len(short[0])
