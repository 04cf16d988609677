import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from profond import intro, seed_everything


def test_two_linear_layers_collapse_to_one():
    g = seed_everything(0)
    first, second = nn.Linear(3, 4).double(), nn.Linear(4, 2).double()
    x = torch.randn(5, 3, dtype=torch.float64, generator=g)
    w, b = intro.collapse_linear(first.weight, first.bias, second.weight, second.bias)
    assert_close(second(first(x)), x @ w.T + b)
    with pytest.raises(ValueError, match="w2"):
        intro.collapse_linear(first.weight, first.bias, first.weight, first.bias)


def test_make_mlp_structure_and_errors():
    net = intro.make_mlp([4, 8, 8, 3], "sigmoid", dropout=0.1)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "Sigmoid", "Dropout", "Linear", "Sigmoid", "Dropout", "Linear"]
    with pytest.raises(ValueError, match="activation"):
        intro.make_mlp([2, 2], "softplus")
    with pytest.raises(ValueError, match="dropout"):
        intro.make_mlp([2, 2, 2], dropout=1.0)


def test_two_layer_net_matches_manual_computation():
    seed_everything(0)
    net = intro.TwoLayerNet(3, 5, 1)
    x = torch.randn(4, 3)
    manual = torch.tanh(x @ net.first.weight.T + net.first.bias) @ net.second.weight.T + net.second.bias
    assert_close(net(x), manual)


def test_output_gradients_saturated_sigmoid_is_tiny():
    z = torch.tensor([-6.0, 6.0, 0.0])  # la bonne classe (0) a un score très négatif
    g = intro.output_gradients(z, 0)
    p = torch.softmax(z, 0)
    assert_close(g["entropie croisée"], p - torch.tensor([1.0, 0.0, 0.0]))
    s = torch.sigmoid(z)
    assert_close(g["MSE sur one-hot"], 2 * (s - torch.tensor([1.0, 0.0, 0.0])) * s * (1 - s) / 3)
    assert abs(g["entropie croisée"][0]) > 100 * abs(g["MSE sur one-hot"][0])


def test_multilabel_and_penalties():
    t = intro.multilabel_targets(torch.arange(10))
    assert t.sum(dim=0).tolist() == [5.0, 5.0, 4.0]
    net = nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([[1.0, -2.0], [0.0, 3.0]]))
        net.bias.fill_(100.0)  # les biais ne sont pas pénalisés
    assert intro.l1_penalty(net, 0.1).item() == pytest.approx(0.6)
    assert intro.l2_penalty(net, 0.1).item() == pytest.approx(1.4)
    assert intro.multilabel_accuracy(torch.tensor([[2.0, -1.0, 0.5]]), torch.tensor([[1.0, 0.0, 0.0]])) == pytest.approx(2 / 3)


def test_sigmoid_gradients_vanish_more_than_relu():
    sig = intro.layer_gradient_norms("sigmoid", depth=8)
    relu = intro.layer_gradient_norms("relu", depth=8)
    assert len(sig.norms) == 8
    # Avec des sigmoïdes, le gradient de la première couche est des milliers de fois plus petit
    # que celui de la dernière ; avec ReLU, l'écart est bien moindre.
    assert sig.norms[-1] / sig.norms[0] > 1e4
    assert relu.norms[-1] / relu.norms[0] < 1e-2 * sig.norms[-1] / sig.norms[0]


def test_cross_entropy_beats_onehot_mse():
    h = intro.loss_comparison(epochs=4)
    ce, mse = h["entropie croisée"], h["MSE sur one-hot"]
    assert ce.metrics["val_accuracy"][-1] > 0.85
    assert ce.metrics["val_accuracy"][-1] > mse.metrics["val_accuracy"][-1] + 0.3


def test_overfitting_experiment_small_run():
    cfg = intro.OverfitConfig(epochs=3, n_train=60, hidden=16)
    h = intro.overfitting_experiment(cfg, variants=("aucune", "dropout", "augmentation", "écrêtage", "L1"))
    assert set(h) == {"aucune", "dropout", "augmentation", "écrêtage", "L1"}
    assert all(len(v.val_loss) == 3 for v in h.values())
    assert len(h["écrêtage"].grad_norm) == 3 * math.ceil(60 / cfg.batch_size) and not h["aucune"].grad_norm
    assert h["aucune"].train_loss != h["dropout"].train_loss
    with pytest.raises(ValueError, match="inconnue"):
        intro.overfitting_experiment(cfg, variants=("batchnorm",))


def test_clipping_prevents_divergence():
    h = intro.clipping_experiment(epochs=5)
    assert not math.isfinite(h["sans écrêtage"].val_loss[-1]) or h["sans écrêtage"].val_loss[-1] > 1e8
    assert h["avec écrêtage"].val_loss[-1] < h["avec écrêtage"].val_loss[0]


def test_schedule_experiment_onecycle_ends_lower():
    h = intro.schedule_experiment(epochs=3)
    assert h["OneCycleLR"].lr[-1] < 1e-3 < h["constant"].lr[-1]
    assert h["OneCycleLR"].train_loss[-1] < h["constant"].train_loss[-1]
