"""Tests des réseaux et des données de la partie 3 (profond.nn.models)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from profond.nn import BatchNorm1d, BatchNorm2d
from profond.nn.models import CovariateShiftNoise, MLPConfig, digits_loaders, make_lenet, make_normalized_mlp


def kinds(**kw):
    return [type(m).__name__ for m in make_normalized_mlp(MLPConfig(hidden=(5,), activation="relu", **kw))]


def test_layouts():
    assert kinds(norm="none") == ["Linear", "ReLU", "Linear"]
    assert kinds(norm="bn") == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert kinds(norm="bn_after") == ["Linear", "ReLU", "BatchNorm1d", "Linear"]
    assert kinds(norm="noisy_bn") == ["Linear", "BatchNorm1d", "CovariateShiftNoise", "ReLU", "Linear"]
    assert kinds(norm="bn_dropout") == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    with pytest.raises(ValueError, match="norm"):
        MLPConfig(norm="layer")
    with pytest.raises(ValueError, match="activation"):
        MLPConfig(activation="tanh")
    with pytest.raises(ValueError, match="init"):
        MLPConfig(init="lecun")


@pytest.mark.parametrize("init, expected", [("glorot", lambda n_in, n_out: 2 / (n_in + n_out)),
                                            ("he", lambda n_in, n_out: 2 / n_in),
                                            ("default", lambda n_in, n_out: 1 / (3 * n_in))])
def test_initialisation_variance(init, expected):
    torch.manual_seed(0)
    model = make_normalized_mlp(MLPConfig(hidden=(400, 300), init=init), n_in=500)
    first = model[0]
    assert first.weight.var().item() == pytest.approx(expected(500, 400), rel=0.05)
    if init != "default":
        assert torch.count_nonzero(first.bias) == 0


def test_noise_is_per_sample_per_step_and_off_in_eval():
    g = torch.Generator().manual_seed(0)
    noise = CovariateShiftNoise(n_mean=1.0, n_scale=2.0, tau=0.2, generator=g)
    y = torch.ones(4096, 3)
    a, b = noise(y), noise(y)
    # Par exemple : les lignes diffèrent ; par pas : la loi (moyenne par neurone) change.
    assert a.std(0).min() > 0.2
    assert (a.mean(0) - b.mean(0)).abs().max() > 0.1
    # Moyenne non nulle et variance non unité : E[a y + b] = s + μ avec s ∈ [1, 2], μ ∈ [−1, 1].
    assert ((a.mean(0) > -0.1) & (a.mean(0) < 3.1)).all()
    noise.eval()
    assert torch.equal(noise(y), y)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(CovariateShiftNoise(generator=g1)(y), CovariateShiftNoise(generator=g2)(y))
    with pytest.raises(ValueError, match="n_scale"):
        CovariateShiftNoise(n_scale=0.5)


def test_digits_loaders_drop_last_and_are_reproducible():
    train, val = digits_loaders(batch_size=100, seed=0)
    assert isinstance(train, torch.utils.data.DataLoader)
    sizes = [len(y) for _, y in train]
    assert sizes == [100] * (1347 // 100)                          # dernier lot incomplet abandonné
    assert sum(len(y) for _, y in val) == 450
    first = [y.tolist() for _, y in digits_loaders(batch_size=100, seed=0)[0]]
    again = [y.tolist() for _, y in digits_loaders(batch_size=100, seed=0)[0]]
    assert first == again
    assert first != [y.tolist() for _, y in digits_loaders(batch_size=100, seed=1)[0]]


def test_lenet_implementations_match_at_start():
    torch.manual_seed(0)
    ours = make_lenet(BatchNorm2d, BatchNorm1d)
    torch.manual_seed(0)
    ref = make_lenet(nn.BatchNorm2d, nn.BatchNorm1d)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(16, 64)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)
