"""`make run`: the whole platform on one machine with embedded defaults, no server needed.

Migrates (SQLite under var/ unless DATABASE_URL is set), seeds the local demo users and the demo
model line (their passwords are printed), then runs the web app, a Celery worker for both queues
and the scheduler that cuts due batches, until Ctrl-C. AMEND_PORT changes the port (default 8000);
AMEND_NO_WORKER=1 runs the web app alone.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    os.environ.setdefault("AMEND_DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amend.settings")
    python = sys.executable
    manage = [python, str(ROOT / "manage.py")]
    port = os.environ.get("AMEND_PORT", "8000")

    import django

    django.setup()
    from django.conf import settings

    for folder in (settings.VAR_DIR, settings.BROKER_DIR / "queue", settings.BROKER_DIR / "processed"):
        Path(folder).mkdir(parents=True, exist_ok=True)

    subprocess.run([*manage, "migrate", "--no-input"], check=True, cwd=ROOT)
    subprocess.run([*manage, "seed_demo"], check=True, cwd=ROOT)

    commands = [[*manage, "runserver", f"127.0.0.1:{port}", "--noreload"]]
    if os.environ.get("AMEND_NO_WORKER") != "1":
        celery = [python, "-m", "celery", "-A", "amend"]
        commands += [
            [*celery, "worker", "-Q", "default,gpu", "--pool", "solo", "--loglevel", "INFO"],
            [*celery, "beat", "--loglevel", "INFO", "--schedule", str(Path(settings.VAR_DIR) / "celerybeat-schedule")],
        ]
    # A SIGTERM (from a supervisor or `timeout`) stops the children too, like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    processes = [subprocess.Popen(command, cwd=ROOT) for command in commands]
    print(f"\nAmend is running at http://127.0.0.1:{port}/ (API docs: /api/docs/). Ctrl-C stops it.\n", flush=True)
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    return max((process.returncode or 0) for process in processes)


if __name__ == "__main__":
    sys.exit(main())
