"""Versions: base weights + an ordered chain of deltas, rebuilt bit for bit anywhere, in a time that
does not grow with the lineage.

The rule. Per edited module, a chain state S is an fp32 matrix in the module's native layout:
    S_0 = the base weight (fp32)
    S_k = fp32(S_{k-1} + P_k)      one step per delta of the chain, in order
where P_k is the delta's dense product, exact in float64 (exact.py), and S_{k-1} + P_k is one float64
addition per element (both operands are exact float64 values) rounded once to float64, then once to
fp32. A version's weights are its S_n cast to the model dtype; `content_hash` covers them.

Why every machine gets the same bits: P_k is exact whatever the BLAS; an addition and two roundings
per element are correctly rounded IEEE operations, with no reduction whose order could vary.
Why it is fast: S_k depends only on S_{k-1} and delta k, so a stored S_k (a `Snapshot`) continues the
chain exactly. Rebuilding version n costs loading the nearest snapshot plus one GEMM per module for each
delta after it, never n deltas, and never a Python loop over rank-1 terms.

(Versions recorded before this rule summed every rank-1 term in float64 and rounded once at the end;
their hashes differ. `legacy.py` rebuilds them.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from .delta import Delta
from .errors import EditorError, NonFiniteEditError
from .exact import exact_product
from .model import LoadedModel, check_modules, get_module, module_kind

RULE = 2  # the materialisation rule above; 1 is legacy.py's


@dataclass
class Snapshot:
    """fp32 CPU copies of the edited modules' weights, native layout (nn.Linear: d_out x d_in; Conv1D:
    d_in x d_out): the base (covers 0 deltas) or a version's chain state after its first `covers` deltas."""

    weights: dict[str, torch.Tensor]
    kinds: dict[str, str]  # module -> "linear" | "conv1d": how a (d_in, d_out) delta lands on the weight
    covers: int = 0

    @classmethod
    def capture(cls, loaded: LoadedModel, modules: list[str]) -> Snapshot:
        check_modules(loaded.model, modules)
        found = {n: get_module(loaded.model, n) for n in modules}
        return cls(
            {n: m.weight.detach().to("cpu", torch.float32).clone() for n, m in found.items()},
            {n: module_kind(m) for n, m in found.items()},
        )

    @property
    def modules(self) -> list[str]:
        return list(self.weights)

    @property
    def nbytes(self) -> int:
        return sum(w.numel() * w.element_size() for w in self.weights.values())

    def digest(self) -> str:
        """content_hash of these fp32 weights (the version's own hash when the model is fp32)."""
        return _hash_weights(self.weights.items())

    def check_deltas(self, deltas: list[Delta], first: int = 1) -> None:
        """Refuse (nothing computed) a delta that is non-finite, edits a module not held, or has the wrong shape."""
        for i, d in enumerate(deltas, start=first):
            if not d.is_finite():
                raise NonFiniteEditError(f"delta {i} holds non-finite values; the model is unchanged")
            for name, (u, r) in d.factors.items():
                if name not in self.weights:
                    raise EditorError(f"delta {i} edits {name!r}, which the base snapshot does not hold")
                w = self.weights[name]
                d_in, d_out = (w.shape[1], w.shape[0]) if self.kinds[name] == "linear" else tuple(w.shape)
                if (u.shape[0], r.shape[1]) != (d_in, d_out):
                    raise EditorError(f"delta {i} for {name!r} is {u.shape[0]}x{r.shape[1]}, the module {d_in}x{d_out}")

    @torch.no_grad()
    def advance(self, deltas: list[Delta], device: torch.device | str = "cpu") -> Snapshot:
        """The chain state after `deltas` more steps (module docstring); self is not changed.
        `device` only decides where the arithmetic runs (a GPU is faster on 7B-sized modules): the
        bits are the same on any device."""
        self.check_deltas(deltas, first=self.covers + 1)
        weights = {n: w.to(device) for n, w in self.weights.items()}
        for i, d in enumerate(deltas, start=self.covers + 1):
            for name, (u, r) in d.factors.items():  # u: (d_in, rank), r: (rank, d_out)
                linear = self.kinds[name] == "linear"
                step = exact_product(u.to(device), r.to(device), transpose=linear)  # float64, native layout
                step.add_(weights[name])  # += fp32 promoted exactly: one float64 rounding per element
                new = step.to(torch.float32)
                if not torch.isfinite(new).all():
                    raise NonFiniteEditError(f"delta {i} overflows the weights of {name!r}; the model is unchanged")
                weights[name] = new
        cpu = {n: w.to("cpu") for n, w in weights.items()}
        return Snapshot(cpu, dict(self.kinds), self.covers + len(deltas))

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        meta = {"kinds": json.dumps(self.kinds), "covers": str(self.covers), "digest": self.digest(), "rule": str(RULE)}
        save_file({n: w.contiguous() for n, w in self.weights.items()}, str(path), metadata=meta)

    @classmethod
    def load(cls, path: str | Path) -> Snapshot:
        """A saved snapshot, refused if its bytes no longer match the digest written with it."""
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = fh.metadata() or {}
                kinds = json.loads(meta["kinds"])
                snapshot = cls({n: fh.get_tensor(n) for n in kinds}, kinds, int(meta["covers"]))
        except (OSError, SafetensorError, KeyError, ValueError) as exc:
            raise EditorError(f"cannot read snapshot {str(path)!r}: {exc}") from None
        if meta.get("rule") != str(RULE) or snapshot.digest() != meta.get("digest"):
            raise EditorError(f"snapshot {str(path)!r} does not match the digest it was written with")
        return snapshot


