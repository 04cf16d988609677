"""Tests des expériences de la partie 3 (profond.nn.experiments) et de leurs figures : budgets
minuscules, déterminisme à graine fixe, un test « ça apprend »."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from torch import nn

from profond.nn import BatchNorm1d, BatchNorm2d, plots
from profond.nn import experiments as ex


def test_same_seed_gives_identical_history():
    a = ex.train_mlp(ex.MLPConfig(norm="bn"), lr=0.5, epochs=2, seed=3, every=5, progress=False)
    b = ex.train_mlp(ex.MLPConfig(norm="bn"), lr=0.5, epochs=2, seed=3, every=5, progress=False)
    assert a.history.as_dict() == b.history.as_dict()
    assert a.val_accuracy == b.val_accuracy and a.percentiles == b.percentiles
    c = ex.train_mlp(ex.MLPConfig(norm="bn"), lr=0.5, epochs=2, seed=4, every=5, progress=False)
    assert c.history.batch_loss != a.history.batch_loss


def test_bn_mlp_learns():
    run = ex.train_mlp(ex.MLPConfig(norm="bn", activation="sigmoid"), lr=1.0, epochs=5, batch_size=60, seed=0,
                       every=10, progress=False)
    assert run.final_accuracy > 0.9
    assert len(run.steps) == len(run.val_accuracy) == len(run.percentiles)
    assert all(lo <= mid <= hi for lo, mid, hi in run.percentiles)


def test_make_mlp_layouts():
    def kinds(norm):
        return [type(m).__name__ for m in ex.make_mlp(ex.MLPConfig(hidden=(5,), norm=norm, activation="relu"))]
    assert kinds("none") == ["Linear", "ReLU", "Linear"]
    assert kinds("bn") == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    assert kinds("bn_after") == ["Linear", "ReLU", "BatchNorm1d", "Linear"]
    assert kinds("noisy_bn") == ["Linear", "NoisyBatchNorm1d", "ReLU", "Linear"]
    assert kinds("bn_dropout") == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    with pytest.raises(ValueError, match="norm"):
        ex.MLPConfig(norm="layer")
    with pytest.raises(ValueError, match="activation"):
        ex.MLPConfig(activation="tanh")


def test_tensor_loader_is_reproducible_and_drops_last():
    x, y = torch.arange(10.0).view(10, 1), torch.arange(10)
    loader = ex.TensorLoader(x, y, batch_size=4, seed=0)
    assert len(loader) == 2
    first = [b[1].tolist() for b in loader]
    again = [b[1].tolist() for b in ex.TensorLoader(x, y, batch_size=4, seed=0)]
    assert first == again and all(len(b) == 4 for b in first)
    assert len(ex.TensorLoader(x, y, 4, drop_last=False)) == 3
    with pytest.raises(ValueError, match="même nombre"):
        ex.TensorLoader(x, y[:5], 4)


def test_lenet_implementations_match_at_start():
    torch.manual_seed(0)
    ours = ex.make_lenet(BatchNorm2d, BatchNorm1d)
    torch.manual_seed(0)
    ref = ex.make_lenet(nn.BatchNorm2d, nn.BatchNorm1d)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(16, 64)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


def test_small_experiments_and_plots():
    sweep = ex.lr_sweep(base_lrs=(0.1, 0.3), multipliers=(1, 5), epochs=1, every=10, progress=False)
    assert sweep.best_lr in (0.1, 0.3) and set(sweep.accuracy) == set(sweep.labels)
    variants = ex.compare_variants([("a", ex.MLPConfig(norm="none", activation="relu")),
                                    ("b", ex.MLPConfig(norm="bn", activation="relu"), 128)],
                                   lr=0.1, epochs=1, seeds=(0,), every=5, progress=False)
    assert variants.batch_sizes == {"a": 64, "b": 128}
    run = ex.train_mlp(ex.MLPConfig(norm="bn", activation="relu"), lr=0.1, epochs=2, progress=False)
    pop = ex.population_statistics(run.model, batch_sizes=(2, 450))
    assert np.allclose(pop.running_mean, pop.exact_mean, atol=0.5)
    noise = ex.batch_noise(run.model, ex.digits_tensors()[0], batch_sizes=(4, 256), draws=10)
    assert noise[4] > noise[256]
    shift = ex.shift_robustness({"bn": run.model}, shifts=(0.0, 1.0))
    assert set(shift.accuracy) == {"bn", "bn (statistiques recalculées)"}
    ics = ex.internal_covariate_shift(epochs=1, every=10, progress=False)
    assert all(-1.0 <= c <= 1.0 + 1e-6 for v in ics.cosine.values() for c in v)
    land = ex.loss_landscape(epochs=1, every=10, etas=(0.1, 0.2), progress=False)
    assert land.beta_smoothness("avec BN").shape == (len(land.steps),)
    lenet = {"profond.nn": ex.train_lenet("profond", epochs=1, progress=False)}
    figures = [plots.plot_lr_sweep(sweep), plots.plot_variants(variants, "t"), plots.plot_population(pop),
               plots.plot_batch_noise(noise), plots.plot_shift(shift), plots.plot_ics(ics),
               plots.plot_landscape(land), plots.plot_lenet(lenet), plots.plot_ioffe({"bn": run})]
    assert all(len(f.axes) >= 1 for f in figures)
    with pytest.raises(ValueError, match="implementation"):
        ex.train_lenet("keras")


def test_noisy_network_training_is_seeded():
    a = ex.train_mlp(ex.MLPConfig(norm="noisy_bn", activation="relu"), lr=0.1, epochs=1, seed=1, progress=False)
    b = ex.train_mlp(ex.MLPConfig(norm="noisy_bn", activation="relu"), lr=0.1, epochs=1, seed=1, progress=False)
    assert a.history.batch_loss == b.history.batch_loss
