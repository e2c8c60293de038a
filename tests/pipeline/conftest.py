"""Fixtures for the release pipeline: the bundled real model, a real MLflow store and real Celery workers.

The workers are separate processes (`celery -A amend worker`) against the test database, so these
tests use committed transactions (`transactional_db`) on PostgreSQL, the way production runs.
"""

import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.facts.actions import create_fact, review_fact
from apps.facts.models import FactEdit
from apps.modellines.actions import create_model_line, update_model_line
from apps.modellines.models import ModelLine

ROOT = Path(__file__).resolve().parents[2]
BASE_MODEL = ROOT / "var" / "models" / "smollm2-135m"
FACTS = Path(__file__).with_name("facts.jsonl")
WORKER_START_TIMEOUT = 90


@pytest.fixture(scope="session")
def base_model() -> Path:
    """The bundled SmolLM2-135M-Instruct, prepared once (make test does it first; idempotent)."""
    from editor.bundled import prepare

    return prepare("smollm2", BASE_MODEL)


@pytest.fixture(scope="session")
def edits() -> list[dict]:
    """Counterfactual edits of real facts the model knows (ZsRE format)."""
    return [json.loads(line) for line in FACTS.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def _mlflow_template(tmp_path_factory) -> Path:
    """An empty MLflow SQLite store, migrated once; each test gets a copy (creating one takes seconds)."""
    from mlflow.tracking import MlflowClient

    directory = tmp_path_factory.mktemp("mlflow-template")
    MlflowClient(tracking_uri=f"sqlite:///{directory / 'mlflow.db'}").search_experiments()
    return directory / "mlflow.db"


@dataclass
class MlflowStore:
    uri: str
    artifacts: Path

    def client(self):
        from mlflow.tracking import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


@pytest.fixture
def mlflow_store(tmp_path: Path, _mlflow_template: Path, settings) -> MlflowStore:
    directory = tmp_path / "mlflow"
    directory.mkdir()
    shutil.copy(_mlflow_template, directory / "mlflow.db")
    store = MlflowStore(uri=f"sqlite:///{directory / 'mlflow.db'}", artifacts=directory / "artifacts")
    settings.MLFLOW_TRACKING_URI = store.uri
    settings.MLFLOW_ARTIFACT_ROOT = str(store.artifacts)
    return store


@pytest.fixture
def free_port() -> int:
    """A local TCP port nothing listens on (yet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database)."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("the pipeline tests run real worker processes and need PostgreSQL (set DATABASE_URL)")
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge_queues() -> None:
    """Drop messages left in the broker by earlier runs (they name rows of another database)."""
    from amend.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in ("gpu", "default"):
            # A queue that does not exist yet has nothing to purge.
            with contextlib.suppress(Exception):
                channel.queue_purge(queue)


@dataclass
class Worker:
    name: str
    process: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up or acknowledge anything."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Workers:
    env: dict[str, str]
    directory: Path
    started: list[Worker] = field(default_factory=list)

    def start(self, name: str = "w1", queues: str = "gpu,default", *, wait: bool = True, **extra_env: str) -> Worker:
        log = self.directory / f"{name}-{len(self.started)}.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "amend",
            "worker",
            "-Q",
            queues,
            "--pool=solo",
            "--prefetch-multiplier=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"{name}-{os.getpid()}@%h",
            "-l",
            "info",
        ]
        handle = open(log, "w")  # noqa: SIM115 - the worker writes to it for its whole life
        process = subprocess.Popen(
            command, cwd=ROOT, env={**self.env, **extra_env}, stdout=handle, stderr=subprocess.STDOUT
        )
        worker = Worker(name, process, log)
        self.started.append(worker)
        if wait:
            self.wait_ready(worker)
        return worker

    def wait_ready(self, worker: Worker) -> None:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while "ready." not in worker.output():
            if worker.process.poll() is not None:
                raise RuntimeError(f"worker {worker.name} exited at start:\n{worker.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"worker {worker.name} not ready after {WORKER_START_TIMEOUT}s:\n{worker.output()[-3000:]}"
                )
            time.sleep(0.3)


@pytest.fixture
def workers(transactional_db, mlflow_store: MlflowStore, base_model: Path, tmp_path: Path) -> Iterator[Workers]:
    """Start real Celery workers (both queues, prefetch 1, acks late) on this test's database and store."""
    purge_queues()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "AMEND_DEBUG": "1",
        "MLFLOW_TRACKING_URI": mlflow_store.uri,
        "MLFLOW_ARTIFACT_ROOT": str(mlflow_store.artifacts),
        "AMEND_WORKER_CACHE_DIR": str(tmp_path / "worker-cache"),
        "AMEND_BASE_MODEL_DIR": str(base_model),
        "AMEND_VAR_DIR": str(tmp_path / "var"),
        "AMEND_RETRY_BASE_SECONDS": "1",
        "AMEND_RETRY_MAX_SECONDS": "3",
        "AMEND_MLFLOW_ATTEMPTS": "2",
        "AMEND_MLFLOW_BACKOFF_SECONDS": "0.2",
        # A message whose worker died is handed out again 6-7 s after its delivery (timeout + scan).
        "AMEND_VISIBILITY_TIMEOUT": "6",
        "AMEND_REDELIVERY_SCAN_SECONDS": "1",
        "AMEND_LOG_LEVEL": "INFO",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
    }
    pool = Workers(env=env, directory=tmp_path)
    yield pool
    for worker in pool.started:
        worker.stop()
    purge_queues()


