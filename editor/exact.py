"""A delta's dense product U @ R in float64, exact, so identical on every machine and BLAS.

A float64 GEMM sums its products in an order set by the library's blocking, thread count and
FMA use, so its rounding (and a version's content hash) would depend on the machine. The fix is
to make rounding impossible rather than to fix the order:

1. Round the factors to block floating point (`block_round`): each row i of U shares one power-of-two
   scale 2^(e_i - b) and each column k of R one scale 2^(f_k - b), with integer mantissas of
   magnitude <= 2^b. b = floor((53 - ceil(log2 r)) / 2) for inner size r (at most 24, fp32's own
   precision): b = 22 for r <= 512, 21 for r <= 2048.
2. Then every product U[i, j] R[j, k] is an integer of magnitude <= 2^(2b) times the one unit
   2^(e_i + f_k - 2b) of output element (i, k), and any partial sum of the r products, in any order
   and grouping, is an integer of magnitude <= r 2^(2b) <= 2^53 times that unit: exactly
   representable in float64. So every step of any GEMM (any blocking, any number of threads,
   fused multiply-add or not, CPU or GPU) is exact, and all return the same, exact matrix.
   (This assumes the classical algorithm, which MKL, OpenBLAS and cuBLAS use for DGEMM; a
   Strassen-like scheme would add unscaled inputs first.)

Scaling by powers of two is exact (powers built from their bits, never by exp2/pow), rounding to an
integer is round-half-to-even, amax and frexp are exact: step 1 is the same everywhere too.
Step 1 changes the delta by at most 2^-(b+1) of its row's (or column's) largest element: for
b >= 20 that is the size of fp32's own rounding of the weights it is added to.
"""

from __future__ import annotations

import torch


def mantissa_bits(rank: int) -> int:
    """Bits b per mantissa such that rank * 2^(2b) <= 2^53 (see the module docstring)."""
    return min(24, (53 - max(0, rank - 1).bit_length()) // 2)


def _pow2(exponent: torch.Tensor) -> torch.Tensor:
    """2.0 ** exponent as float64, written from its IEEE bits (exact; exponent in [-1022, 1023])."""
    return ((exponent.to(torch.int64) + 1023) << 52).view(torch.float64)


def block_round(x: torch.Tensor, dim: int, bits: int) -> torch.Tensor:
    """x (float64) with each slice along `dim` rounded to `bits`-bit integers times one power of two.

    For dim=1 each row shares a scale (U's rows), for dim=0 each column (R's columns)."""
    largest = x.abs().amax(dim=dim, keepdim=True)
    exponent = torch.frexp(largest).exponent.to(torch.int64)  # largest < 2^exponent (0 for an all-zero slice)
    return (x * _pow2(bits - exponent)).round_().mul_(_pow2(exponent - bits))


def exact_factors(u: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """u (d_in, rank), r (rank, d_out), any float dtype -> both in float64, block-rounded so that
    u @ r is computed exactly by any float64 GEMM."""
    bits = mantissa_bits(u.shape[1])
    return block_round(u.to(torch.float64), 1, bits), block_round(r.to(torch.float64), 0, bits)


def exact_product(u: torch.Tensor, r: torch.Tensor, *, transpose: bool = False) -> torch.Tensor:
    """The delta u @ r as float64 (d_in, d_out), or its transpose (d_out, d_in) for nn.Linear's
    layout, exact (module docstring): the same bits on every machine."""
    uq, rq = exact_factors(u, r)  # (d_in, rank), (rank, d_out)
    return rq.T @ uq.T if transpose else uq @ rq