def snapshot_due(ranks_since_snapshot: Iterable[int], every_rank: int) -> bool:
    """Whether a version should store its chain state: a rebuild from the nearest snapshot would add
    `every_rank` rank-1 terms or more (rebuild work is about rank x d_in x d_out per module)."""
    return sum(ranks_since_snapshot) >= every_rank


@torch.no_grad()
def hold_weights(loaded: LoadedModel, state: Snapshot) -> str:
    """Write a chain state into the model (cast to its dtype) and return the content hash."""
    check_modules(loaded.model, state.modules)
    for name, w in state.weights.items():
        weight = get_module(loaded.model, name).weight
        if tuple(weight.shape) != tuple(w.shape):
            raise EditorError(f"snapshot of {name!r} has shape {tuple(w.shape)}, the model {tuple(weight.shape)}")
    for name, w in state.weights.items():
        weight = get_module(loaded.model, name).weight
        weight.copy_(w.to(weight.dtype).to(weight.device))
    return content_hash(loaded, state.modules)


def write_version_weights(loaded: LoadedModel, start: Snapshot, deltas: list[Delta]) -> str:
    """Set the edited modules to `start` advanced by `deltas` (module docstring); return content_hash.
    `start` is the base snapshot (then `deltas` is the whole chain) or any later snapshot of the chain."""
    return hold_weights(loaded, start.advance(deltas))


def content_hash(loaded: LoadedModel, modules: list[str]) -> str:
    """sha256 over (name, dtype, shape, bytes) of each edited weight, modules in sorted order."""
    return _hash_weights((n, get_module(loaded.model, n).weight) for n in modules)


def _hash_weights(weights: Iterable[tuple[str, torch.Tensor]]) -> str:
    h = hashlib.sha256()
    for name, weight in sorted(weights, key=lambda item: item[0]):
        w = weight.detach().to("cpu").contiguous()
        h.update(name.encode())
        h.update(str(w.dtype).encode())
        h.update(str(tuple(w.shape)).encode())
        h.update(w.view(torch.uint8).numpy().tobytes() if w.dtype == torch.bfloat16 else w.numpy().tobytes())
    return h.hexdigest()
