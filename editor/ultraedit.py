"""UltraEdit's arithmetic: pseudo-values from normalised (k, g) rows, and the closed-form ridge.

Ridge: Delta = argmin ||K D - V||^2 + D^T A D = (K^T K + A)^-1 K^T V, with K (n, d_in) the raw
keys, V (n, d_out) the pseudo-values and A = lambda I (the paper) or lambda I + mu C0 (Amend's
preservation term). The push-through identity gives the same matrix as
A^-1 K^T (K A^-1 K^T + I)^-1 V, an n x n system; whichever of n and d_in is smaller is solved.
Both return thin factors (U (d_in, n), R (n, d_out)) with Delta = U @ R. All in fp32.
"""

from __future__ import annotations

import torch


def pseudo_values(k_hat: torch.Tensor, g_hat: torch.Tensor, lr: float) -> torch.Tensor:
    """The paper's target shift: v_t = -lr * ||k_hat_t||^2 * g_hat_t. k_hat (n, d_in), g_hat (n, d_out)."""
    return -lr * (k_hat**2).sum(dim=1, keepdim=True) * g_hat  # (n, d_out)


def ridge_factors(
    keys: torch.Tensor,
    values: torch.Tensor,
    lam: float,
    *,
    reg: torch.Tensor | None = None,
    reg_inv: torch.Tensor | None = None,
    solve: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Thin factors of (K^T K + A)^-1 K^T V; A = lam I, or ``reg`` (d_in, d_in, SPD) with its inverse
    ``reg_inv``. solve: "auto" (smaller system), "push" (n x n) or "direct" (d_in x d_in). Given only
    ``reg_inv`` (no ``reg``), "auto" solves the n x n system whatever n."""
    k = keys.float()  # (n, d_in)
    v = values.float()  # (n, d_out)
    n, d_in = k.shape
    if solve == "auto":
        solve = "push" if n < d_in or (reg is None and reg_inv is not None) else "direct"
    if solve == "push":
        if reg_inv is None:
            gram = k @ k.T + lam * torch.eye(n, dtype=k.dtype, device=k.device)  # (n, n)
            left = k.T  # (d_in, n)
        else:
            ka = k @ reg_inv  # (n, d_in); reg_inv is symmetric
            gram = ka @ k.T + torch.eye(n, dtype=k.dtype, device=k.device)
            left = ka.T
        return left.contiguous(), torch.linalg.solve(gram, v)
    if solve != "direct":
        raise ValueError(f"unknown solve {solve!r}")
    if reg is None and reg_inv is not None:
        raise ValueError("a direct solve needs reg itself, not only its inverse")
    a = lam * torch.eye(d_in, dtype=k.dtype, device=k.device) if reg is None else reg.float()
    system = k.T @ k + a  # (d_in, d_in)
    return torch.linalg.solve(system, k.T), v.contiguous()


def preservation_matrix(general_keys: torch.Tensor, lam: float, mu: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A = lam I + mu C0 and its inverse, C0 = mean of k k^T over general text (fixed per module).
    general_keys: (N0, d_in). Built in float64 for a well-conditioned inverse, returned in fp32."""
    k0 = general_keys.double()
    c0 = k0.T @ k0 / max(k0.shape[0], 1)  # (d_in, d_in)
    a = lam * torch.eye(k0.shape[1], dtype=torch.float64) + mu * c0
    a = (a + a.T) / 2
    return a.float(), torch.linalg.inv(a).float()


def null_space_projection(general_keys: torch.Tensor, protect: float) -> torch.Tensor:
    """AlphaEdit's null space: P = U U^T over the eigenvectors of C0 = mean k k^T of general text
    left after removing the top ones that together hold ``protect`` of its trace (0 < protect < 1).
    Keys projected by P solve to a Delta whose rows lie in that space, so k0 @ Delta ~ 0 for keys
    of general text. general_keys: (N0, d_in); returns (d_in, d_in) fp32."""
    k0 = general_keys.double()
    c0 = k0.T @ k0 / max(k0.shape[0], 1)  # (d_in, d_in)
    evals, evecs = torch.linalg.eigh((c0 + c0.T) / 2)  # ascending
    share = evals.flip(0).clamp(min=0).cumsum(0) / evals.clamp(min=0).sum().clamp(min=1e-30)
    top = int((share < protect).sum()) + 1  # smallest number of top directions holding ``protect``
    null = evecs[:, : max(evecs.shape[1] - top, 0)]  # (d_in, d_in - top)
    return (null @ null.T).float()
