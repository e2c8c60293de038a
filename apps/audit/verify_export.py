"""Verify an audit export offline, with no database and no Django: the chain, then the signed checkpoints.

    python -m apps.audit.verify_export amend-audit.json --public-key audit-public.pem --checkpoints DIR \
        [--hmac-key-file audit-hmac.key] [--witness DIR/witness.log]

With the audit HMAC key (AMEND_AUDIT_HMAC_KEY) every event's tag is checked too; without it the tags are not
checked, and the output says so. The witness (default: witness.log in the checkpoints directory, if there)
catches the newest events deleted or rewritten after the newest checkpoint.
The export must be unfiltered (the chain starts at the first event). CSV and JSON exports both work; a
CSV cell's leading apostrophe (added against spreadsheet formulas) is removed before hashing.
Exit 0: intact and matching every checkpoint; 1: broken or tampered with (each finding printed); 2: bad input.
"""

import argparse
import bisect
import csv
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apps.audit import witness
from apps.audit.chain import GENESIS_HASH, walk
from apps.audit.signing import CheckpointKeyError, load_public_key, parse
from apps.audit.verification import check

_INT_COLUMNS = ("id", "actor_id", "model_line_id", "fact_id")
_JSON_COLUMNS = ("before", "after")


def _from_csv_cell(column: str, cell: str) -> Any:
    cell = cell[1:] if cell.startswith("'") else cell
    if column in _INT_COLUMNS:
        return int(cell) if cell else None
    if column in _JSON_COLUMNS:
        return json.loads(cell) if cell else None
    return cell


def read_export(path: Path) -> list[dict]:
    """The export's rows, typed as the database holds them, in id order."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        rows = json.loads(text)
    else:
        reader = csv.DictReader(text.splitlines(keepends=True))
        rows = [{column: _from_csv_cell(column, cell) for column, cell in row.items()} for row in reader]
    return sorted(rows, key=lambda row: row["id"])


class ExportIndex:
    """The events as the export holds them, for apps.audit.verification.check."""

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.ids = [row["id"] for row in rows]
        self.rows = rows

    def hash_of(self, event_id: int) -> str | None:
        at = bisect.bisect_left(self.ids, event_id)
        return self.rows[at]["hash"] if at < len(self.ids) and self.ids[at] == event_id else None

    def count_upto(self, event_id: int) -> int:
        return bisect.bisect_right(self.ids, event_id)

    def first_after(self, event_id: int) -> tuple[int, str] | None:
        at = bisect.bisect_right(self.ids, event_id)
        return (self.ids[at], self.rows[at]["created_at"]) if at < len(self.ids) else None


def verify(
    rows: list[dict],
    public_pem: str,
    checkpoint_files: list[Path],
    max_age: timedelta | None,
    *,
    hmac_key: bytes | None = None,
    witness_file: Path | None = None,
) -> tuple[list[str], list[str]]:
    """(every problem found, notes on what was not checked), as lines; no problem means intact."""
    problems, notes = [], []
    if rows and rows[0]["prev_hash"] != GENESIS_HASH:
        problems.append(f"the export starts at event #{rows[0]['id']}, not the first: export without filters")
    chain = walk(rows, hmac_key)
    if chain.broken is not None and not problems:
        problems.append(f"chain broken at event #{chain.broken['id']}: {chain.reason}; "
                        f"{chain.checked} events before it verified")
    if hmac_key is None:
        notes.append("tags not checked: no --hmac-key-file given")
    elif chain.untagged:
        notes.append(f"{chain.untagged} event(s) untagged (before {chain.tagged_since or 'any tagged event'})")
    if witness_file is not None:
        witnessed, findings = witness.read(witness_file)
        compared, _ = witness.compare(witnessed, ((row["id"], row["hash"]) for row in rows))
        problems += [str(finding) for finding in findings + compared]
    else:
        notes.append("no witness file: the newest events were not checked against it")
    checkpoints = [(str(path), parse(json.loads(path.read_text()))) for path in checkpoint_files]
    _, findings = check(
        checkpoints,
        load_public_key(public_pem),
        ExportIndex(rows),
        now=datetime.now(UTC),
        max_age=max_age or timedelta.max,
    )
    return problems + [str(finding) for finding in findings], notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.audit.verify_export", description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path, help="an unfiltered CSV or JSON export of the audit trail")
    parser.add_argument("--public-key", type=Path, required=True, help="the audit public key (PEM file)")
    parser.add_argument("--checkpoints", type=Path, required=True, help="a directory of checkpoint-*.json files")
    parser.add_argument("--max-age-seconds", type=float, help="report events this old that no checkpoint covers")
    parser.add_argument("--hmac-key-file", type=Path, help="a file holding AMEND_AUDIT_HMAC_KEY: check every tag")
    parser.add_argument("--witness", type=Path, help="the witness file (default: witness.log in --checkpoints)")
    args = parser.parse_args(argv)
    try:
        rows = read_export(args.export)
        files = sorted(args.checkpoints.glob("checkpoint-*.json"))
        max_age = timedelta(seconds=args.max_age_seconds) if args.max_age_seconds else None
        key = args.hmac_key_file.read_text().strip().encode() if args.hmac_key_file else None
        default_witness = args.checkpoints / "witness.log"
        witness_file = args.witness or (default_witness if default_witness.is_file() else None)
        problems, notes = verify(
            rows, args.public_key.read_text(), files, max_age, hmac_key=key, witness_file=witness_file
        )
    except (OSError, ValueError, KeyError, CheckpointKeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    for note in notes:
        print(f"note: {note}")
    if not problems:
        print(f"intact: {len(rows)} events verified against {len(files)} checkpoint(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
