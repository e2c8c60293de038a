"""``python -m bench {editor,speed,api,pipeline,lineage} [options]``: Amend's benchmarks (tooling, not production)."""

from __future__ import annotations

import sys

USAGE = "usage: python -m bench {editor,speed,api,pipeline,lineage} [options]  (--help after a command for its options)"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "editor":
        from bench.editor import main as editor_main

        return editor_main(rest)
    if command == "speed":
        from bench.speed import main as speed_main

        return speed_main(rest)
    if command == "lineage":
        from bench.lineage import main as lineage_main

        return lineage_main(rest)
    if command in ("api", "pipeline"):
        from bench.django_bench import main as django_main

        return django_main(command, rest)
    print(f"error: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
