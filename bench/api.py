"""``python -m bench api``: fact submissions per second and latency against gunicorn on PostgreSQL.

It creates a fresh PostgreSQL database, migrates it, seeds curators with tokens and a model line,
starts gunicorn on a free 127.0.0.1 port, and drives POST /api/facts/ from 1, 8 and 32 concurrent
keep-alive clients (threads). Every submission is a distinct fact that goes through the full
workflow (validation, duplicate and conflict checks, audit chain). Bounded in requests and time;
the database is dropped at the end unless --keep-database.

    python -m bench api [--clients 1,8,32] [--requests 1500] [--seconds 20] [--server URL]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
from django.conf import settings

from bench.cli import BenchError, BenchParser

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


@dataclass
class LevelResult:
    clients: int
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    app_cpu_s: float = 0.0
    db_cpu_s: float = 0.0

    def percentile(self, fraction: float) -> float:
        """The latency (ms) below which ``fraction`` of the requests fell (nearest rank)."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]

    @property
    def rate(self) -> float:
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for gunicorn)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` on the same server."""
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{name}"))


def admin_connection(server_url: str) -> psycopg.Connection:
    # CREATE/DROP DATABASE cannot run inside a transaction, nor while connected to that database.
    return psycopg.connect(with_database(server_url, "postgres"), autocommit=True)


def cpu_seconds(gunicorn_pid: int, database: str) -> dict[str, dict[int, float]]:
    """CPU time used so far, per process: gunicorn (master and workers) and PostgreSQL backends of `database`."""
    import psutil

    def used(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
        except psutil.Error:
            return 0.0
        return times.user + times.system

    master = psutil.Process(gunicorn_pid)
    app = {process.pid: used(process) for process in [master, *master.children(recursive=True)]}
    db = {}
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info.get("cmdline") or [])
        if process.info.get("name") == "postgres" and f" {database} " in f" {cmdline} ":
            db[process.pid] = used(process)
    return {"app": app, "db": db}


def cpu_used_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two samples by the processes alive at the second one (new ones from zero)."""
    return sum(max(0.0, seconds - before.get(pid, 0.0)) for pid, seconds in after.items())


def build_parser() -> argparse.ArgumentParser:
    p = BenchParser(
        prog="python -m bench api",
        description="Benchmark fact submissions (POST /api/facts/) against gunicorn on a fresh PostgreSQL database.",
    )
    p.add_argument(
        "--server",
        default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER),
        help="PostgreSQL server URL (a fresh database is created on it); env BENCH_DATABASE_URL",
    )
    p.add_argument("--clients", default="1,8,32", help="comma-separated concurrency levels")
    p.add_argument("--requests", type=int, default=1500, help="submissions per level (at most)")
    p.add_argument("--seconds", type=float, default=20.0, help="time limit per level")
    p.add_argument("--workers", type=int, default=0, help="gunicorn workers (default: 2 x cores + 1)")
    p.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    p.add_argument(
        "--synchronous-commit",
        choices=["on", "off"],
        default="on",
        help="PostgreSQL synchronous_commit for the app's sessions (off: commits do not wait for the WAL flush)",
    )
    p.add_argument("--keep-database", action="store_true")
    p.add_argument("--seed-only", action="store_true", help="internal: seed this database, print the tokens")
    return p


def main(argv: list[str]) -> int:
    """``python -m bench api ARGS`` once Django is set up; BenchError on input it cannot run."""
    args = build_parser().parse_args(argv)
    try:
        levels = [int(level) for level in args.clients.split(",")]
    except ValueError:
        raise BenchError("--clients must be comma-separated numbers, e.g. 1,8,32") from None
    if min(levels) < 1 or args.requests < 1:
        raise BenchError("--clients and --requests must be at least 1")
    if args.seed_only:
        seed(max(levels))
    else:
        run(levels, args)
    return 0


def run(levels: list[int], args: argparse.Namespace) -> None:
    """Create, migrate and seed the benchmark's own database, measure each level, drop the database."""
    server = args.server
    name = f"amend_bench_{secrets.token_hex(4)}"
    try:
        with admin_connection(server) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as error:
        raise BenchError(" ".join(f"cannot create a database on {server}: {error}".split())) from None
    env = {
        **os.environ,
        "DATABASE_URL": with_database(server, name),
        "AMEND_DEBUG": "0",
        "AMEND_SECRET_KEY": secrets.token_urlsafe(40),
        "AMEND_WRITE_THROTTLE": "100000000/min",
        "AMEND_LOG_LEVEL": "WARNING",
        # Keep each worker's database connection for the whole run, as a deployment would.
        "AMEND_DB_CONN_MAX_AGE": "600",
        "AMEND_VAR_DIR": str(Path(settings.VAR_DIR) / "bench"),
        # libpq reads PGOPTIONS: applies to every session gunicorn opens.
        "PGOPTIONS": f"-c synchronous_commit={args.synchronous_commit}",
    }
    gunicorn = None
    try:
        # Migrating and seeding run in children: this process's Django is bound to the settings' database.
        root = settings.BASE_DIR
        subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], env=env, cwd=root, check=True)
        seeding = subprocess.run(
            [sys.executable, "-m", "bench", "api", "--seed-only", "--clients", str(max(levels))],
            env=env,
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        )
        seed_data = json.loads(seeding.stdout)
        port = free_port()
        workers = args.workers or 2 * (os.cpu_count() or 1) + 1
        gunicorn = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "amend.wsgi:application"),
                *("--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(args.threads)),
                *("--log-level", "warning"),
            ],
            env=env,
            cwd=root,
        )
        wait_until_up(port, gunicorn)
        print(
            f"gunicorn: {workers} workers x {args.threads} threads on 127.0.0.1:{port}; "
            f"PostgreSQL database {name} (synchronous_commit={args.synchronous_commit}); "
            f"{os.cpu_count()} CPU cores"
        )
        results = []
        for level in levels:
            # Warm every worker's connection and code paths before measuring.
            drive(port, seed_data, level, requests=max(2 * level, 20), seconds=5, tag=f"warm{level}")
            before = cpu_seconds(gunicorn.pid, name)
            result = drive(port, seed_data, level, requests=args.requests, seconds=args.seconds, tag=f"m{level}")
            after = cpu_seconds(gunicorn.pid, name)
            result.app_cpu_s = cpu_used_between(before["app"], after["app"])
            result.db_cpu_s = cpu_used_between(before["db"], after["db"])
            results.append(result)
        print(table(results))
        load = os.getloadavg()
        print(
            f"load average during the run: {load[0]:.1f} (1 min), {load[1]:.1f} (5 min) on {os.cpu_count()} cores; "
            "CPU ms/subm is what each submission cost the app (gunicorn) and PostgreSQL, whatever else ran"
        )
    except subprocess.CalledProcessError as exc:
        # The seeding child's stderr is captured: its last line (the exception) is the useful part.
        last = (exc.stderr or "").strip().splitlines()[-1:] if isinstance(exc.stderr, str) else []
        step = " ".join(str(part) for part in exc.cmd[1:4])
        raise BenchError(f"{step} failed (exit status {exc.returncode}){': ' + last[0] if last else ''}") from None
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            try:
                gunicorn.wait(timeout=15)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
        if not args.keep_database:
            with admin_connection(server) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(clients: int) -> None:
    """In the child on the fresh database: an operator's model line and one token per client, as JSON."""
    from django.contrib.auth import get_user_model

    from apps.accounts.actions import issue_token
    from apps.accounts.roles import Role, grant_role
    from apps.modellines.actions import create_model_line

    users = get_user_model().objects
    operator = users.create_user("bench-operator")
    grant_role(operator, Role.OPERATOR)
    line = create_model_line(operator, name="bench", description="benchmark line")
    tokens = []
    for index in range(clients):
        curator = users.create_user(f"bench-curator-{index}")
        grant_role(curator, Role.CURATOR)
        tokens.append(issue_token(curator).key)
    print(json.dumps({"model_line": line.pk, "tokens": tokens}))


def wait_until_up(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Return once gunicorn answers (401 to an anonymous /api/me/); BenchError if it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited with code {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/me/")
            if conn.getresponse().status == 401:
                return
        except OSError:
            time.sleep(0.2)
    raise BenchError(f"gunicorn did not answer within {timeout:.0f} s")


def drive(port: int, seeded: dict, clients: int, *, requests: int, seconds: float, tag: str) -> LevelResult:
    """``clients`` keep-alive threads submit distinct facts until ``requests`` are sent or ``seconds`` pass."""
    counter = iter(range(requests))
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Token {seeded['tokens'][index]}", "Content-Type": "application/json"}
        while time.perf_counter() < stop_at:
            with lock:
                number = next(counter, None)
            if number is None:
                return
            body = json.dumps(
                {
                    "model_line": seeded["model_line"],
                    "prompt": f"Bench {tag}: which city hosts landmark number {number} of client {index}?",
                    "target": f"City {number}",
                    "paraphrases": [f"Landmark {number} of client {index} is located in"],
                    "rationale": "load test",
                    "source": "bench_api",
                }
            )
            started = time.perf_counter()
            try:
                conn.request("POST", "/api/facts/", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                failure = "" if response.status == 201 else f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                failure = type(error).__name__
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if failure:
                    errors.append(failure)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - began
    if errors and tag.startswith("m"):
        print(f"{clients} clients: {len(errors)} failed requests, first: {errors[0]}", file=sys.stderr)
    return LevelResult(clients, len(latencies), len(errors), took, latencies)


def table(results: list[LevelResult]) -> str:
    """One row per concurrency level: rate, latency percentiles and CPU cost per submission."""
    lines = [
        "",
        f"{'clients':>7} {'requests':>8} {'errors':>6} {'seconds':>7} {'subm/s':>8} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'mean ms':>7} {'app CPU ms/subm':>15} {'db CPU ms/subm':>14}",
    ]
    for result in results:
        done = max(result.requests, 1)
        lines.append(
            f"{result.clients:>7} {result.requests:>8} {result.errors:>6} {result.seconds:>7.1f} "
            f"{result.rate:>8.1f} {result.percentile(0.50):>7.1f} {result.percentile(0.95):>7.1f} "
            f"{result.percentile(0.99):>7.1f} {statistics.fmean(result.latencies_ms or [0]):>7.1f} "
            f"{1000 * result.app_cpu_s / done:>15.2f} {1000 * result.db_cpu_s / done:>14.2f}"
        )
    return "\n".join(lines)
