"""The worker's memory of each model line: the model loaded once, which version its weights hold, and
the chain state (editor/versions.py) it last computed.

Materialising a version never stacks onto whatever the weights hold: it continues the chain from a
state whose chain is a prefix of the version's (the one in memory, the version's nearest snapshot, or
the base, whichever covers most), so the result is bitwise the recorded version whatever the start;
its content hash is checked against the database's. Rebuild cost is bounded by the snapshot spacing
(AMEND_SNAPSHOT_RANK), not by the length of the lineage.
Imports torch and the editor lazily: only a worker process running a GPU task touches CUDA.
"""

import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.modellines.editing import base_model_path, editor_config
from apps.modellines.models import ModelLine
from apps.releases.models import ModelVersion
from mlops import tracking


class LineageError(Exception):
    """A version could not be rebuilt as recorded (its content hash differs, or a delta is missing)."""


@dataclass(frozen=True)
class Measured:
    """What the weights of one content hash were found to answer when that version was evaluated."""

    content_hash: str
    locality: Any  # editor.LocalityBaseline: the answers to the locality probes
    perplexity: float  # of the fluency text


@dataclass
class LineModel:
    key: str
    loaded: Any  # editor.LoadedModel
    base: Any  # editor.Snapshot of the base weights
    config: Any  # editor.EditorConfig
    # The version the in-memory weights hold (None: not a recorded version, e.g. mid-edit).
    version_id: int | None = None
    content_hash: str = ""
    load_seconds: float = 0.0
    fluency_text: str = ""
    # The editor's fixed matrices (editor.Prepared), built from general text through the *base* weights:
    # once at load, before any version is held, and reused by every batch of the line.
    prepared: Any = None
    # The last chain state computed (rule 2), and the recorded chain it is the state of (None: not
    # a recorded version yet). Separate from the weights, which the editor changes in place.
    state: Any = None  # editor.Snapshot
    state_chain: list[str] | None = None
    # The last version this worker evaluated: a next batch that edits from it takes its "before" from here
    # instead of asking the same weights again.
    measured: Measured | None = None


_LINES: "OrderedDict[int, LineModel]" = OrderedDict()
_DELTAS: "OrderedDict[str, Any]" = OrderedDict()
_MAX_CACHED_DELTAS = 512
SNAPSHOT_FILE = "snapshot.safetensors"


