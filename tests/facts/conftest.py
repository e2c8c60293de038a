"""Change set fixtures: a ZsRE file written on the fly and imported as a change set, read in process."""

import io
import json
from collections.abc import Callable

import pytest

from apps.facts.actions import run_import, start_import
from apps.facts.models import ChangeSet, ImportChannel


def zsre_lines(count: int, *, start: int = 0, target: str = "Atlantis") -> list[str]:
    return [
        json.dumps(
            {"src": f"Where was inventor {i} born?", "alt": f"{target} {i}", "rephrase": f"Inventor {i} is from"}
        )
        for i in range(start, start + count)
    ]


@pytest.fixture
def import_change_set(curator, model_line) -> Callable[..., ChangeSet]:
    """Upload `lines` as a change set and run its import job here, as a worker would."""

    def make(lines: list[str], *, actor=None, line=None, name: str = "inventors.jsonl") -> ChangeSet:
        upload = io.BytesIO(("\n".join(lines) + "\n").encode())
        upload.name = name
        change_set = start_import(
            actor or curator, line or model_line, upload, "jsonl", channel=ImportChannel.API, in_background=False
        )
        return run_import(change_set.pk)

    return make
