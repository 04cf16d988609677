"""Tests de profond.optim.pitfalls : contre-exemple de Reddi et al., réseaux résiduels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from profond.optim import pitfalls as pf


def test_reddi_problem_average_favours_minus_one():
    grads = [pf.reddi_gradient(t) for t in range(1, 7)]
    assert grads == [3.0, -1.0, -1.0, 3.0, -1.0, -1.0]
    assert np.mean(grads) > 0  # gradient moyen positif : l'optimum est au bord x = −1


def test_adam_goes_to_the_worst_point_and_amsgrad_does_not():
    adam = pf.online_adam_path(amsgrad=False, steps=1500)
    ams = pf.online_adam_path(amsgrad=True, steps=1500)
    assert adam[-100:].mean() > 0.9 and ams[-100:].mean() < -0.9
    assert np.all(np.abs(adam) <= 1.0) and np.all(np.abs(ams) <= 1.0)


def test_residual_mlp_shapes_and_identity_path():
    torch.manual_seed(0)
    plain = pf.ResidualMLP(4, 8, 3, 2, "tanh", residual=False)
    res = pf.ResidualMLP(4, 8, 3, 2, "tanh", residual=True, branch_scale=0.5)
    res.load_state_dict(plain.state_dict())
    x = torch.randn(5, 4)
    assert plain(x).shape == res(x).shape == (5, 2)
    with torch.no_grad():
        for layer in res.blocks:  # branches nulles : le bloc résiduel est l'identité
            layer.weight.zero_()
            layer.bias.zero_()
    h = torch.tanh(res.inp(x))
    torch.testing.assert_close(res(x), res.out(h))


def test_residual_keeps_the_gradient_where_the_plain_net_loses_it():
    r = pf.depth_gradient_ratios([15], "tanh", seeds=(0,), n_examples=64)
    assert r[("plat", 15)][0] > 100
    assert 0.3 < r[("résiduel, branches × 1/√L", 15)][0] < 3


def test_bad_input_is_explained_in_french():
    with pytest.raises(ValueError, match="activation"):
        pf.ResidualMLP(2, 2, 2, 2, "gelu")
    with pytest.raises(ValueError, match="strictement positif"):
        pf.online_adam_path(False, steps=0)


# --- Explosion du gradient et écrêtage -----------------------------------------------------------


def test_plain_net_init_has_the_requested_gain():
    torch.manual_seed(0)
    net = pf.plain_net(3, 2.0, width=256)
    for layer in net.blocks:
        assert abs(layer.weight.std().item() - 2.0 / 16) < 0.01 and torch.all(layer.bias == 0)
    assert not net.residual


def test_relu_gradient_norm_grows_like_the_gain_to_the_depth():
    he = np.linalg.norm(pf.block_gradient_norms(6, np.sqrt(2), seeds=(0,), n_examples=64))
    big = np.linalg.norm(pf.block_gradient_norms(6, 2.0, seeds=(0,), n_examples=64))
    assert big > 5 * he  # (2/√2)^6 = 8 en théorie
    ratios = pf.block_gradient_norms(12, 3.0, seeds=(0,), n_examples=64, activation="tanh")[0]
    assert ratios[0] / ratios[-1] > 20  # tanh : le gradient grandit en descendant vers l'entrée


def test_clipping_bounds_the_step_and_rescues_training():
    free = pf.clipping_run(None, seed=0, epochs=1)
    clipped = pf.clipping_run(1.0, seed=0, epochs=1)
    assert not np.isfinite(free.val_loss[-1])  # sans écrêtage : divergence
    assert np.isfinite(clipped.val_loss[-1]) and clipped.val_loss[-1] < 2.3
    assert len(clipped.grad_norm) == len(clipped.batch_loss) == 16
    assert free.grad_norm[0] == clipped.grad_norm[0] > 1.0  # même départ, même norme avant écrêtage


def test_clip_grad_norm_matches_its_formula_in_float64():
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(5, dtype=torch.float64))
    g = torch.randn(5, dtype=torch.float64) * 10
    p.grad = g.clone()
    norm = torch.nn.utils.clip_grad_norm_([p], 1.0)
    torch.testing.assert_close(norm, g.norm())
    torch.testing.assert_close(p.grad, g * min(1.0, 1.0 / (g.norm().item() + 1e-6)))


def test_clipped_fraction_and_errors():
    assert pf.clipped_fraction([0.5, 2.0, 1.0, 3.0], 1.0) == 0.5
    with pytest.raises(ValueError, match="vide"):
        pf.clipped_fraction([], 1.0)
    with pytest.raises(ValueError, match="strictement positif"):
        pf.clipped_fraction([1.0], 0.0)
    with pytest.raises(ValueError, match="strictement positif"):
        pf.plain_net(3, 0.0)
