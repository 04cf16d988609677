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


def test_multilabel_targets_and_accuracy():
    t = intro.multilabel_targets(torch.arange(10))
    assert t.sum(dim=0).tolist() == [5.0, 5.0, 4.0]
    assert intro.multilabel_accuracy(torch.tensor([[2.0, -1.0, 0.5]]), torch.tensor([[1.0, 0.0, 0.0]])) == pytest.approx(2 / 3)


def test_loss_run_is_seeded_and_learns():
    a = intro.loss_run("entropie croisée", lr=0.1, seed=0, epochs=2)
    b = intro.loss_run("entropie croisée", lr=0.1, seed=0, epochs=2)
    assert a.as_dict() == b.as_dict()
    assert a.metrics["val_accuracy"][-1] > 0.8
    c = intro.loss_run("entropie croisée", lr=0.1, seed=1, epochs=2)
    assert c.batch_loss != a.batch_loss


def test_onehot_mse_needs_a_larger_rate():
    # À taux égal, le facteur 2σ'/K rend la MSE sur one-hot bien plus lente ; un taux 30 fois
    # plus grand compense une bonne partie de l'écart.
    ce = intro.loss_run("entropie croisée", lr=0.1, epochs=3)
    mse_same = intro.loss_run("MSE sur one-hot", lr=0.1, epochs=3)
    mse_big = intro.loss_run("MSE sur one-hot", lr=3.0, epochs=3)
    assert mse_same.metrics["val_accuracy"][-1] < ce.metrics["val_accuracy"][-1] - 0.3
    assert mse_big.metrics["val_accuracy"][-1] > mse_same.metrics["val_accuracy"][-1] + 0.3
    with pytest.raises(ValueError, match="loss"):
        intro.loss_run("hinge", lr=0.1)


def test_digits_tensors_still_importable_from_intro():
    from profond import data

    assert intro.digits_tensors is data.digits_tensors
