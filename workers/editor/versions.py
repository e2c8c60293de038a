"""Versions: base weights + an ordered list of deltas, rebuilt bit for bit anywhere.

Materialising sets every edited module to cast(base_fp32 + sum of deltas, in order). The sum is
computed on the CPU in float64, one rank-1 term U[:, j] R[j, :] at a time in a fixed order:
the product of two fp32 numbers is exact in float64, so each term is exact, and the float64
additions happen in the same order on every machine, without a BLAS whose blocking (and so
rounding) differs between CPUs. The float64 sum is rounded once to fp32, then cast to the model
dtype. The result therefore depends only on the stored numbers, never on the hardware.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from .delta import Delta
from .errors import EditorError
from .model import LoadedModel, check_modules, get_module, module_kind


@dataclass
class BaseSnapshot:
    """fp32 CPU copies of the base weights of the edited modules, in their native layout."""

    weights: dict[str, torch.Tensor]

    @classmethod
    def capture(cls, loaded: LoadedModel, modules: list[str]) -> BaseSnapshot:
        check_modules(loaded.model, modules)
        return cls({n: get_module(loaded.model, n).weight.detach().to("cpu", torch.float32).clone() for n in modules})

    @property
    def modules(self) -> list[str]:
        return list(self.weights)


def _sum_in_order(base: torch.Tensor, terms: list[tuple[torch.Tensor, torch.Tensor]], transpose: bool) -> torch.Tensor:
    acc = base.to(torch.float64).clone()  # native layout
    if transpose:
        acc = acc.T.contiguous()  # (d_in, d_out) while summing
    for u, r in terms:
        u64, r64 = u.to(torch.float64), r.to(torch.float64)
        for j in range(u64.shape[1]):
            acc.add_(torch.outer(u64[:, j], r64[j]))
    return (acc.T if transpose else acc).to(torch.float32)


@torch.no_grad()
def write_version_weights(loaded: LoadedModel, base: BaseSnapshot, deltas: list[Delta]) -> str:
    """Set the edited modules to base + deltas (see module docstring) and return content_hash."""
    for i, d in enumerate(deltas):
        if not d.is_finite():
            raise EditorError(f"delta {i + 1} holds non-finite values; the model is unchanged")
        extra = sorted(set(d.modules) - set(base.modules))
        if extra:
            raise EditorError(f"delta {i + 1} edits {extra[0]!r}, which the base snapshot does not hold")
    check_modules(loaded.model, base.modules)
    new = {}
    for name, w0 in base.weights.items():
        module = get_module(loaded.model, name)
        if tuple(module.weight.shape) != tuple(w0.shape):
            raise EditorError(
                f"base snapshot of {name!r} has shape {tuple(w0.shape)}, the model {tuple(module.weight.shape)}"
            )
        terms = [d.factors[name] for d in deltas if name in d.factors]
        new[name] = _sum_in_order(w0, terms, transpose=module_kind(module) == "linear")
    for name, w in new.items():
        weight = get_module(loaded.model, name).weight
        weight.copy_(w.to(weight.dtype).to(weight.device))
    return content_hash(loaded, base.modules)


def content_hash(loaded: LoadedModel, modules: list[str]) -> str:
    """sha256 over (name, dtype, shape, bytes) of each edited weight, modules in sorted order."""
    h = hashlib.sha256()
    for name in sorted(modules):
        w = get_module(loaded.model, name).weight.detach().to("cpu").contiguous()
        h.update(name.encode())
        h.update(str(w.dtype).encode())
        h.update(str(tuple(w.shape)).encode())
        h.update(w.view(torch.uint8).numpy().tobytes() if w.dtype == torch.bfloat16 else w.numpy().tobytes())
    return h.hexdigest()
