"""Tests de profond.nn.theory et profond.nn.theory_gradients (TP « pourquoi la normalisation permet
de grands pas »)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from profond.nn import theory as th
from profond.nn import theory_gradients as tg

D = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------------
# Invariance d'échelle et dynamique de la norme
# --------------------------------------------------------------------------------------------
def test_scale_invariance_exact_without_eps_broken_with_eps():
    g = _gen()
    w, x = torch.randn(8, 5, dtype=D, generator=g), torch.randn(32, 5, dtype=D, generator=g)
    exact = th.scale_invariance_errors(w, x, 3.0, eps=1e-300)
    assert max(exact.values()) < 1e-13
    broken = th.scale_invariance_errors(w, x, 3.0, eps=1e-2)
    assert broken["sortie"] > 1e-4 and broken["cosinus"] > 1e-4


def test_mean_only_bn_is_not_scale_invariant():
    g = _gen(1)
    w, x = torch.randn(8, 5, dtype=D, generator=g), torch.randn(32, 5, dtype=D, generator=g)
    err = th.scale_invariance_errors(w, x, 2.0, layer=tg.MeanOnlyBatchNorm1d(8, affine=False))
    assert err["sortie"] > 0.1 and err["cosinus"] > 0.1
    # centrer est équivariant : C(aWx) = a C(Wx)
    y = x @ w.T
    assert_close(tg.centre_batch(2.0 * y), 2.0 * tg.centre_batch(y))
    assert_close(tg.centre_batch(y).mean(0), torch.zeros(8, dtype=D))


def test_predicted_sq_norms_and_effective_rate():
    assert_close(th.predicted_sq_norms(1.0, 0.5, [4.0, 4.0]), np.array([1.0, 2.0, 3.0]))
    assert_close(th.predicted_sq_norms(1.0, 0.5, [0.0], weight_decay=0.4), np.array([1.0, 0.64]))
    assert th.effective_rate(0.1, 4.0) == pytest.approx(0.025)
    with pytest.raises(ValueError):
        th.effective_rate(0.1, 0.0)


def test_equilibrium_is_fixed_point_of_recursion():
    lr, wd, g_unit = 0.3, 0.05, 2.5
    n = 10.0
    for _ in range(5000):  # N ← (1 − αλ)² N + α² G̃ / N
        n = (1 - lr * wd) ** 2 * n + lr * lr * g_unit / n
    assert n == pytest.approx(th.equilibrium_sq_norm(lr, wd, g_unit), rel=1e-10)
    with pytest.raises(ValueError):
        th.equilibrium_sq_norm(1.0, 3.0, 1.0)


def test_norm_growth_matches_prediction_in_training():
    h = th.train_sgd_norms(th.make_invariant_mlp(hidden=(16, 16), bn_eps=1e-300), lr=0.5, steps=30)
    assert np.abs(h.dots).max() < 1e-10 * np.sqrt(h.sq_norms[:-1] * h.sq_grads).max()
    for layer in range(2):
        pred = th.predicted_sq_norms(h.sq_norms[0, layer], 0.5, h.sq_grads[:, layer])
        assert_close(h.sq_norms[:, layer], pred, rtol=1e-10, atol=0)
    assert h.sq_norms[-1, 0] > h.sq_norms[0, 0]  # la norme croît
    hw = th.train_sgd_norms(th.make_invariant_mlp(hidden=(16, 16), bn_eps=1e-300), lr=0.5, steps=30, weight_decay=0.1)
    pred = th.predicted_sq_norms(hw.sq_norms[0, 0], 0.5, hw.sq_grads[:, 0], weight_decay=0.1)
    assert_close(hw.sq_norms[:, 0], pred, rtol=1e-10, atol=0)


def test_same_effective_rate_same_directions():
    a = 4.0
    runs = [th.train_sgd_norms(th.make_invariant_mlp(hidden=(16, 16), bn_eps=1e-300, init_scale=s), lr=lr, steps=25,
                               other_lr=0.1, direction_every=5)
            for s, lr in ((1.0, 0.2), (a, 0.2 * a * a))]
    assert len(runs[0].directions) == 5
    for d0, d1 in zip(runs[0].directions, runs[1].directions):
        assert_close(d0, d1, rtol=0, atol=1e-12)
    assert_close(runs[0].effective_rates, runs[1].effective_rates, rtol=1e-10, atol=0)
    # un autre taux donne une autre trajectoire
    other = th.train_sgd_norms(th.make_invariant_mlp(hidden=(16, 16), bn_eps=1e-300, init_scale=a), lr=0.2, steps=25,
                               other_lr=0.1, direction_every=5)
    assert (other.directions[-1] - runs[0].directions[-1]).abs().max() > 1e-3


def test_training_is_reproducible_and_checks_inputs():
    h1 = th.train_sgd_norms(th.make_invariant_mlp(hidden=(8,)), lr=0.1, steps=5, seed=3)
    h2 = th.train_sgd_norms(th.make_invariant_mlp(hidden=(8,)), lr=0.1, steps=5, seed=3)
    assert np.array_equal(h1.sq_norms, h2.sq_norms) and np.array_equal(h1.loss, h2.loss)
    with pytest.raises(ValueError):
        th.train_sgd_norms(torch.nn.Sequential(torch.nn.Linear(64, 10)), lr=0.1, steps=2)
    with pytest.raises(ValueError):
        th.train_sgd_norms(th.make_invariant_mlp(hidden=(8,)), lr=-1.0, steps=2)
    with pytest.raises(TypeError):
        th.scale_invariance_errors([[1.0]], torch.ones(2, 1), 2.0)


# --------------------------------------------------------------------------------------------
# Santurkar et al., profondeur
# --------------------------------------------------------------------------------------------
def _reference_dx(x, g, gamma, eps):
    """∂L/∂x par l'autograd de torch.nn.functional.batch_norm (la référence)."""
    x = x.clone().requires_grad_(True)
    y = torch.nn.functional.batch_norm(x, None, None, gamma, torch.zeros_like(gamma), training=True, eps=eps)
    (y * g).sum().backward()
    return x.grad


