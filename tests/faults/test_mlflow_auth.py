"""Issue 16: MLflow as docker/ runs it answers nobody without a password. A real `mlflow server --app-name
basic-auth` with docker/mlflow-auth.ini: anonymous requests are refused, and the app, signed in as the admin
through MLflow's own client settings (MLFLOW_TRACKING_USERNAME / _PASSWORD), records as before."""

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mlops import tracking
from tests.faults.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-mlflow-admin-password"


@pytest.fixture
def mlflow_with_auth(tmp_path, monkeypatch, settings):
    port = free_port()
    config = tmp_path / "auth.ini"
    config.write_text((ROOT / "docker" / "mlflow-auth.ini").read_text().replace(
        "sqlite:////mlflow/auth/basic_auth.db", f"sqlite:///{tmp_path / 'auth.db'}"))
    env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": str(config), "MLFLOW_AUTH_ADMIN_USERNAME": "amend",
           "MLFLOW_AUTH_ADMIN_PASSWORD": PASSWORD, "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret"}
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth", "--host", "127.0.0.1", "--port",
         str(port), "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--artifacts-destination",
         str(tmp_path / "artifacts"), "--workers", "1"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "mlflow.log").open("w"),
        start_new_session=True,  # its own process group: the server's uvicorn and job runners go with it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_answering(url, server, tmp_path / "mlflow.log")
        settings.MLFLOW_TRACKING_URI = url
        yield url
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # not server.kill(): that would orphan the server's children
        server.wait(timeout=10)


def _wait_answering(url: str, server: subprocess.Popen, log: Path) -> None:
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # answering (even if it wants a password)
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"MLflow did not answer at {url}")


def _anonymous(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/api/2.0/mlflow/experiments/search?max_results=1", timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_mlflow_refuses_anyone_without_the_password_and_the_app_signs_in(mlflow_with_auth, monkeypatch):
    assert _anonymous(mlflow_with_auth) == 401
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "amend")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    with pytest.raises(Exception, match=r"401|Unauthorized|credentials"):
        tracking.client().create_experiment("refused")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    experiment = tracking.client().create_experiment("amend/auth-check")
    assert tracking.client().get_experiment(experiment).name == "amend/auth-check"