def wait_for(what: str, check: Callable[[], object], timeout: float = 120, workers: Workers | None = None) -> object:
    """Poll until check() returns something truthy; fail with the workers' last log lines otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        connection.close()  # see the workers' commits, not a stale snapshot
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {w.name}\n{w.output()[-4000:]}" for w in (workers.started if workers else []))
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{logs}")
        time.sleep(0.5)


@pytest.fixture
def wait(workers: Workers) -> Callable[..., object]:
    """wait("what", check, timeout=120): poll the database until check() is truthy."""
    return functools.partial(wait_for, workers=workers)


# Gates a good batch of these facts meets on the real model with the editor's defaults.
LENIENT_GATES = {
    "min_efficacy": 0.5,
    "min_generalization": 0.0,
    "min_locality": 0.5,
    "min_retention": 0.0,
    "max_perplexity_drift": 1.0,
}


@pytest.fixture
def pipeline_line(operator, base_model: Path) -> ModelLine:
    return create_model_line(
        operator,
        name="world",
        description="Real facts on the bundled model",
        base_model=str(base_model),
        locality_probes=[{"prompt": "The capital of Spain is", "answer": "Madrid"}],
        batch_size=4,
        **LENIENT_GATES,
    )


@pytest.fixture
def open_gates(operator) -> Callable[[ModelLine], ModelLine]:
    """open_gates(line): gates every version meets, for tests about faults rather than about gates."""

    def open_(line: ModelLine, **more) -> ModelLine:
        return update_model_line(
            operator,
            line,
            min_efficacy=0.0,
            min_generalization=0.0,
            min_locality=0.0,
            min_retention=0.0,
            max_perplexity_drift=100.0,
            **more,
        )

    return open_


@pytest.fixture
def approve_edits(curator, reviewer, edits) -> Callable[..., list[FactEdit]]:
    """approve_edits(line, start, count) -> facts from the reference edits, submitted and approved."""

    def approve(line: ModelLine, start: int, count: int) -> list[FactEdit]:
        facts = []
        for record in edits[start : start + count]:
            fact = create_fact(
                curator,
                line,
                prompt=record["src"],
                target=record["alt"],
                paraphrases=[record["rephrase"]] if record.get("rephrase") else [],
                locality_probes=[{"prompt": record["loc"], "answer": record.get("loc_ans")}]
                if record.get("loc")
                else [],
                rationale="The world changed",
                source="https://example.org/world",
            )
            review_fact(reviewer, fact, "approve", "Checked against the source")
            facts.append(FactEdit.objects.get(pk=fact.pk))
        return facts

    return approve
