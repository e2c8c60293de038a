"""Amend's lifelong knowledge editor: UltraEdit on any Hugging Face causal LM (no Django, Celery or MLflow).

The names below load on first use (PEP 562), so `from editor.metrics import ...` or
`from editor.errors import EditorError` in the web app does not import torch.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "EditorConfig": "config",
    "EditRequest": "data",
    "LocalityProbe": "data",
    "read_zsre": "data",
    "Delta": "delta",
    "Editor": "methods",
    "Prepared": "methods",
    "EditorError": "errors",
    "DEFAULT_FLUENCY_TEXT": "evaluation",
    "EvalReport": "evaluation",
    "LocalityBaseline": "evaluation",
    "evaluate": "evaluation",
    "locality_baseline": "evaluation",
    "perplexity": "evaluation",
    "generate_answer": "generate",
    "greedy_answers": "generate",
    "says_target": "generate",
    "LoadedModel": "model",
    "load_model": "model",
    "wrap_model": "model",
    "Normalizer": "normalizer",
    "Snapshot": "versions",
    "content_hash": "versions",
    "hold_weights": "versions",
    "write_version_weights": "versions",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'editor' has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
