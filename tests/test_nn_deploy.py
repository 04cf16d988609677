"""Repli de la BN dans la couche précédente et statistiques de population recalculées."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from profond.nn import BatchNorm1d, BatchNorm2d
from profond.nn.deploy import fold_batch_norm, precise_batch_norm_statistics


def _trained_bn(bn, shape):
    bn.train()
    with torch.no_grad():
        for p in bn.parameters():
            p.copy_(torch.randn_like(p))
        for _ in range(5):
            bn(torch.randn(shape, dtype=torch.float64) * 2 + 1)
    return bn.eval()


@pytest.mark.parametrize("bn_cls", [BatchNorm1d, nn.BatchNorm1d])
@pytest.mark.parametrize("bias", [True, False])
def test_fold_linear(bn_cls, bias):
    torch.manual_seed(0)
    lin = nn.Linear(5, 4, bias=bias, dtype=torch.float64)
    bn = _trained_bn(bn_cls(4, dtype=torch.float64), (16, 4))
    x = torch.randn(7, 5, dtype=torch.float64)
    folded = fold_batch_norm(lin, bn)
    torch.testing.assert_close(folded(x), bn(lin(x)), rtol=1e-12, atol=1e-12)
    assert (lin.bias is None) == (not bias)  # l'original n'est pas modifié


@pytest.mark.parametrize("bn_cls", [BatchNorm2d, nn.BatchNorm2d])
def test_fold_conv(bn_cls):
    torch.manual_seed(1)
    conv = nn.Conv2d(3, 6, 3, padding=1, dtype=torch.float64)
    bn = _trained_bn(bn_cls(6, dtype=torch.float64), (4, 6, 5, 5))
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(fold_batch_norm(conv, bn)(x), bn(conv(x)), rtol=1e-12, atol=1e-12)


def test_precise_statistics_are_the_data_mean():
    torch.manual_seed(2)
    data = torch.randn(64, 3, dtype=torch.float64) * 3 + 2
    model = nn.Sequential(BatchNorm1d(3, dtype=torch.float64))
    loader = [data[i:i + 16] for i in range(0, 64, 16)]
    precise_batch_norm_statistics(model, loader)
    bn = model[0]
    torch.testing.assert_close(bn.running_mean, data.mean(0))
    expected_var = torch.stack([b.var(0, unbiased=True) for b in loader]).mean(0)
    torch.testing.assert_close(bn.running_var, expected_var)
    assert not model.training and bn.momentum == 0.1


def test_bad_input_is_explained_in_french():
    with pytest.raises(TypeError, match="nn.Linear"):
        fold_batch_norm(nn.ReLU(), nn.BatchNorm1d(3))
    with pytest.raises(ValueError, match="canaux"):
        fold_batch_norm(nn.Linear(2, 3), nn.BatchNorm1d(4))
    with pytest.raises(ValueError, match="aucune"):
        precise_batch_norm_statistics(nn.Linear(2, 2), [])
