"""An edit already computed is not computed again when only its recording failed (issue 16).

edit_and_evaluate leaves the deltas, the normaliser state and the snapshot in the batch's staging directory;
this keeps the rest of its outcome (metrics, per-fact results) beside it (not in it: the staging directory is
what the MLflow run receives), under the key of what was edited:
the batch, the version it started from and its facts. A delivery that finds a matching outcome (a retry
after MLflow was unreachable, or the database lost while recording) records it instead of editing again.
Another start version (a batch recorded in between) or other facts do not match: the edit is redone.
The staging directory is the worker's own (AMEND_WORKER_CACHE_DIR): a retry on another machine edits again.
"""

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def _file(staging: Path) -> Path:
    return staging.with_name(f"{staging.name}.outcome.json")


def keep(staging: Path, key: dict[str, Any], outcome: Any) -> None:
    """Write the outcome (a dataclass) beside its staged files."""
    _file(staging).write_text(json.dumps({"key": key, "outcome": dataclasses.asdict(outcome)}))


def forget(staging: Path) -> None:
    """Once recorded: nothing to reuse any more."""
    _file(staging).unlink(missing_ok=True)


def reuse(staging: Path, key: dict[str, Any], build: Callable[..., T]) -> T | None:
    """The outcome staged for exactly this key, rebuilt with `build`; None when there is none."""
    if not staging.is_dir():
        return None  # its files went with a recording that failed after moving them: edit again
    try:
        document = json.loads(_file(staging).read_text())
    except (OSError, ValueError):
        return None
    if document.get("key") != key:
        return None
    fields = document["outcome"]
    # JSON keys are strings: fact ids back to ints, (answer, still said) back to pairs.
    fields["per_fact"] = {int(fact_id): result for fact_id, result in fields["per_fact"].items()}
    fields["rechecked"] = {int(fact_id): tuple(pair) for fact_id, pair in fields["rechecked"].items()}
    log.info("batch %s: reusing the edit staged by an earlier delivery (only its recording failed)", key["batch"])
    return build(**fields)
