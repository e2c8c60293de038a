"""``python -m bench {api,pipeline}``: the benchmarks that run Amend's Django code.

Both need Django configured before their options are read (their defaults come from settings), so
this module sets Django up once and hands the arguments to the benchmark. Their errors are one line
on stderr and exit status 2, like ``python -m bench editor``.
"""

from __future__ import annotations

import os
import sys

from bench.cli import BenchError


def setup_django() -> None:
    # The benchmarks' child processes pass their own settings through the environment; keep theirs.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "amend.settings")
    import django

    django.setup()


def main(command: str, argv: list[str]) -> int:
    """Run benchmark ``command`` ("api" or "pipeline") with ``argv``; returns the exit status."""
    try:
        setup_django()
    except Exception as exc:  # the settings refuse the environment (no secret key, bad DATABASE_URL...)
        print(f"error: cannot configure Django: {exc}", file=sys.stderr)
        return 2
    if command == "api":
        from bench.api import main as run
    elif command == "pipeline":
        from bench.pipeline import main as run
    else:
        print(f"error: unknown Django benchmark {command!r}: use api or pipeline", file=sys.stderr)
        return 2
    try:
        return run(argv)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
