"""Rule 1: how versions recorded before rule 2 (versions.py) were materialised, kept so they rebuild.

base (float64) + every rank-1 term U[:, j] R[j, :] of every delta, in order, one float64 addition
per term (each product of fp32 numbers is exact in float64), rounded once to fp32 at the end. Exact
and machine-independent, but version n costs n x rank full-size passes: slow on long lineages.
"""

from __future__ import annotations

import torch

from .delta import Delta
from .model import LoadedModel
from .versions import Snapshot, hold_weights


@torch.no_grad()
def rule1_state(base: Snapshot, deltas: list[Delta]) -> Snapshot:
    """The weights rule 1 gives `base` + `deltas` (base must cover no delta)."""
    base.check_deltas(deltas)
    weights = {}
    for name, w0 in base.weights.items():
        acc = w0.to(torch.float64).clone()  # native layout
        if base.kinds[name] == "linear":
            acc = acc.T.contiguous()  # (d_in, d_out) while summing
        for u, r in (d.factors[name] for d in deltas if name in d.factors):
            u64, r64 = u.to(torch.float64), r.to(torch.float64)
            for j in range(u64.shape[1]):
                acc.add_(torch.outer(u64[:, j], r64[j]))
        weights[name] = (acc.T if base.kinds[name] == "linear" else acc).to(torch.float32)
    return Snapshot(weights, dict(base.kinds), len(deltas))


def write_rule1_weights(loaded: LoadedModel, base: Snapshot, deltas: list[Delta]) -> str:
    return hold_weights(loaded, rule1_state(base, deltas))
