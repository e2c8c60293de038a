"""A batch's change to the model: per edited module, two thin fp32 factors U (d_in, r) and
R (r, d_out) with Delta = U @ R (r = number of key rows solved for, <= n_edits x tokens).

Applying adds Delta to the weight (transposed for nn.Linear, whose weight is d_out x d_in).
A Delta that applied itself keeps the exact pre-apply weights of its modules until it is
removed, so apply-then-remove restores the weights bit for bit; a Delta loaded from disk and
removed is subtracted (exact up to rounding; for exact rollback materialise the version).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from .errors import EditorError, NonFiniteEditError
from .model import get_module, in_out_dims, module_kind


class Delta:
    def __init__(self, factors: dict[str, tuple[torch.Tensor, torch.Tensor]], meta: dict | None = None) -> None:
        self.factors = {
            n: (u.detach().float().contiguous(), r.detach().float().contiguous()) for n, (u, r) in factors.items()
        }
        for name, (u, r) in self.factors.items():
            if u.dim() != 2 or r.dim() != 2 or u.shape[1] != r.shape[0]:
                raise EditorError(f"delta factors for {name!r} have shapes {tuple(u.shape)} and {tuple(r.shape)}")
        self.meta = dict(meta or {})
        self._undo: dict[str, torch.Tensor] | None = None

    @property
    def modules(self) -> list[str]:
        return list(self.factors)

    @property
    def nbytes(self) -> int:
        return sum(u.numel() * u.element_size() + r.numel() * r.element_size() for u, r in self.factors.values())

    @property
    def rank(self) -> int:
        return max((u.shape[1] for u, _ in self.factors.values()), default=0)

    def is_finite(self) -> bool:
        return all(bool(torch.isfinite(u).all() and torch.isfinite(r).all()) for u, r in self.factors.values())

    def dense(self, name: str) -> torch.Tensor:
        """Delta of one module as (d_in, d_out) fp32."""
        u, r = self.factors[name]
        return u @ r

    def _check(self, model: nn.Module) -> list[nn.Module]:
        if not self.is_finite():
            raise NonFiniteEditError(
                "delta holds non-finite values (NaN or inf); it was not applied and the model is unchanged"
            )
        modules = []
        for name, (u, r) in self.factors.items():
            module = get_module(model, name)
            if in_out_dims(module) != (u.shape[0], r.shape[1]):
                raise EditorError(
                    f"delta for {name!r} is {u.shape[0]}x{r.shape[1]} but the module is "
                    f"{in_out_dims(module)[0]}x{in_out_dims(module)[1]}"
                )
            modules.append(module)
        return modules

    @torch.no_grad()
    def apply_to(self, model: nn.Module, *, keep_undo: bool = True) -> None:
        """Add the delta to the model's weights; refused (model unchanged) if anything is wrong.

        keep_undo=True keeps a copy of the edited weights so remove_from restores them exactly."""
        modules = self._check(model)
        new_weights = []
        for (name, _), module in zip(self.factors.items(), modules, strict=True):
            w = module.weight
            d = self.dense(name).to(w.device)  # (d_in, d_out)
            if module_kind(module) == "linear":
                d = d.T
            updated = (w.float() + d).to(w.dtype)
            if not torch.isfinite(updated).all():
                raise NonFiniteEditError(f"applying the delta to {name!r} overflows the weights; model unchanged")
            new_weights.append(updated)
        self._undo = (
            {n: m.weight.detach().clone() for n, m in zip(self.factors, modules, strict=True)} if keep_undo else None
        )
        for module, updated in zip(modules, new_weights, strict=True):
            module.weight.copy_(updated)

    @torch.no_grad()
    def remove_from(self, model: nn.Module) -> None:
        """Take the delta out again: exactly if this object applied it, else by subtraction."""
        modules = self._check(model)
        if self._undo is not None:
            for name, module in zip(self.factors, modules, strict=True):
                module.weight.copy_(self._undo[name].to(module.weight.device))
            self._undo = None
            return
        for name, module in zip(self.factors, modules, strict=True):
            w = module.weight
            d = self.dense(name).to(w.device)
            if module_kind(module) == "linear":
                d = d.T
            w.copy_((w.float() - d).to(w.dtype))

    @classmethod
    def concat(cls, deltas: list[Delta], meta: dict | None = None) -> Delta:
        """Deltas applied one after another as one delta (factors side by side: U1 R1 + U2 R2)."""
        names: list[str] = []
        for d in deltas:
            names += [n for n in d.factors if n not in names]
        factors = {}
        for name in names:
            parts = [d.factors[name] for d in deltas if name in d.factors]
            factors[name] = (torch.cat([u for u, _ in parts], dim=1), torch.cat([r for _, r in parts], dim=0))
        return cls(factors, meta)

    def compact(self) -> Delta:
        """The same change in the fewest numbers: the one rule for how a delta is stored. A module
        whose factors hold more numbers (rank x (d_in + d_out)) than its dense form (the product,
        computed in float64, beside an identity: d_in x d_out + min(d_in, d_out)^2) is stored dense.
        Materialising always reads the stored form, so this is exact for the version as recorded."""
        factors = {}
        for name, (u, r) in self.factors.items():  # u: (d_in, rank), r: (rank, d_out)
            d_in, d_out = u.shape[0], r.shape[1]
            if u.shape[1] * (d_in + d_out) > d_in * d_out + min(d_in, d_out) ** 2:
                factors[name] = dense_factors((u.double() @ r.double()).float())
            else:
                factors[name] = (u, r)
        return Delta(factors, self.meta)

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        tensors = {}
        for name, (u, r) in self.factors.items():
            tensors[f"{name}::U"] = u
            tensors[f"{name}::R"] = r
        save_file(tensors, str(path), metadata={"modules": json.dumps(self.modules), "meta": json.dumps(self.meta)})

    @classmethod
    def load(cls, path: str | Path) -> Delta:
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as fh:
                header = fh.metadata() or {}
                modules = json.loads(header.get("modules", "[]"))
                meta = json.loads(header.get("meta", "{}"))
                factors = {n: (fh.get_tensor(f"{n}::U"), fh.get_tensor(f"{n}::R")) for n in modules}
        except (OSError, SafetensorError, json.JSONDecodeError) as exc:
            raise EditorError(f"cannot read delta {str(path)!r}: {exc}") from None
        return cls(factors, meta)


def dense_factors(d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A dense (d_in, d_out) change as factors of rank min(d_in, d_out) (the FT baseline is full rank)."""
    d_in, d_out = d.shape
    if d_in <= d_out:
        return torch.eye(d_in, dtype=d.dtype), d
    return d, torch.eye(d_out, dtype=d.dtype)
