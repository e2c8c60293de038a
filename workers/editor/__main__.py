"""``python -m workers.editor bench ...`` and ``python -m workers.editor build-reference-model ...``."""

from __future__ import annotations

import sys

USAGE = (
    "usage: python -m workers.editor {bench,build-reference-model} [options]  (--help after a command for its options)"
)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "bench":
        from .bench import main as bench_main

        return bench_main(rest)
    if command == "build-reference-model":
        from .reference_model import main as build_main

        return build_main(rest) or 0
    print(f"error: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
