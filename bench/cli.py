"""What every benchmark command shares: its one-line error and its argument parser (exit status 2)."""

from __future__ import annotations

import argparse
from typing import NoReturn


class BenchError(Exception):
    """A benchmark cannot run as asked: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class BenchParser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}\n")
