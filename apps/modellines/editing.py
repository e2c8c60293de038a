"""How a model line becomes the editor's input: the one translation, asked by the web app when it checks
a line and by the worker when it loads one (a line's fields, saved or not yet saved)."""

from typing import Any

from django.conf import settings


def base_model_path(base_model: str) -> str:
    """Where the line's base checkpoint is: its own directory or hub id, else the bundled model."""
    return base_model or str(settings.AMEND_BASE_MODEL_DIR)


def editor_config(loaded: Any, edited_modules: list[str], editor_settings: dict[str, Any]) -> Any:
    """The editor.EditorConfig a worker edits this line with: the model family's defaults, then the line's
    own settings and modules (empty: the family's). Raises editor.EditorError (or TypeError for a setting
    of the wrong kind) on what the editor refuses."""
    from editor import EditorConfig

    return EditorConfig.for_model(loaded, **editor_settings, modules=list(edited_modules) or None)
