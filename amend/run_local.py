"""`make run`: the whole platform on one machine with no server to install.

Migrates the database (SQLite under var/ unless DATABASE_URL says otherwise), collects static
files, seeds one demo user per role and a demo model line, then starts the web app on
http://127.0.0.1:8000, a Celery worker for both queues (gpu and default) and the beat scheduler.
Ctrl-C (or SIGTERM) stops all three cleanly. The broker is kombu's filesystem transport under
var/broker. AMEND_PORT changes the port (default 8000); AMEND_NO_WORKER=1 runs the web app alone.
With a local MLflow store it also starts the MLflow UI (amend.mlflow_ui, as `make mlflow` does), so
the version pages' MLflow links open; AMEND_NO_MLFLOW_UI=1 leaves it out.

The first run makes a local audit key pair under var/audit-keys/ and writes var/.env (debug mode and the
pair's paths), which amend/settings.py reads: checkpoints are signed, and `manage.py verify_audit` or the
README's offline recipe work from a plain shell as they do here.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = os.environ.get("AMEND_HOST", "127.0.0.1")
PORT = os.environ.get("AMEND_PORT", "8000")
STOP_GRACE_SECONDS = 20


def run(*args: str) -> None:
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True)


def start(name: str, *args: str) -> tuple[str, subprocess.Popen]:
    # Own process group: Ctrl-C reaches us once, and we stop the children in order.
    process = subprocess.Popen([sys.executable, *args], cwd=ROOT, start_new_session=True)
    return name, process


def local_env(env_file: Path, key_dir: Path) -> None:
    """Write var/.env once, with a local audit key pair unless the environment names one."""
    from apps.audit.management.commands.checkpoint_audit import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, write_key_pair

    if env_file.exists():
        print(f"Local settings: {env_file}")
        return
    lines = [
        "# Written by `make run` for local use only; amend/settings.py reads it, the environment wins.",
        "AMEND_DEBUG=1",
    ]
    if not os.environ.get("AMEND_AUDIT_SIGNING_KEY") and not os.environ.get("AMEND_AUDIT_SIGNING_KEY_FILE"):
        private, public = key_dir / PRIVATE_KEY_FILE, key_dir / PUBLIC_KEY_FILE
        if not (private.exists() and public.exists()):
            write_key_pair(key_dir)
        lines += [f"AMEND_AUDIT_SIGNING_KEY_FILE={private}", f"AMEND_AUDIT_PUBLIC_KEY_FILE={public}"]
        print(f"Audit checkpoint keys (local, git-ignored): {private} (signs), {public} (verifies)")
    env_file.write_text("\n".join(lines) + "\n")
    print(f"Local settings written to {env_file}: manage.py commands from a plain shell use them.")


def main() -> int:
    os.environ.setdefault("AMEND_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amend.settings")
    # Web, worker and beat share this machine's cores: torch's spinning thread pools would fight
    # the other processes (about 20x slower edits on two cores). Set OMP_NUM_THREADS to override.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import django

    django.setup()
    from django.conf import settings

    (settings.VAR_DIR / "mlflow").mkdir(parents=True, exist_ok=True)  # the broker's folders: amend/settings.py
    # The children (web, worker, beat, the manage.py steps) read it when their settings load.
    local_env(settings.LOCAL_ENV_FILE, settings.VAR_DIR / "audit-keys")
    with_worker = os.environ.get("AMEND_NO_WORKER") != "1"
    if with_worker and not (settings.AMEND_BASE_MODEL_DIR / "config.json").exists():
        print(f"The bundled model is missing at {settings.AMEND_BASE_MODEL_DIR}: run `make base-model`.")
        return 2
    run("manage.py", "migrate", "--noinput", "-v", "0")
    run("manage.py", "collectstatic", "--noinput", "-v", "0")
    run("manage.py", "seed_demo")

    web = ["-m", "gunicorn", "amend.wsgi", "-b", f"{HOST}:{PORT}", "-w", "2", "--access-logfile", "-"]
    celery = ["-m", "celery", "-A", "amend"]
    children = [start("web", *web)]
    # A tracking server has its own UI; a local store needs one started, or the links go nowhere.
    local_store = not settings.MLFLOW_TRACKING_URI.startswith(("http://", "https://"))
    if local_store and os.environ.get("AMEND_NO_MLFLOW_UI") != "1":
        children.append(start("mlflow-ui", "-m", "amend.mlflow_ui"))
    if with_worker:
        queues = ["-Q", "gpu,default", "--pool=solo", "--prefetch-multiplier=1", "-n", "local@%h", "-l", "info"]
        children.append(start("worker", *celery, "worker", *queues))
        children.append(start("beat", *celery, "beat", "-l", "info", "-s", str(settings.VAR_DIR / "beat-schedule")))
    print(
        f"\nAmend is running: http://{HOST}:{PORT}/  (sign in with a demo user above; API docs: /api/docs/)\n"
        f"MLflow store: {settings.MLFLOW_TRACKING_URI}; its UI: {settings.MLFLOW_UI_URL}\n"
        "Press Ctrl-C to stop the web app, the worker and the scheduler.\n",
        flush=True,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in list(children):
            if process.poll() is None:
                continue
            if name == "mlflow-ui":  # e.g. its port is taken: Amend works on, its pages then show no links
                print(f"The MLflow UI exited (status {process.returncode}); version pages show no MLflow links.")
                children.remove((name, process))
                continue
            print(f"{name} exited with status {process.returncode}; stopping the others.", flush=True)
            stopping, exit_code = True, 1
        time.sleep(0.5)

    # The worker acknowledges late: a batch it was applying goes back to the queue, nothing is lost.
    for _, process in children:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for name, process in children:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in {STOP_GRACE_SECONDS}s; killing it.", flush=True)
            process.kill()
            process.wait()
    print("Stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
