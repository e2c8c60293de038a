"""Loading a causal LM and finding the modules the editor changes.

The editor only ever touches two kinds of layer: ``nn.Linear`` (weight d_out x d_in) and
GPT-2's ``Conv1D`` (weight d_in x d_out). Everything else about a model is left to transformers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from .errors import EditorError

if TYPE_CHECKING:
    from .trunk_cache import TrunkCache

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}

# model_type -> (family, dotted name of the MLP output projection with {i} for the block index)
_FAMILIES: dict[str, tuple[str, str]] = {
    "gpt2": ("gpt2", "transformer.h.{i}.mlp.c_proj"),
    "gptj": ("gptj", "transformer.h.{i}.mlp.fc_out"),
    "gpt_neox": ("gpt_neox", "gpt_neox.layers.{i}.mlp.dense_4h_to_h"),
    "opt": ("opt", "model.decoder.layers.{i}.fc2"),
    "llama": ("llama", "model.layers.{i}.mlp.down_proj"),
    "mistral": ("llama", "model.layers.{i}.mlp.down_proj"),
    "mixtral": ("llama", "model.layers.{i}.mlp.down_proj"),
    "qwen2": ("llama", "model.layers.{i}.mlp.down_proj"),
    "qwen3": ("llama", "model.layers.{i}.mlp.down_proj"),
    "gemma": ("llama", "model.layers.{i}.mlp.down_proj"),
    "gemma2": ("llama", "model.layers.{i}.mlp.down_proj"),
    "phi3": ("llama", "model.layers.{i}.mlp.down_proj"),
}


@dataclass
class LoadedModel:
    model: nn.Module
    tokenizer: object
    device: torch.device
    family: str
    name: str
    # Set by an owner that only ever writes the modules it edits (a worker's line): teacher-forced passes then
    # reuse the lower blocks' output per prompt (editor/trunk_cache.py). None: every pass runs the whole model.
    trunk_cache: TrunkCache | None = None

    def keep_trunk(self, modules: list[str], budget_bytes: int) -> None:
        """Remember, per token sequence, the input of the lowest block among ``modules`` (dotted names): the
        caller promises that nothing below them changes (a change in place is detected and drops the cache)."""
        from .trunk_cache import TrunkCache

        self.trunk_cache = TrunkCache(self.model, [get_module(self.model, n) for n in modules], budget_bytes)

    @property
    def context_length(self) -> int:
        cfg = self.model.config
        for attr in ("n_positions", "max_position_embeddings", "n_ctx", "seq_length"):
            value = getattr(cfg, attr, None)
            if isinstance(value, int) and value > 0:
                return value
        return 2048

    @property
    def num_layers(self) -> int:
        cfg = self.model.config
        for attr in ("n_layer", "num_hidden_layers", "num_layers"):
            value = getattr(cfg, attr, None)
            if isinstance(value, int) and value > 0:
                return value
        raise EditorError(f"cannot tell how many layers model {self.name!r} has")


def family_of(model: nn.Module) -> str:
    model_type = getattr(model.config, "model_type", "")
    return _FAMILIES.get(model_type, ("other", ""))[0]


def mlp_out_name(model: nn.Module, layer: int) -> str:
    """Dotted name of the MLP output projection of block ``layer`` for a known family."""
    model_type = getattr(model.config, "model_type", "")
    if model_type not in _FAMILIES:
        raise EditorError(
            f"no default modules for model type {model_type!r}; pass --modules with dotted names of Linear layers"
        )
    return _FAMILIES[model_type][1].format(i=layer)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise EditorError(f"unknown device {device!r}: use auto, cpu or cuda[:N]") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EditorError(f"device {device!r} asked for but CUDA is not available here")
    return dev


def load_model(name_or_path: str, *, device: str = "auto", dtype: str = "fp32") -> LoadedModel:
    """Load a causal LM and its tokenizer for editing (eval mode, gradients off)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the CLI's stderr is for one-line errors and our own progress bar
    if dtype not in DTYPES:
        raise EditorError(f"unknown dtype {dtype!r}: use one of {', '.join(DTYPES)}")
    dev = resolve_device(device)
    local = Path(name_or_path)
    if not local.exists() and (name_or_path.startswith((".", "/")) or local.suffix):
        raise EditorError(f"model directory {name_or_path!r} does not exist")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=DTYPES[dtype])
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EditorError(f"cannot load model {name_or_path!r}: {first}") from exc
    model.to(dev).eval()
    model.requires_grad_(False)
    return LoadedModel(model=model, tokenizer=tokenizer, device=dev, family=family_of(model), name=str(name_or_path))


def wrap_model(model: nn.Module, tokenizer: object, name: str = "in-memory") -> LoadedModel:
    """Wrap a model already in memory (tests, callers that built their own)."""
    model.eval()
    model.requires_grad_(False)
    device = next(model.parameters()).device
    return LoadedModel(model=model, tokenizer=tokenizer, device=device, family=family_of(model), name=name)


def module_kind(module: nn.Module) -> str:
    """``"linear"`` or ``"conv1d"``; anything else cannot be edited."""
    if isinstance(module, nn.Linear):
        return "linear"
    if type(module).__name__ == "Conv1D" and hasattr(module, "weight") and module.weight.dim() == 2:
        return "conv1d"
    return ""


def get_module(model: nn.Module, name: str) -> nn.Module:
    """The editable module called ``name``; EditorError if it is missing or of the wrong kind."""
    try:
        module = model.get_submodule(name)
    except AttributeError:
        raise EditorError(f"module {name!r} not found in the model") from None
    if not module_kind(module):
        raise EditorError(f"module {name!r} is a {type(module).__name__}, not a Linear or Conv1D layer")
    return module


def in_out_dims(module: nn.Module) -> tuple[int, int]:
    """(d_in, d_out) of an editable module."""
    w = module.weight
    return (w.shape[1], w.shape[0]) if module_kind(module) == "linear" else (w.shape[0], w.shape[1])


def check_modules(model: nn.Module, names: list[str]) -> None:
    if not names:
        raise EditorError("no modules to edit: give at least one dotted module name")
    if len(set(names)) != len(names):
        raise EditorError("a module is listed twice in the modules to edit")
    for name in names:
        get_module(model, name)