def cache_dir() -> Path:
    path = Path(settings.AMEND_WORKER_CACHE_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def line_model(line: ModelLine) -> LineModel:
    """The line's model, loaded on first use and kept (a few lines at most, least recently used out)."""
    key = json.dumps(
        [base_model_path(line.base_model), line.edited_modules, line.editor_settings, settings.AMEND_DEVICE],
        sort_keys=True,
    )
    cached = _LINES.get(line.pk)
    if cached is not None and cached.key == key:
        _LINES.move_to_end(line.pk)
        cached.load_seconds = 0.0
        return cached
    from editor import DEFAULT_FLUENCY_TEXT, Editor, Snapshot, load_model

    started = time.perf_counter()
    loaded = load_model(base_model_path(line.base_model), device=settings.AMEND_DEVICE)
    config = editor_config(loaded, line.edited_modules, line.editor_settings)
    # Only config.modules are ever written in this model: the blocks below them answer a prompt the same way
    # in every version, so what they computed is kept for the probes and facts asked again after each batch.
    if settings.AMEND_WORKER_TRUNK_CACHE_MB > 0:
        loaded.keep_trunk(config.modules, settings.AMEND_WORKER_TRUNK_CACHE_MB * 2**20)
    base = Snapshot.capture(loaded, config.modules)
    prepared = Editor(loaded, config).prepare()
    model = LineModel(
        key=key,
        loaded=loaded,
        base=base,
        config=config,
        load_seconds=time.perf_counter() - started,
        fluency_text=DEFAULT_FLUENCY_TEXT,
        prepared=prepared,
        state=base,
        state_chain=[],
    )
    _LINES[line.pk] = model
    while len(_LINES) > settings.AMEND_WORKER_MAX_LINES:
        _LINES.popitem(last=False)
    return model


def load_delta(uri: str) -> Any:
    from editor import Delta

    delta = _DELTAS.get(uri)
    if delta is None:
        delta = Delta.load(tracking.fetch_artifact(uri, cache_dir()))
        _DELTAS[uri] = delta
        while len(_DELTAS) > _MAX_CACHED_DELTAS:
            _DELTAS.popitem(last=False)
    return delta


def load_normalizer(version: ModelVersion) -> Any:
    from editor import Normalizer

    if not version.normalizer_path:
        return Normalizer()
    return Normalizer.load(tracking.fetch_artifact(version.normalizer_path, cache_dir()))


def nearest_snapshot(version: ModelVersion) -> tuple[str, int] | None:
    """(uri, deltas it covers) of the newest snapshot in the version's ancestry (itself included).
    Every ancestor's chain is a prefix of the version's: a revert's parent is the version it replays on."""
    from apps.releases.queries import ancestry

    for ancestor in reversed(ancestry(version)):
        if ancestor.snapshot_path and ancestor.weights_rule == 2:
            return ancestor.snapshot_path, len(ancestor.delta_chain)
    return None


def load_snapshot(uri: str) -> Any:
    from editor import EditorError, Snapshot

    try:
        return Snapshot.load(tracking.fetch_artifact(uri, cache_dir()))
    except EditorError as exc:
        raise LineageError(f"refused: {exc}") from exc


def chain_state(model: LineModel, version: ModelVersion | None) -> Any:
    """The rule-2 chain state of `version` (None: the base), continued from the start that covers
    most of its chain; kept in memory as the line's last state."""
    chain = list(version.delta_chain) if version is not None else []
    state = model.base
    if model.state_chain is not None and chain[: len(model.state_chain)] == model.state_chain:
        state = model.state
    found = nearest_snapshot(version) if version is not None else None
    if found is not None and found[1] > state.covers:
        state = load_snapshot(found[0])
        if state.covers != found[1] or state.modules != model.base.modules:
            raise LineageError(f"the snapshot of {version.label}'s chain does not match the line's edited modules")
    if state.covers < len(chain):
        state = state.advance([load_delta(uri) for uri in chain[state.covers :]], model.loaded.device)
    model.state, model.state_chain = state, chain
    return state


def hold_version(model: LineModel, version: ModelVersion) -> str:
    """Make the in-memory weights exactly `version` (a no-op when they already are)."""
    if model.version_id == version.pk:
        return model.content_hash
    from editor import hold_weights
    from editor.legacy import write_rule1_weights

    model.version_id = None
    if version.weights_rule == 1:
        deltas = [load_delta(uri) for uri in version.delta_chain]
        content_hash = write_rule1_weights(model.loaded, model.base, deltas)
    else:
        content_hash = hold_weights(model.loaded, chain_state(model, version))
    if version.content_hash and content_hash != version.content_hash:
        raise LineageError(
            f"{version.label} rebuilt with content hash {content_hash[:12]}, recorded {version.content_hash[:12]}: "
            "refused (a delta or snapshot changed since it was recorded)"
        )
    model.version_id, model.content_hash = version.pk, content_hash
    return content_hash


def write_new_version(model: LineModel, start: ModelVersion | None, deltas: list[Any]) -> str:
    """Weights of a version not yet recorded: `start`'s chain state (None: the base) advanced by the
    new deltas. `remember` then ties the state to the recorded version."""
    from editor import hold_weights

    state = chain_state(model, start).advance(deltas, model.loaded.device)
    model.version_id = None
    model.state, model.state_chain = state, None
    return hold_weights(model.loaded, state)


def snapshot_due(start: ModelVersion, deltas: list[Any]) -> bool:
    """Whether the version built from `start` with `deltas` should store a snapshot: when the rank-1
    terms a rebuild would add after the nearest snapshot reach AMEND_SNAPSHOT_RANK (so rebuild work
    stays bounded whatever the batch size)."""
    from editor.versions import snapshot_due as due

    found = nearest_snapshot(start)
    after = start.delta_chain[found[1] if found else 0 :]
    return due([*(load_delta(uri).rank for uri in after), *(d.rank for d in deltas)], settings.AMEND_SNAPSHOT_RANK)


def stage_snapshot(model: LineModel, start: ModelVersion, deltas: list[Any], staging: Path) -> bool:
    """Save the new version's chain state (from write_new_version) into staging when one is due."""
    if not snapshot_due(start, deltas):
        return False
    model.state.save(staging / SNAPSHOT_FILE)
    return True


def serving_manifest(
    model: LineModel, line: ModelLine, start: ModelVersion | None, new_deltas: int, *, snapshot: bool
) -> dict[str, Any]:
    """What mlops/serving.py needs to rebuild the version: the base, the nearest snapshot and the
    deltas after it (paths without runs:/ are this version's own run; tracking.log_version resolves them)."""
    own = [f"deltas/delta-{i}.safetensors" for i in range(1, new_deltas + 1)]
    chain = list(start.delta_chain) if start is not None else []
    found = nearest_snapshot(start) if start is not None else None
    if snapshot:
        found, chain, own = (SNAPSHOT_FILE, len(chain) + new_deltas), [], []
    covers = found[1] if found else 0
    return {
        "base_model": base_model_path(line.base_model),
        "modules": list(model.base.modules),
        "dtype": str(next(model.loaded.model.parameters()).dtype).removeprefix("torch."),
        "snapshot": {"uri": found[0], "covers": covers} if found else None,
        "deltas": [*chain[covers:], *own],
    }


def remember(model: LineModel, version: ModelVersion) -> None:
    """The weights now hold this freshly recorded version, whose chain state write_new_version (or
    hold_version of its parent, for a version adding no delta) left in model.state."""
    model.version_id, model.content_hash = version.pk, version.content_hash
    covered = model.state is not None and model.state.covers == len(version.delta_chain)
    model.state_chain = list(version.delta_chain) if covered else None


def checkpoint_bytes(path: str) -> int:
    """Bytes of the weight files of a full checkpoint (what a version would cost without deltas)."""
    directory = Path(path)
    if not directory.is_dir():
        return 0
    return sum(f.stat().st_size for pattern in ("*.safetensors", "*.bin") for f in directory.glob(pattern))
