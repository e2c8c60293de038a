"""The ridge solve UltraEdit applies: the closed form is the ridge solution, whichever system is solved."""

import torch

from editor.ultraedit import preservation_matrix, pseudo_values, ridge_factors


def direct_ridge(k: torch.Tensor, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """argmin ||K D - V||^2 + tr(D^T A D), solved the textbook way in float64."""
    k, v, a = k.double(), v.double(), a.double()
    return torch.linalg.solve(k.T @ k + a, k.T @ v)


def test_closed_form_equals_direct_ridge_with_both_solves():
    torch.manual_seed(0)
    for n, d_in, d_out in [(5, 24, 7), (40, 12, 9)]:  # fewer rows than inputs, and more
        k, v = torch.randn(n, d_in), torch.randn(n, d_out)
        expected = direct_ridge(k, v, torch.eye(d_in))
        push = ridge_factors(k, v, 1.0, solve="push")
        direct = ridge_factors(k, v, 1.0, solve="direct")
        auto = ridge_factors(k, v, 1.0)
        for u, r in (push, direct, auto):
            assert u.shape == (d_in, n) and r.shape == (n, d_out)  # thin factors of rank <= n
            torch.testing.assert_close((u @ r).double(), expected, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(push[0] @ push[1], direct[0] @ direct[1], rtol=1e-4, atol=1e-5)


def test_preservation_term_solves_agree_with_the_direct_ridge():
    torch.manual_seed(1)
    k, v, general = torch.randn(6, 16), torch.randn(6, 5), torch.randn(50, 16)
    reg, reg_inv = preservation_matrix(general, lam=0.5, mu=3.0)
    expected = direct_ridge(k, v, 0.5 * torch.eye(16) + 3.0 * general.double().T @ general.double() / 50)
    for solve in ("push", "direct"):
        u, r = ridge_factors(k, v, 0.5, reg=reg, reg_inv=reg_inv, solve=solve)
        torch.testing.assert_close((u @ r).double(), expected, rtol=1e-4, atol=1e-5)


def test_given_only_the_inverse_the_ridge_solves_the_rows_system_for_any_number_of_rows():
    torch.manual_seed(2)
    general = torch.randn(50, 16)
    reg, reg_inv = preservation_matrix(general, lam=0.5, mu=3.0)
    for n in (6, 40):  # fewer rows than inputs, and more: both need only A^-1
        k, v = torch.randn(n, 16), torch.randn(n, 5)
        u, r = ridge_factors(k, v, 0.5, reg_inv=reg_inv)
        assert u.shape == (16, n)
        torch.testing.assert_close((u @ r).double(), direct_ridge(k, v, reg), rtol=1e-4, atol=1e-5)


def test_pseudo_values_follow_the_papers_rule():
    k_hat = torch.tensor([[1.0, 2.0], [0.0, 3.0]])
    g_hat = torch.tensor([[1.0, -1.0, 0.5], [2.0, 0.0, 1.0]])
    v = pseudo_values(k_hat, g_hat, lr=0.1)
    # v_t = -lr * ||k_hat_t||^2 * g_hat_t: squared norms 5 and 9
    torch.testing.assert_close(v, torch.tensor([[-0.5, 0.5, -0.25], [-1.8, 0.0, -0.9]]))
