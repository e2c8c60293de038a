"""A throwaway PostgreSQL cluster for `make test` without DATABASE_URL (README, "Two commands").

    python scripts/throwaway_postgres.py --check       exit 0 if a cluster can be started here, else say why
    python scripts/throwaway_postgres.py COMMAND ...   start one, run COMMAND with DATABASE_URL pointing at it,
                                                       stop and remove it (also when COMMAND fails or is
                                                       interrupted); exit with COMMAND's status

The cluster lives in var/test-postgres/run-PID (trust authentication, 127.0.0.1 on a free port, its socket in
its own folder, no fsync). PostgreSQL's server refuses to run as root: as root it runs as the `postgres` user,
who owns the folder; without that user (or without initdb and pg_ctl) there is no cluster, and the suite's
PostgreSQL-only tests are skipped and counted (tests/fixtures/sqlite.py). Standard library only.
"""

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLUSTERS = ROOT / "var" / "test-postgres"
UNPRIVILEGED_USER = "postgres"


def server_binaries() -> Path | None:
    """The folder with initdb and pg_ctl: on PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]), reverse=True)
    return next((path.parent for path in versions if (path.parent / "pg_ctl").exists()), None)


def run_as() -> list[str] | None:
    """The prefix that runs a server command unprivileged: nothing if not root; runuser to `postgres` if root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", UNPRIVILEGED_USER, "--"] if runuser else None


def why_not() -> str | None:
    if server_binaries() is None:
        return "PostgreSQL's server programs (initdb, pg_ctl) are not installed"
    if run_as() is None:
        return f"running as root and there is no '{UNPRIVILEGED_USER}' user to run PostgreSQL's server as"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server(prefix: list[str], bindir: Path, *args: str, quiet: bool = False) -> None:
    subprocess.run([*prefix, str(bindir / args[0]), *args[1:]], check=True,
                   stdout=subprocess.DEVNULL if quiet else None, cwd="/")


def stop_and_remove(prefix: list[str], bindir: Path, folder: Path) -> None:
    if (folder / "data" / "postmaster.pid").exists():
        with contextlib.suppress(subprocess.CalledProcessError):
            server(prefix, bindir, "pg_ctl", "stop", "--pgdata", str(folder / "data"), "--mode", "immediate",
                   "--wait", "--silent")
    shutil.rmtree(folder, ignore_errors=True)


def remove_leftovers(prefix: list[str], bindir: Path) -> None:
    """Clusters of earlier runs that were killed before they could stop theirs (their process is gone)."""
    for folder in CLUSTERS.glob("run-*"):
        pid = folder.name.removeprefix("run-")
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            stop_and_remove(prefix, bindir, folder)


def start(prefix: list[str], bindir: Path, folder: Path) -> str:
    """initdb and start a cluster in `folder`; its DATABASE_URL."""
    folder.mkdir(parents=True)
    if prefix:
        user = pwd.getpwnam(UNPRIVILEGED_USER)
        os.chown(folder, user.pw_uid, user.pw_gid)
    data = folder / "data"
    server(prefix, bindir, "initdb", "--pgdata", str(data), "--username", "postgres", "--auth", "trust",
           "--encoding", "UTF8", "--no-locale", "--no-sync", quiet=True)
    port = free_port()
    options = (f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={folder} "
               "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
    server(prefix, bindir, "pg_ctl", "start", "--pgdata", str(data), "--log", str(folder / "server.log"),
           "--options", options, "--wait", "--silent")
    return f"postgres://postgres@127.0.0.1:{port}/amend"


def main(argv: list[str]) -> int:
    reason = why_not()
    if argv == ["--check"] or reason:
        if reason:
            print(f"No throwaway PostgreSQL for the PostgreSQL-only tests: {reason}.", file=sys.stderr)
        return 1 if reason else 0
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    prefix, bindir = run_as(), server_binaries()
    CLUSTERS.mkdir(parents=True, exist_ok=True)
    remove_leftovers(prefix, bindir)
    folder = CLUSTERS / f"run-{os.getpid()}"
    # SIGTERM and SIGHUP end the run as Ctrl-C does: through the `finally` that stops the cluster.
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.default_int_handler)
    try:
        url = start(prefix, bindir, folder)
        print(f"A throwaway PostgreSQL for the PostgreSQL-only tests: {url} ({folder.relative_to(ROOT)})",
              flush=True)
        return subprocess.run(argv, env={**os.environ, "DATABASE_URL": url}).returncode
    except subprocess.CalledProcessError as error:
        log = folder / "server.log"
        print(f"The throwaway PostgreSQL did not start ({error}).", log.read_text(errors="replace") if log.exists()
              else "", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        stop_and_remove(prefix, bindir, folder)
        with contextlib.suppress(OSError):
            CLUSTERS.rmdir()  # only if no other run's cluster is there


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
