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
from .versions import BaseSnapshot, content_hash, write_version_weights

__all__ = [
    "DEFAULT_FLUENCY_TEXT",
    "BaseSnapshot",
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
    "content_hash",
    "evaluate",
    "generate_answer",
    "greedy_answers",
    "load_model",
    "locality_baseline",
    "perplexity",
    "read_zsre",
    "says_target",
    "wrap_model",
    "write_version_weights",
]
