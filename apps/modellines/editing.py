"""How a model line becomes the editor's input: the one translation, asked by the web app when it checks
a line and by the worker when it loads one (a line's fields, saved or not yet saved)."""

import functools
import logging
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
    """The line's tokenizer alone (no weights), loaded once per process; None when it cannot be loaded here."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        log.warning("tokenizer of %s not loaded, targets not checked against it: %s", path, exc)
        return None


def target_refusal(base_model: str, target: str) -> str:
    """Why the line's tokenizer cannot encode `target` as the editor will ("" when it can): it encodes to
    nothing, to unknown tokens, or to tokens that do not decode back to it."""
    tokenizer = _tokenizer(base_model_path(base_model))
    if tokenizer is None:
        return ""
    ids = list(tokenizer(" " + target.strip(), add_special_tokens=False)["input_ids"])
    if not ids:
        return "the model's tokenizer encodes it to nothing"
    unknown = tokenizer.unk_token_id
    if unknown is not None and unknown in ids:
        missing = sorted({c for c in target if unknown in tokenizer(c, add_special_tokens=False)["input_ids"]})
        return f"the model's tokenizer cannot encode {''.join(missing) or 'some of its characters'!r}"
    if " ".join(tokenizer.decode(ids, skip_special_tokens=True).split()) != " ".join(target.split()):
        return "the model's tokenizer does not encode it faithfully (it decodes to other text)"
    return ""
