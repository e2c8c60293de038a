"""How a model line becomes the editor's input: the one translation, asked by the web app when it checks
a line and by the worker when it loads one (a line's fields, saved or not yet saved)."""

import functools
import logging
from pathlib import Path
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)


def base_model_path(base_model: str) -> str:
    """Where the line's base checkpoint is: its own directory or hub id, else the bundled model."""
    return base_model or str(settings.AMEND_BASE_MODEL_DIR)


def editor_config(loaded: Any, edited_modules: list[str], editor_settings: dict[str, Any]) -> Any:
    """The editor.EditorConfig a worker edits this line with: the model family's defaults, then the line's
    own settings and modules (empty: the family's). Raises editor.EditorError (or TypeError for a setting
    of the wrong kind) on what the editor refuses."""
    from editor import EditorConfig

    return EditorConfig.for_model(loaded, **editor_settings, modules=list(edited_modules) or None)


@functools.lru_cache(maxsize=4)
def _tokenizer(path: str) -> Any:
    """The line's tokenizer alone (its tokenizer.json through the `tokenizers` library: no weights, no
    transformers import), loaded once per process; None when the line's model has none here to read."""
    from tokenizers import Tokenizer

    file = Path(path) / "tokenizer.json"
    if not file.is_file():
        log.warning("no tokenizer.json at %s: targets are not checked against the line's tokenizer", path)
        return None
    return Tokenizer.from_file(str(file))


def target_refusal(base_model: str, target: str) -> str:
    """Why the line's tokenizer cannot encode `target` as the editor will ("" when it can): it encodes to
    nothing, to unknown tokens, or to tokens that do not decode back to it."""
    tokenizer = _tokenizer(base_model_path(base_model))
    if tokenizer is None:
        return ""
    ids = tokenizer.encode(" " + target.strip(), add_special_tokens=False).ids
    if not ids:
        return "the model's tokenizer encodes it to nothing"
    unknown_token = getattr(tokenizer.model, "unk_token", None)
    unknown = tokenizer.token_to_id(unknown_token) if unknown_token else None
    if unknown is not None and unknown in ids:
        missing = sorted({c for c in target if unknown in tokenizer.encode(c, add_special_tokens=False).ids})
        return f"the model's tokenizer cannot encode {''.join(missing) or 'some of its characters'!r}"
    if " ".join(tokenizer.decode(ids).split()) != " ".join(target.split()):
        return "the model's tokenizer does not encode it faithfully (it decodes to other text)"
    return ""