@pytest.mark.parametrize("eps", [0.0, 1e-5, 0.5])
def test_santurkar_exact_norm_and_bound_against_torch(eps):
    gen = _gen(2)
    x = 3 + 2 * torch.randn(20, 6, dtype=D, generator=gen)
    g = torch.randn(20, 6, dtype=D, generator=gen)
    gamma = torch.rand(6, dtype=D, generator=gen) + 0.5
    ref = (_reference_dx(x, g, gamma, max(eps, 1e-300)) ** 2).sum(0)
    assert_close(tg.bn_input_grad_sq_norm(g, x, gamma, eps), ref)
    bound = tg.santurkar_bound(g, x, gamma, eps)
    assert (ref <= bound * (1 + 1e-12)).all()
    if eps == 0.0:
        assert_close(bound, ref)  # égalité : une projection orthogonale
    else:
        assert (bound - ref).min() > 0
    assert (tg.santurkar_bound(g, x, gamma, eps, sqrt_m=True) < ref).all()  # la forme en 1/√m est fausse ici


def test_bn_gradient_records_match_our_backward():
    model = th.make_invariant_mlp(hidden=(12, 12))
    gen = _gen(4)
    x, y = torch.randn(32, 64, dtype=D, generator=gen), torch.randint(0, 10, (32,), generator=gen)
    recs = tg.bn_gradient_records(model, x, y)
    assert len(recs) == 2
    for r in recs:
        assert_close((r["dx"] ** 2).sum(0), tg.bn_input_grad_sq_norm(r["g"], r["x"], r["gamma"], r["eps"]))
        assert_close(r["dx"], _reference_dx(r["x"], r["g"], r["gamma"], r["eps"]))
    with pytest.raises(ValueError):
        tg.bn_gradient_records(torch.nn.Sequential(torch.nn.Linear(64, 10)), x, y)


def test_deep_bn_gradient_explodes_plain_he_does_not():
    bn = tg.depth_gradient_ratios((3, 30), bn="all", seeds=(0, 1, 2), width=32, n_examples=64)
    assert min(bn[30]) > 10 * max(bn[3]) and min(bn[30]) > 50
    plain = tg.depth_gradient_ratios((30,), bn="none", seeds=(0, 1, 2), width=32, n_examples=64)
    assert max(plain[30]) < 10
    assert [type(m).__name__ for m in tg.make_deep_mlp(2, 4, bn="first")][:3] == ["Linear", "BatchNorm1d", "ReLU"]
    with pytest.raises(ValueError):
        tg.make_deep_mlp(2, bn="some")


# --------------------------------------------------------------------------------------------
# ZCA
# --------------------------------------------------------------------------------------------
def test_zca_against_svd_reference():
    gen = _gen(5)
    x = torch.randn(200, 6, dtype=D, generator=gen) @ torch.randn(6, 6, dtype=D, generator=gen)
    out = tg.zca_whiten(x, eps=0.0)
    xc = x - x.mean(0)
    _, s, vh = torch.linalg.svd(xc / np.sqrt(len(x)), full_matrices=False)
    ref = xc @ (vh.T / s) @ vh  # Σ^{-1/2} par la SVD
    assert_close(out, ref)
    assert_close(out.T @ out / len(x), torch.eye(6, dtype=D))
    assert_close(tg.whitening_matrix(x, 0.0), tg.whitening_matrix(x, 0.0).T)  # ZCA : symétrique
    with pytest.raises(ValueError):
        tg.zca_whiten(torch.ones(3))


def test_time_forward_backward_positive():
    t = tg.time_forward_backward(tg.zca_whiten, torch.randn(32, 8), number=2, repeats=2)
    assert t > 0
