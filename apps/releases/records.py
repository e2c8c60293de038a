"""What a GPU worker hands to the database when it has built a version (plain data, no torch)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class BuiltVersion:
    """A version computed by a worker, not yet recorded: the inputs of `actions.record_version`."""

    number: int  # the version number, taken once (`queries.next_version_number`) under the lineage lock
    parent_id: int
    fact_ids: list[int]
    content_hash: str
    metrics: dict[str, float]
    # fact id -> {took, efficacy, generalization, locality, answer_before, answer_after, ...}
    per_fact: dict[int, dict[str, Any]]
    # The deltas this version adds to its parent, in order (local paths).
    delta_paths: list[str]
    normalizer_path: str
    delta_bytes: int  # deltas, normaliser and snapshot (if any): everything this version stores
    checkpoint_bytes: int
    stage_seconds: dict[str, float]
    built_from: datetime
    built_until: datetime
    replayed_batch_ids: list[int] = field(default_factory=list)
    # Why the version cannot be used at all (non-finite weights or metrics); empty when it can.
    failure: str = ""
    # The resolved editor configuration (EditorConfig.to_dict()) the version was built with.
    editor_config: dict[str, Any] = field(default_factory=dict)
    # The dense snapshot of the edited weights this version stores ("" when none).
    snapshot_path: str = ""
    # Earlier applied facts asked again after the edit: fact id -> (greedy answer, whether it still says the target).
    rechecked: dict[int, tuple[str, bool]] = field(default_factory=dict)
