"""Audit fixtures: a signing key from the environment, a checkpoint directory and a real MLflow store."""

from pathlib import Path

import pytest

from apps.audit.signing import generate_private_pem, load_private_key, public_pem


@pytest.fixture
def signing_key(settings, tmp_path: Path, mlflow_store) -> dict:
    """A fresh Ed25519 key in settings, checkpoints to tmp_path/checkpoints and to the test's MLflow store."""
    private = generate_private_pem()
    public = public_pem(load_private_key(private))
    settings.AMEND_AUDIT_SIGNING_KEY = private
    settings.AMEND_AUDIT_PUBLIC_KEY = ""
    settings.AMEND_AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.AMEND_AUDIT_CHECKPOINT_MLFLOW = True
    (tmp_path / "audit-public.pem").write_text(public)
    return {"private": private, "public": public, "public_file": tmp_path / "audit-public.pem",
            "directory": tmp_path / "checkpoints", "mlflow": mlflow_store}
