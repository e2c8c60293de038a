"""What the web app checks of a model line's model before saving it, without loading any weights.

A worker fails a batch when the base model is not a causal LM, a module to edit does not exist or is
not a Linear layer, or the editor settings are wrong; the operator should hear it when saving the line,
with the field, instead. The checks read the model's config.json and build its module tree on the
`meta` device (no memory is allocated for weights), then ask the editor the very questions a worker
would ask: EditorConfig.for_model on that tree, whose EditorError is one line.
"""

import functools
import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

from apps.modellines.editing import base_model_path, editor_config

# Files a Hugging Face directory holds besides config.json: weights and a tokenizer (either kind).
_WEIGHTS = ("*.safetensors", "*.bin")
_TOKENIZER = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def _is_local(name: str) -> bool:
    return Path(name).exists() or name.startswith((".", "/", "~")) or bool(Path(name).suffix)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__


def _check_directory(path: Path, shown: str) -> None:
    if not path.is_dir():
        raise ValidationError({"base_model": f"model directory {shown} does not exist on this server"})
    if not (path / "config.json").is_file():
        raise ValidationError({"base_model": f"{shown} has no config.json: not a Hugging Face model directory"})
    if not any(next(path.glob(pattern), None) for pattern in _WEIGHTS):
        raise ValidationError({"base_model": f"{shown} holds no weights (*.safetensors or *.bin)"})
    if not any((path / name).is_file() for name in _TOKENIZER):
        raise ValidationError({"base_model": f"{shown} holds no tokenizer (tokenizer.json or tokenizer_config.json)"})


@functools.lru_cache(maxsize=8)
def _skeleton(config_dir: str, config_mtime: float) -> Any:
    """The model's modules on the meta device (shapes only, no storage); cached per config file version."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(config_dir)
    if type(config) not in AutoModelForCausalLM._model_mapping:
        raise ValidationError(
            {"base_model": f"{config_dir} is a {config.model_type} model, not a causal language model"}
        )
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def skeleton_of(base_model: str) -> Any | None:
    """The line's model as a module tree without weights; None when it is a hub id not cached here
    (a worker downloads it; only it can tell). Raises ValidationError on `base_model`."""
    name = base_model_path(base_model)
    if not _is_local(name):
        from transformers.utils import cached_file

        try:
            config_file = cached_file(name, "config.json", local_files_only=True)
        except OSError:
            return None
        path = Path(config_file).parent
    else:
        path = Path(name).expanduser()
        if not base_model and not path.is_dir():
            return None  # the bundled model is prepared by `make run` and the workers, not yet here
        _check_directory(path, name)
    config_file = path / "config.json"
    try:
        json.loads(config_file.read_text())
        return _skeleton(str(path), config_file.stat().st_mtime)
    except ValidationError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise ValidationError({"base_model": f"{name}: transformers cannot read its config: {_one_line(exc)}"}) from exc


def check_line_model(base_model: str, edited_modules: list[str], editor_settings: dict) -> None:
    """Refuse (ValidationError by field, one line each) what a worker would refuse of this line's model."""
    from editor import EditorConfig, EditorError
    from editor.model import LoadedModel, check_modules, family_of

    if not isinstance(editor_settings, dict):
        raise ValidationError({"editor_settings": "must be a JSON object of editor settings"})
    if "modules" in editor_settings:
        raise ValidationError({"editor_settings": "list the modules to edit under edited_modules, not here"})
    skeleton = skeleton_of(base_model)
    if skeleton is None:
        try:  # without the model's structure: the settings' own rules still hold
            EditorConfig.from_dict(editor_settings)
        except (EditorError, TypeError) as exc:
            raise ValidationError({"editor_settings": _one_line(exc)}) from exc
        return
    if edited_modules:
        try:
            check_modules(skeleton, list(edited_modules))
        except EditorError as exc:
            raise ValidationError({"edited_modules": _one_line(exc)}) from exc
    import torch

    loaded = LoadedModel(
        model=skeleton, tokenizer=None, device=torch.device("meta"), family=family_of(skeleton), name=base_model
    )
    try:
        editor_config(loaded, edited_modules, editor_settings)
    except EditorError as exc:
        field = "edited_modules" if not edited_modules and "default modules" in str(exc) else "editor_settings"
        raise ValidationError({field: _one_line(exc)}) from exc
    except TypeError as exc:  # a setting of the wrong kind, e.g. {"steps": "four"}
        raise ValidationError({"editor_settings": _one_line(exc)}) from exc
