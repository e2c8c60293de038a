"""``python -m workers.editor fetch-model smollm2 --out DIR``: prepare the bundled real model.

The benchmarks live apart, in ``python -m bench editor ...``.
"""

from __future__ import annotations

import sys

USAGE = "usage: python -m workers.editor fetch-model smollm2 --out DIR"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "fetch-model":
        from .bundled import main as fetch_main

        return fetch_main(rest)
    print(f"error: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
