"""JSON as Amend reads it from clients (API bodies, lines of import files): bounded nesting, finite numbers.

Python's json module nests until the interpreter's recursion limit (RecursionError, an HTTP 500) and reads
`1e400` as infinity and `NaN` as a float, which later fail far from the input. Here each is refused with a
sentence naming the problem, so the API answers 400 and an import names the line.
"""

import json
import math
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32
# Beyond a signed 64-bit integer no field of Amend has a meaning, and the database cannot store it.
MAX_INT = 2**63 - 1


class JSONRefusedError(ValueError):
    """The text is JSON Amend will not read; str(error) says why in one sentence."""


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise JSONRefusedError(f"number out of range: {text[:40]}")
    return number


def _bounded_int(text: str) -> int:
    number = int(text)
    if abs(number) > MAX_INT:
        raise JSONRefusedError(f"number out of range: {text[:40]}{'…' if len(text) > 40 else ''}")
    return number


def _no_constant(name: str) -> None:
    raise JSONRefusedError(f"{name} is not a JSON number")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels (iterative: no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def loads(text: str | bytes) -> Any:
    """json.loads, refusing (JSONRefusedError) nesting deeper than MAX_DEPTH, non-finite and huge numbers."""
    try:
        value = json.loads(text, parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_no_constant)
    except RecursionError:
        raise JSONRefusedError(f"arrays or objects nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as error:
        raise JSONRefusedError(f"not valid JSON ({error.msg})") from None
    except ValueError as error:  # JSONRefusedError from the hooks, or an integer with too many digits
        raise JSONRefusedError(str(error) if isinstance(error, JSONRefusedError) else "number out of range") from None
    if _deeper_than(value, MAX_DEPTH):
        raise JSONRefusedError(f"arrays or objects nested deeper than {MAX_DEPTH} levels")
    return value


class StrictJSONParser(JSONParser):
    """DRF's JSON parser on `loads`: a refused body is HTTP 400 with {"detail": "JSON refused: <why>"}."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            return loads(stream.read().decode(encoding))
        except UnicodeDecodeError:
            raise ParseError(f"JSON refused: the body is not {encoding} text") from None
        except JSONRefusedError as error:
            raise ParseError(f"JSON refused: {error}") from None
