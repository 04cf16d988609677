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
