"""Fault fixtures: the pipeline's real workers and MLflow store, a Redis of the test's own to stop and start,
a TCP proxy process in front of PostgreSQL to "restart" it for a worker, fake MLflow servers that hang or
refuse, a small real filesystem (tmpfs) under the artifact store to fill up, and holds that keep a worker at
a batch's stage until the test has struck (workers/holds.py).

A private redis-server (a real process on a free port) is the broker here, so stopping it disturbs no
other test or engineer sharing the machine's Redis; the test process and its workers both use it.
"""

import contextlib
import errno
import http.server
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from celery import current_app
from django.db import connection


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
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


@dataclass
class DatabaseProxy:
    """PostgreSQL as a worker sees it through tcp_proxy.py: `restart()` drops every connection and refuses
    new ones for a while, as a restarted server does, without touching the shared server."""

    port: int
    target: tuple[str, int]
    process: subprocess.Popen | None = None

    def database_url(self) -> str:
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        return f"postgres://{db['USER']}{password}@127.0.0.1:{self.port}/{db['NAME']}"

    def start(self) -> None:
        script = Path(__file__).with_name("tcp_proxy.py")
        self.process = subprocess.Popen([sys.executable, str(script), str(self.port), *map(str, self.target)])
        wait_listening(self.port, "the database proxy")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self, down_seconds: float) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()


@pytest.fixture
def database_proxy() -> Iterator[DatabaseProxy]:
    db = connection.settings_dict
    proxy = DatabaseProxy(free_port(), (db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()


@dataclass
class FakeMlflow:
    """A local MLflow address that misbehaves: `hang` accepts connections and never answers; `refuse` answers
    every request with 403 PERMISSION_DENIED, as a server behind an access proxy would. `requests` counts;
    `connected_at` holds when each connection came (time.monotonic() of this process)."""

    url: str
    requests: list[str]
    connected_at: list[float] = field(default_factory=list)


@pytest.fixture
def hanging_mlflow() -> Iterator[FakeMlflow]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(128)
    server.settimeout(0.2)
    fake = FakeMlflow(f"http://127.0.0.1:{server.getsockname()[1]}", [])
    held: list[socket.socket] = []  # accepted and never read: every request waits for its answer forever
    stopped = threading.Event()

    def hold_connections() -> None:
        while not stopped.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            fake.connected_at.append(time.monotonic())
            held.append(conn)

    holder = threading.Thread(target=hold_connections, daemon=True)
    holder.start()
    try:
        yield fake
    finally:
        stopped.set()
        holder.join()
        for conn in held:
            conn.close()
        server.close()


@contextlib.contextmanager
def _answering_mlflow(status: int, body: bytes) -> Iterator[FakeMlflow]:
    """A local MLflow address that answers every request with `status` and `body`."""
    seen: list[str] = []

    class Answer(http.server.BaseHTTPRequestHandler):
        def answer(self) -> None:
            seen.append(f"{self.command} {self.path}")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = answer  # noqa: N815 - the names http.server calls

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield FakeMlflow(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def refusing_mlflow() -> Iterator[FakeMlflow]:
    """403 PERMISSION_DENIED to everything, as a server behind an access proxy would."""
    body = b'{"error_code": "PERMISSION_DENIED", "message": "this client may not write experiments"}'
    with _answering_mlflow(403, body) as fake:
        yield fake


@pytest.fixture
def storage_full_mlflow() -> Iterator[FakeMlflow]:
    """507 Insufficient Storage to everything, as a server or proxy whose artifact disk is full answers."""
    with _answering_mlflow(507, b'{"error_code": "INTERNAL_ERROR", "message": "Insufficient Storage"}') as fake:
        yield fake


@dataclass
class SmallDisk:
    """A tmpfs mounted at `path`: a real filesystem that really runs out of space."""

    path: Path

    def fill(self) -> None:
        """Write zeros until the kernel answers ENOSPC: every later write there fails."""
        with open(self.path / ".filler", "wb") as filler:
            chunk = b"\0" * (1 << 20)
            try:
                while True:
                    filler.write(chunk)
                    filler.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc

    def free(self) -> None:
        (self.path / ".filler").unlink(missing_ok=True)


@pytest.fixture
def small_artifact_disk(mlflow_store) -> Iterator[SmallDisk]:
    """The MLflow store's artifact root on a 64 MiB tmpfs of its own (mounting needs root, as in CI)."""
    path = mlflow_store.artifacts
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "amend-test-artifacts", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@dataclass
class StageHold:
    """Holds for the workers a test starts with `env` (workers/holds.py): a worker reaching an armed stage
    waits there, saying so (`held`), until the test lets that one pass (`let_one_through`: the next to reach
    the stage is held again) or takes the hold away (`release`)."""

    folder: Path

    @property
    def env(self) -> dict[str, str]:
        return {"AMEND_HOLD_DIR": str(self.folder)}

    def arm(self, stage: str) -> None:
        (self.folder / stage).touch()

    def held(self, stage: str) -> bool:
        return (self.folder / f"{stage}.held").exists()

    def let_one_through(self, stage: str) -> None:
        (self.folder / f"{stage}.held").unlink()

    def release(self, stage: str) -> None:
        (self.folder / stage).unlink(missing_ok=True)


@pytest.fixture
def stage_hold(tmp_path: Path) -> Iterator[StageHold]:
    hold = StageHold(tmp_path / "holds")
    hold.folder.mkdir()
    try:
        yield hold
    finally:
        for armed in list(hold.folder.iterdir()):  # no worker is left waiting for a test that ended
            armed.unlink(missing_ok=True)
