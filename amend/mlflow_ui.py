"""`make mlflow`: the MLflow UI on the same store the workers write to (settings.MLFLOW_TRACKING_URI).

With a local store (the default, SQLite under var/mlflow) this starts `mlflow ui` on the address of
settings.MLFLOW_UI_URL, so the links on Amend's version pages open it. With a tracking server
there is nothing to start: the server has its own UI.
"""

import os
import signal
import subprocess
import sys
from urllib.parse import urlparse


def main() -> int:
    os.environ.setdefault("AMEND_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amend.settings")
    import django

    django.setup()
    from django.conf import settings

    uri = settings.MLFLOW_TRACKING_URI
    if uri.startswith(("http://", "https://")):
        print(f"MLflow is a tracking server here: open {uri} (or {settings.MLFLOW_UI_URL}).")
        return 0
    if uri.startswith("sqlite:///"):
        from pathlib import Path

        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    address = urlparse(settings.MLFLOW_UI_URL)
    host, port = address.hostname or "127.0.0.1", str(address.port or 5000)
    print(f"MLflow UI on {settings.MLFLOW_UI_URL} for {uri} (Ctrl-C to stop)", flush=True)
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", port]
    command += ["--default-artifact-root", settings.MLFLOW_ARTIFACT_ROOT]
    # MLflow's own job runner (GenAI scoring, a process per core) is not needed to browse runs.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen(command, env=env)
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        return server.wait()


if __name__ == "__main__":
    sys.exit(main())
