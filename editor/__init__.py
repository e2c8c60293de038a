"""Amend's lifelong knowledge editor: UltraEdit on any Hugging Face causal LM (no Django here)."""

from .config import EditorConfig
from .data import EditRequest, LocalityProbe, read_zsre
from .delta import Delta
from .editor import Editor
from .errors import EditorError
from .evaluate import (
    DEFAULT_FLUENCY_TEXT,
    EvalReport,
    LocalityBaseline,
    evaluate,
    locality_baseline,
    perplexity,
)
from .generate import generate_answer, greedy_answers, says_target
from .model import LoadedModel, load_model, wrap_model
from .normalizer import Normalizer
from .versions import Snapshot, content_hash, hold_weights, write_version_weights

__all__ = [
    "DEFAULT_FLUENCY_TEXT",
    "Delta",
    "EditRequest",
    "Editor",
    "EditorConfig",
    "EditorError",
    "EvalReport",
    "LoadedModel",
    "LocalityBaseline",
    "LocalityProbe",
    "Normalizer",
    "Snapshot",
    "content_hash",
    "evaluate",
    "generate_answer",
    "greedy_answers",
    "hold_weights",
    "load_model",
    "locality_baseline",
    "perplexity",
    "read_zsre",
    "says_target",
    "wrap_model",
    "write_version_weights",
]
