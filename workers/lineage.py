"""The worker's memory of each model line: the model loaded once, and which version its weights hold.

Materialising a version always recomputes the edited modules from the base snapshot and the
version's full delta chain (never by stacking onto whatever the weights hold), so the result is
bitwise the recorded version; its content hash is checked against the database's.
Imports torch and the editor lazily: only a worker process running a GPU task touches CUDA.
"""

import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.modellines.models import ModelLine
from apps.releases.models import ModelVersion
from workers import tracking


class LineageError(Exception):
    """A version could not be rebuilt as recorded (its content hash differs, or a delta is missing)."""


@dataclass
class LineModel:
    key: str
    loaded: Any  # workers.editor.LoadedModel
    base: Any  # workers.editor.BaseSnapshot
    config: Any  # workers.editor.EditorConfig
    # The version the in-memory weights hold (None: not a recorded version, e.g. mid-edit).
    version_id: int | None = None
    content_hash: str = ""
    load_seconds: float = 0.0
    fluency_text: str = ""
    # Per edited module, its inputs on general text through the *base* weights (the editor's fixed
    # preservation matrices are built from them): computed once at load, before any version is held.
    general_keys: dict | None = None


_LINES: "OrderedDict[int, LineModel]" = OrderedDict()
_DELTAS: "OrderedDict[str, Any]" = OrderedDict()
_MAX_CACHED_DELTAS = 512


def base_model_path(line: ModelLine) -> str:
    return line.base_model or str(settings.AMEND_BASE_MODEL_DIR)


def cache_dir() -> Path:
    path = Path(settings.AMEND_WORKER_CACHE_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def line_model(line: ModelLine) -> LineModel:
    """The line's model, loaded on first use and kept (a few lines at most, least recently used out)."""
    key = json.dumps(
        [base_model_path(line), line.edited_modules, line.editor_settings, settings.AMEND_DEVICE], sort_keys=True
    )
    cached = _LINES.get(line.pk)
    if cached is not None and cached.key == key:
        _LINES.move_to_end(line.pk)
        cached.load_seconds = 0.0
        return cached
    from workers.editor import DEFAULT_FLUENCY_TEXT, BaseSnapshot, Editor, EditorConfig, load_model

    started = time.perf_counter()
    path = base_model_path(line)
    loaded = load_model(path, device=settings.AMEND_DEVICE)
    overrides = {**line.editor_settings, "modules": list(line.edited_modules) or None}
    config = EditorConfig.for_model(loaded, **overrides)
    base = BaseSnapshot.capture(loaded, config.modules)
    general_keys = Editor(loaded, config).prepare()
    model = LineModel(
        key=key,
        loaded=loaded,
        base=base,
        config=config,
        load_seconds=time.perf_counter() - started,
        fluency_text=DEFAULT_FLUENCY_TEXT,
        general_keys=general_keys,
    )
    _LINES[line.pk] = model
    while len(_LINES) > settings.AMEND_WORKER_MAX_LINES:
        _LINES.popitem(last=False)
    return model


def load_delta(uri: str) -> Any:
    from workers.editor import Delta

    delta = _DELTAS.get(uri)
    if delta is None:
        delta = Delta.load(tracking.fetch_artifact(uri, cache_dir()))
        _DELTAS[uri] = delta
        while len(_DELTAS) > _MAX_CACHED_DELTAS:
            _DELTAS.popitem(last=False)
    return delta


def load_normalizer(version: ModelVersion) -> Any:
    from workers.editor import Normalizer

    if not version.normalizer_path:
        return Normalizer()
    return Normalizer.load(tracking.fetch_artifact(version.normalizer_path, cache_dir()))


def hold_version(model: LineModel, version: ModelVersion) -> str:
    """Make the in-memory weights exactly `version` (a no-op when they already are)."""
    if model.version_id == version.pk:
        return model.content_hash
    from workers.editor import write_version_weights

    model.version_id = None
    content_hash = write_version_weights(model.loaded, model.base, [load_delta(uri) for uri in version.delta_chain])
    if version.content_hash and content_hash != version.content_hash:
        raise LineageError(
            f"{version.label} rebuilt with content hash {content_hash[:12]}, recorded {version.content_hash[:12]}"
        )
    model.version_id, model.content_hash = version.pk, content_hash
    return content_hash


def remember(model: LineModel, version: ModelVersion) -> None:
    """The weights now hold this freshly recorded version."""
    model.version_id, model.content_hash = version.pk, version.content_hash


def checkpoint_bytes(path: str) -> int:
    """Bytes of the weight files of a full checkpoint (what a version would cost without deltas)."""
    directory = Path(path)
    if not directory.is_dir():
        return 0
    return sum(f.stat().st_size for pattern in ("*.safetensors", "*.bin") for f in directory.glob(pattern))
