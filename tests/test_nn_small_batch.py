"""Tests de :mod:`profond.nn.small_batch` (TP « Petits lots et réseaux résiduels »)."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from profond.compare import compare
from profond.data import digits_tensors
from profond.nn.batchnorm import BatchNorm1d
from profond.nn.small_batch import (
    batch_statistics_accuracy,
    make_small_batch_mlp,
    norm_layer,
    plot_scores_by_batch,
    small_batch_arm,
    train_small_batch,
    two_example_normalised,
)


def test_two_example_normalised_matches_batch_norm_float64():
    torch.manual_seed(0)
    x = torch.randn(2, 7, dtype=torch.float64) * 3
    x[:, 0] = torch.tensor([1.0, 1.001], dtype=torch.float64)  # écart de l'ordre de √ε : pas ±1
    ref = nn.functional.batch_norm(x, None, None, training=True, eps=1e-5)
    assert_close(two_example_normalised(x[0], x[1], eps=1e-5), ref[0])
    assert_close(-two_example_normalised(x[0], x[1], eps=1e-5), ref[1])
    ours = BatchNorm1d(7, dtype=torch.float64).train()(x)
    assert_close(ours[0], ref[0])
    # loin de √ε, ce n'est plus que le signe de la différence
    assert_close(two_example_normalised(x[0, 1:], x[1, 1:]).abs(), torch.ones(6, dtype=torch.float64), atol=1e-3, rtol=0)
    assert abs(two_example_normalised(x[0, :1], x[1, :1]).item()) < 0.5


def test_two_example_normalised_errors():
    with pytest.raises(ValueError, match="même forme"):
        two_example_normalised(torch.zeros(2), torch.zeros(3))
    with pytest.raises(TypeError):
        two_example_normalised([1.0], torch.zeros(1))


def test_norm_layers_and_mlp():
    assert isinstance(norm_layer("none", 4), nn.Identity)
    with pytest.raises(ValueError, match="norm"):
        norm_layer("wn", 4)
    with pytest.raises(ValueError, match="divisible"):
        norm_layer("gn", 10, groups=4)
    names = [type(m).__name__ for m in make_small_batch_mlp("bn", hidden=(16, 8))]
    assert names == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert [type(m).__name__ for m in make_small_batch_mlp("none", hidden=(16,))] == ["Linear", "ReLU", "Linear"]
    with pytest.raises(ValueError):
        make_small_batch_mlp("ln", hidden=())


def test_group_norm_on_features_matches_torch_float64():
    x = torch.randn(5, 16, dtype=torch.float64)
    ours = norm_layer("gn", 16, groups=4).double()
    assert_close(ours(x), nn.functional.group_norm(x, 4, eps=1e-5))
    ln = norm_layer("ln", 16).double()
    assert_close(ln(x), nn.functional.layer_norm(x, (16,)))


def test_train_small_batch_budget_and_reproducible():
    a = train_small_batch("gn", 0.01, 8, examples=64, n_train=64, hidden=(16, 16), seed=3)
    b = train_small_batch("gn", 0.01, 8, examples=64, n_train=64, hidden=(16, 16), seed=3)
    assert a.steps == 8 and len(a.history.epoch) == 1
    assert a.history.batch_loss == b.history.batch_loss
    assert a.val_accuracy == b.val_accuracy
    c = train_small_batch("gn", 0.01, 8, examples=65, n_train=64, hidden=(16, 16), seed=3)
    assert c.steps == 16  # arrondi à l'époque entière
    with pytest.raises(ValueError, match="batch_size"):
        train_small_batch("bn", 0.1, 128, n_train=64)
    with pytest.raises(ValueError, match="norm"):
        train_small_batch("xx", 0.1, 2)


def test_batch_norm_fails_at_batch_two_layer_norm_does_not():
    """La leçon du TP, en petit : au lot de 2, LN apprend et BN (évaluée avec ses statistiques de
    population) reste loin derrière."""
    ln = train_small_batch("ln", 0.01, 2, seed=0)
    bn = train_small_batch("bn", 0.03, 2, seed=0)
    assert ln.val_accuracy > 0.7
    assert bn.val_accuracy < ln.val_accuracy - 0.2


def test_batch_statistics_accuracy_restores_model():
    torch.manual_seed(0)
    model = make_small_batch_mlp("bn", hidden=(16,))
    x, y, _, _ = digits_tensors(40)
    model.train()
    for _ in range(3):
        model(x)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    acc = batch_statistics_accuracy(model, x, y, 8)
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    model.train()
    with torch.no_grad():
        manual = torch.cat([model(x[i:i + 8]) for i in range(0, 40, 8)])
    assert acc == pytest.approx((manual.argmax(1) == y).float().mean().item())
    # sans BN, le mode ne change rien : c'est l'exactitude ordinaire
    plain = make_small_batch_mlp("ln", hidden=(16,)).eval()
    with torch.no_grad():
        ordinary = (plain(x).argmax(1) == y).float().mean().item()
    assert batch_statistics_accuracy(plain, x, y, 8) == pytest.approx(ordinary)
    with pytest.raises(ValueError):
        batch_statistics_accuracy(plain, x[:3], y[:3], 8)


def test_arm_and_plot():
    with pytest.raises(ValueError):
        small_batch_arm("BN", "bn", [], 2)
    arms = [small_batch_arm(n, k, [0.01, 0.03], 8, examples=32, n_train=32, hidden=(8,)) for n, k in (("BN", "bn"), ("LN", "ln"))]
    assert arms[0].fixed["batch_size"] == 8 and arms[0].grid == {"lr": [0.01, 0.03]}
    cmps = {b: compare(arms, seeds=(0, 1, 2), score=lambda r: r.val_accuracy, progress=False) for b in (8, 16)}
    ax = plot_scores_by_batch(cmps)
    assert len(ax.get_lines()) == 2 * (1 + 2) and ax.get_xlabel() == "taille du lot"
    with pytest.raises(ValueError):
        plot_scores_by_batch({})
