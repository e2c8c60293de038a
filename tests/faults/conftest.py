"""Fault fixtures: the pipeline's real workers and MLflow store, and a Redis of the test's own to stop and start.

A private redis-server (a real process on a free port) is the broker here, so stopping it disturbs no
other test or engineer sharing the machine's Redis; the test process and its workers both use it.
"""

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from celery import current_app

from tests.pipeline.conftest import (  # noqa: F401 - fixtures reused as they are
    _mlflow_template,
    approve_edits,
    base_model,
    edits,
    mlflow_store,
    open_gates,
    pipeline_line,
    wait,
    workers,
)


def point_broker_at(url: str) -> None:
    """Where this process publishes (Celery resolved broker_write_url at start: set both)."""
    current_app.conf.broker_url = current_app.conf.broker_write_url = url


@dataclass
class RedisProcess:
    port: int
    directory: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on {self.port}")

    def stop(self) -> None:
        """SIGKILL: a crash, nothing saved (as the issue's Redis without persistence loses its queues)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    redis = RedisProcess(port, tmp_path)
    redis.start()
    before = current_app.conf.broker_write_url
    point_broker_at(redis.url)
    try:
        yield redis
    finally:
        point_broker_at(before)
        redis.stop()
