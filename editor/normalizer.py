"""The lifelong normaliser: running mean and variance of z = [k; g] per module shape.

Statistics are merged batch by batch with Chan et al.'s parallel update (Welford for one
batch), in float64 so that millions of rows merged one batch at a time give the same mean
and variance as computing them over all rows at once. The state is a count and two vectors
per shape, whatever the number of edits.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from .errors import EditorError

EPS = 1e-6


def shape_key(d_in: int, d_out: int) -> str:
    return f"{d_in}x{d_out}"


COV = "cov::"


class Normalizer:
    """Also holds, for Amend's default method, the running sum of k k^T of every edit key seen
    per module (d_in x d_in, fixed size): the ridge then keeps earlier edits where they are.

    Updates replace a key's tensors and never write into them, so ``copy`` (a snapshot to roll back
    to) shares them instead of duplicating tens of megabytes per batch."""

    def __init__(self) -> None:
        # shape key -> (count, mean (d,), m2 (d,)) with d = d_in + d_out; m2 = sum of squared deviations
        self._stats: dict[str, tuple[int, torch.Tensor, torch.Tensor]] = {}
        # module name -> (count, sum of k k^T (d_in, d_in) float64)
        self._cov: dict[str, tuple[int, torch.Tensor]] = {}

    def copy(self) -> Normalizer:
        """An independent normaliser with the same statistics (its tensors shared: none is written in place)."""
        twin = Normalizer()
        twin._stats = dict(self._stats)
        twin._cov = dict(self._cov)
        return twin

    def update_keys(self, module: str, keys: torch.Tensor) -> None:
        """Add edit keys (N, d_in) to the module's running k k^T sum."""
        k = keys.detach().to("cpu", torch.float64)
        n, total = self._cov.get(module, (0, torch.zeros(k.shape[1], k.shape[1], dtype=torch.float64)))
        gram = k.T @ k  # (d_in, d_in); made exactly symmetric so that its stored upper triangle is all of it
        self._cov[module] = (n + k.shape[0], total + (gram + gram.T) / 2)

    def key_sum(self, module: str) -> torch.Tensor | None:
        """Sum of k k^T over every edit key seen by ``module`` (float64), or None."""
        return self._cov[module][1] if module in self._cov else None

    def update(self, key: str, rows: torch.Tensor, count: int | None = None) -> None:
        """Merge rows (N, d) into the statistics of ``key``. count: the rows' mean and variance weigh as
        this many rows (a prior's strength); None = N."""
        rows = rows.detach().to("cpu", torch.float64)
        n_b = rows.shape[0]
        if n_b == 0:
            return
        mean_b = rows.mean(dim=0)
        m2_b = ((rows - mean_b) ** 2).sum(dim=0)
        if count is not None:
            m2_b, n_b = m2_b * (count / n_b), count
        if key not in self._stats:
            self._stats[key] = (n_b, mean_b, m2_b)
            return
        n_a, mean_a, m2_a = self._stats[key]
        if mean_a.shape != mean_b.shape:
            raise EditorError(
                f"normaliser state for shape {key} has width {mean_a.shape[0]}, rows have {rows.shape[1]}"
            )
        n = n_a + n_b
        delta = mean_b - mean_a
        mean = mean_a + delta * (n_b / n)
        m2 = m2_a + m2_b + delta**2 * (n_a * n_b / n)
        self._stats[key] = (n, mean, m2)

    def count(self, key: str) -> int:
        return self._stats[key][0] if key in self._stats else 0

    def mean_std(self, key: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Population mean and standard deviation (float64) of every row merged so far."""
        if key not in self._stats:
            raise EditorError(f"normaliser has no statistics for shape {key}")
        n, mean, m2 = self._stats[key]
        return mean, (m2 / n).sqrt()

    def normalize(self, key: str, rows: torch.Tensor) -> torch.Tensor:
        """(rows - mean) / (std + eps), in the rows' dtype and device."""
        mean, std = self.mean_std(key)
        mean = mean.to(rows.device, rows.dtype)
        std = std.to(rows.device, rows.dtype)
        return (rows - mean) / (std + EPS)

    @property
    def keys(self) -> list[str]:
        return sorted(self._stats)

    @property
    def nbytes(self) -> int:
        stats = sum(m.numel() * m.element_size() + v.numel() * v.element_size() for _, m, v in self._stats.values())
        return stats + sum(c.numel() * c.element_size() for _, c in self._cov.values())

    def state_dict(self) -> dict[str, torch.Tensor]:
        state: dict[str, torch.Tensor] = {}
        for key, (n, mean, m2) in self._stats.items():
            state[f"{key}.count"] = torch.tensor([n], dtype=torch.int64)
            state[f"{key}.mean"] = mean.clone()
            state[f"{key}.m2"] = m2.clone()
        for module, (n, total) in self._cov.items():
            state[f"{COV}{module}.count"] = torch.tensor([n], dtype=torch.int64)
            # The sum is symmetric: its upper triangle (d_in (d_in + 1) / 2,) is all of it, in half the bytes.
            rows, cols = torch.triu_indices(*total.shape)
            state[f"{COV}{module}.triu"] = total[rows, cols].clone()
        return state

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> Normalizer:
        norm = cls()
        for name in {k.rsplit(".", 1)[0] for k in state if k.startswith(COV)}:
            try:
                n = int(state[f"{name}.count"].reshape(-1)[0])
                total = _key_sum(state, name)
            except KeyError as exc:
                raise EditorError(f"normaliser state is missing {exc.args[0]!r}") from None
            norm._cov[name[len(COV) :]] = (n, total)
        keys = {k.rsplit(".", 1)[0] for k in state if not k.startswith(COV)}
        for key in keys:
            try:
                n = int(state[f"{key}.count"].reshape(-1)[0])
                mean = state[f"{key}.mean"].to(torch.float64).clone()
                m2 = state[f"{key}.m2"].to(torch.float64).clone()
            except KeyError as exc:
                raise EditorError(f"normaliser state is missing {exc.args[0]!r}") from None
            if mean.shape != m2.shape or mean.dim() != 1 or n <= 0:
                raise EditorError(f"normaliser state for shape {key} is inconsistent")
            norm._stats[key] = (n, mean, m2)
        return norm

    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        save_file(self.state_dict(), str(path))

    @classmethod
    def load(cls, path: str | Path) -> Normalizer:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return cls.from_state_dict(load_file(str(path)))
        except (OSError, SafetensorError) as exc:
            raise EditorError(f"cannot read normaliser state {str(path)!r}: {exc}") from None


def _key_sum(state: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    """The (d_in, d_in) float64 sum from its stored upper triangle, or whole as states before it were stored."""
    if f"{name}.sum" in state:
        return state[f"{name}.sum"].to(torch.float64).clone()
    triu = state[f"{name}.triu"].to(torch.float64)  # (d_in (d_in + 1) / 2,)
    d_in = int((math.isqrt(8 * triu.numel() + 1) - 1) // 2)
    if d_in * (d_in + 1) // 2 != triu.numel():
        raise EditorError(f"normaliser state {name}.triu has {triu.numel()} values: not a triangle")
    rows, cols = torch.triu_indices(d_in, d_in)
    total = torch.zeros(d_in, d_in, dtype=torch.float64)
    total[rows, cols] = triu
    total[cols, rows] = triu
    return total
