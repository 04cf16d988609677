"""Tests de profond.init : variances des schémas, comparées aux fonctions de torch.nn.init, et
statistiques par couche sur des réseaux dont on connaît la réponse."""

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from profond import init, intro


def test_stds_match_torch_initialisers():
    w = torch.empty(300, 200)
    for ours, theirs in [
        (lambda g: nn.init.normal_(w.clone(), 0.0, init.he_std(200), generator=g),
         lambda g: nn.init.kaiming_normal_(w.clone(), nonlinearity="relu", generator=g)),
        (lambda g: nn.init.normal_(w.clone(), 0.0, init.glorot_std(200, 300), generator=g),
         lambda g: nn.init.xavier_normal_(w.clone(), generator=g)),
    ]:
        assert_close(ours(torch.Generator().manual_seed(0)), theirs(torch.Generator().manual_seed(0)))
    assert init.default_std(200) == pytest.approx(1 / math.sqrt(600))


def test_default_scheme_reproduces_nn_linear():
    torch.manual_seed(3)
    reference = nn.Linear(7, 5)
    torch.manual_seed(3)
    layer = nn.Linear(7, 5)
    torch.manual_seed(3)
    init.init_linear_(layer, "défaut")
    assert_close(layer.weight, reference.weight)
    assert_close(layer.bias, reference.bias)


@pytest.mark.parametrize("scheme, var", [("He", 2 / 400), ("Glorot", 2 / 700), ("défaut", 1 / 1200)])
def test_empirical_variance_of_each_scheme(scheme, var):
    layer = init.init_linear_(nn.Linear(400, 300), scheme, torch.Generator().manual_seed(0))
    # 120 000 poids : l'écart relatif de la variance empirique est de l'ordre de 0,5 %.
    assert layer.weight.var().item() == pytest.approx(var, rel=0.03)
    assert abs(layer.weight.mean().item()) < 0.01 * math.sqrt(var)
    if scheme != "défaut":
        assert torch.equal(layer.bias, torch.zeros(300))


def test_make_mlp_init_and_generator():
    a = intro.make_mlp([16, 32, 4], "relu", init="He", generator=torch.Generator().manual_seed(1))
    b = intro.make_mlp([16, 32, 4], "relu", init="He", generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert torch.equal(a[0].bias, torch.zeros(32))
    with pytest.raises(ValueError, match="scheme"):
        intro.make_mlp([2, 2], init="LeCun")
    with pytest.raises(TypeError, match="nn.Linear"):
        init.init_linear_(nn.ReLU(), "He")


def test_layer_statistics_on_a_hand_computed_network():
    # Deux couches linéaires identité puis somme, coût MSE contre zéro : tout se calcule à la main.
    net = nn.Sequential(nn.Linear(2, 2), nn.Identity(), nn.Linear(2, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
        net[0].bias.zero_()
        net[2].weight.fill_(1.0)
        net[2].bias.zero_()
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.0, 4.0]], dtype=torch.float64)
    y = torch.zeros(3, 1, dtype=torch.float64)
    stats = init.layer_statistics(net, x, y, nn.MSELoss())
    out = x.sum(dim=1, keepdim=True)  # a² = x1 + x2
    delta2 = 2 * out / 3  # ∂/∂a² de la moyenne des carrés
    delta1 = delta2.expand(3, 2)  # la couche 2 recopie l'erreur sur ses deux entrées
    assert stats.pre_std == pytest.approx([x.std().item(), out.std().item()])
    assert stats.delta_std == pytest.approx([delta1.std().item(), delta2.std().item()])
    assert stats.weight_grad_norm == pytest.approx([(delta1.T @ x).norm().item(), (delta2.T @ x).norm().item()])
    assert stats.delta_ratio == 1.0 and stats.activation_ratio == 1.0  # deux couches : une seule cachée
    assert all(p.grad is None for p in net.parameters())  # les gradients sont remis à zéro


def test_he_keeps_relu_signal_and_default_does_not():
    # Réseau large : la théorie {eq}`intro-eq-var-avant` s'applique presque exactement.
    x = torch.randn(512, 256, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 10, (512,), generator=torch.Generator().manual_seed(1))
    he = intro.make_mlp([256] * 8 + [10], "relu", init="He", generator=torch.Generator().manual_seed(2))
    s_he = init.layer_statistics(he, x, y)
    assert 0.8 < s_he.activation_ratio < 1.25 and 0.8 < s_he.delta_ratio < 1.25
    # La couche de sortie (10 neurones) divise l'erreur par ≈ √(256/10) : le facteur n_k / n_{k-1}.
    assert s_he.delta_std[-1] / s_he.delta_std[-2] == pytest.approx(math.sqrt(256 / 10), rel=0.25)
    default = intro.make_mlp([256] * 8 + [10], "relu", init="défaut", generator=torch.Generator().manual_seed(2))
    s_def = init.layer_statistics(default, x, y)
    assert s_def.delta_ratio > 100  # l'erreur est divisée par ≈ √6 à chaque couche
    assert s_def.pre_std[-2] == pytest.approx(init.default_std(256), rel=0.3)  # il ne reste que les biais
    sig = intro.make_mlp([256] * 8 + [10], "sigmoid", init="He", generator=torch.Generator().manual_seed(2))
    assert init.layer_statistics(sig, x, y).delta_ratio > 100


def test_init_experiment_shapes():
    res = init.init_experiment(("relu",), ("He",), depth=4, width=8, n_examples=32, seeds=(0, 1))
    runs = res[("relu", "He")]
    assert len(runs) == 2 and len(runs[0].pre_std) == 4 and len(runs[0].delta_std) == 4
    with pytest.raises(ValueError, match="depth"):
        init.init_experiment(depth=1)
