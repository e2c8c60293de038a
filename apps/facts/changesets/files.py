"""Reading bulk-import files: ZsRE JSONL and CSV, one row at a time, each row judged on its own.

ZsRE keys: `src` (prompt), `alt` (new target), `rephrase` (paraphrase, text or list), `loc` and
`loc_ans` (a locality probe), optional `subject`. CSV columns: `prompt`, `target` (or `src`, `alt`),
optional `paraphrases` (separated by `|`), `loc`/`locality_prompt`, `loc_ans`/`locality_answer`,
`subject`, `rationale`, `source`. Rows are numbered by their line in the file (CSV header = line 1).
"""

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError

from apps.core import strict_json

FORMATS = ("jsonl", "csv")
MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
CSV_PARAPHRASE_SEPARATOR = "|"


def format_for(filename: str) -> str | None:
    lowered = filename.lower()
    if lowered.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if lowered.endswith(".csv"):
        return "csv"
    return None


def read_text(fileobj: Any) -> str:
    data = fileobj.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationError({"file": f"is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB"})
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError({"file": "is not UTF-8 text"}) from None
    return data.removeprefix("\ufeff")


def _probes(prompt: Any, answer: Any) -> list[dict]:
    if prompt in (None, ""):
        return []
    if isinstance(answer, list):
        answer = answer[0] if answer else None
    return [{"prompt": prompt, "answer": answer}]


def _paraphrases(value: Any, *, separator: str | None = None) -> Any:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        parts = value.split(separator) if separator else [value]
        return [part for part in (p.strip() for p in parts) if part]
    return value


def row_fields(row: dict, *, csv_row: bool = False) -> dict[str, Any]:
    """The fact fields of one row (not yet validated); rationale/source only when the row has them."""
    fields = {
        "prompt": row.get("prompt", row.get("src")),
        "target": row.get("target", row.get("alt")),
        "paraphrases": _paraphrases(
            row.get("paraphrases", row.get("rephrase")), separator=CSV_PARAPHRASE_SEPARATOR if csv_row else None
        ),
        "locality_probes": row.get("locality_probes")
        if not csv_row and "locality_probes" in row
        else _probes(row.get("loc", row.get("locality_prompt")), row.get("loc_ans", row.get("locality_answer"))),
        "subject": row.get("subject") or "",
    }
    for optional in ("rationale", "source"):
        if row.get(optional):
            fields[optional] = row[optional]
    return fields


def iter_rows(text: str, fmt: str) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """Yield (line number, fields or None, reason when None) for every data row of the file."""
    if fmt not in FORMATS:
        raise ValidationError({"format": f"must be one of {', '.join(FORMATS)}"})
    count = 0
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            count += 1
            if count > MAX_IMPORT_ROWS:
                yield number, None, f"the file has more than {MAX_IMPORT_ROWS} rows; the rest was not read"
                return
            try:
                row = strict_json.loads(line)
            except strict_json.JSONRefusedError as error:
                yield number, None, str(error)
                continue
            if not isinstance(row, dict):
                yield number, None, "not a JSON object"
                continue
            yield number, row_fields(row), ""
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = set(reader.fieldnames or [])
    if not ({"prompt", "target"} <= header or {"src", "alt"} <= header):
        raise ValidationError({"file": "the CSV header must name the columns prompt and target (or src and alt)"})
    try:
        for row in reader:
            count += 1
            number = reader.line_num
            if count > MAX_IMPORT_ROWS:
                yield number, None, f"the file has more than {MAX_IMPORT_ROWS} rows; the rest was not read"
                return
            if None in row:
                yield number, None, "more cells than the header has columns"
                continue
            yield number, row_fields(row, csv_row=True), ""
    except csv.Error as error:
        yield reader.line_num, None, f"not valid CSV ({error}); the rest was not read"


def describe(error: ValidationError) -> str:
    """One line naming each bad field and why."""
    if hasattr(error, "error_dict"):
        return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items())
    return " ".join(error.messages)
