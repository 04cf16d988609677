"""Tests des statistiques de la BN (profond.nn.statistics)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from profond.data import load_split, split_tensors
from profond.nn.models import MLPConfig
from profond.nn.runs import train_mlp
from profond.nn.statistics import batch_noise, population_statistics, recalibrate, shift_robustness


@pytest.fixture(scope="module")
def bn_run():
    return train_mlp(MLPConfig(norm="bn", activation="relu"), lr=0.1, epochs=2, every=50, progress=False)


def test_population_statistics(bn_run):
    pop = population_statistics(bn_run.model, batch_sizes=(2, 450))
    assert np.allclose(pop.running_mean, pop.exact_mean, atol=0.5)
    assert pop.batch_mode_accuracy[2] < pop.eval_accuracy
    with pytest.raises(ValueError, match="BatchNorm1d"):
        population_statistics(torch.nn.Linear(64, 10))


def test_batch_noise_decreases_with_batch_size(bn_run):
    x = split_tensors(load_split("digits"))[0]
    noise = batch_noise(bn_run.model, x, batch_sizes=(4, 256), draws=10)
    assert noise[4] > noise[256] > 0
    with pytest.raises(ValueError, match="taille de lot"):
        batch_noise(bn_run.model, x, batch_sizes=(1,))


def test_recalibration_removes_a_constant_shift(bn_run):
    _, _, x_val, _ = split_tensors(load_split("digits"))
    twin = recalibrate(bn_run.model, x_val + 2.0)
    first = twin[1]
    base = recalibrate(bn_run.model, x_val)[1]
    # Un décalage constant des entrées décale μ_pop de la première BN de δ·W·1, exactement.
    shift = 2.0 * bn_run.model[0].weight.sum(1)
    torch.testing.assert_close(first.running_mean - base.running_mean, shift.detach(), rtol=1e-4, atol=1e-4)
    result = shift_robustness({"bn": bn_run.model}, shifts=(0.0, 2.0))
    recal = result.accuracy["bn (statistiques recalculées)"]
    assert abs(recal[1] - recal[0]) < 0.01 and set(result.accuracy) == {"bn", "bn (statistiques recalculées)"}
