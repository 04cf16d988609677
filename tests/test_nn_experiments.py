"""Tests des entraînements mesurés de la partie 3 (profond.nn.runs) et des figures
(profond.nn.plots) : budgets minuscules, déterminisme à graine fixe, un test « ça apprend »."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from profond.compare import compare
from profond.data import load_split, split_tensors
from profond.nn import plots
from profond.nn.models import MLPConfig
from profond.nn.probes import optimisation_probes
from profond.nn.runs import mean_movement, mlp_arm, train_lenet, train_mlp, usable_rates
from profond.nn.statistics import batch_noise, population_statistics, shift_robustness


def test_same_seed_gives_identical_history():
    a = train_mlp(MLPConfig(norm="bn"), lr=0.5, epochs=2, seed=3, every=5, progress=False)
    b = train_mlp(MLPConfig(norm="bn"), lr=0.5, epochs=2, seed=3, every=5, progress=False)
    assert a.history.as_dict() == b.history.as_dict()
    assert a.val_accuracy == b.val_accuracy and a.percentiles == b.percentiles and a.move_mean == b.move_mean
    c = train_mlp(MLPConfig(norm="bn"), lr=0.5, epochs=2, seed=4, every=5, progress=False)
    assert c.history.batch_loss != a.history.batch_loss


def test_bn_mlp_learns():
    run = train_mlp(MLPConfig(norm="bn", activation="sigmoid"), lr=1.0, epochs=5, batch_size=60, seed=0,
                    every=10, progress=False)
    assert run.final_accuracy > 0.9
    assert len(run.steps) == len(run.val_accuracy) == len(run.percentiles)
    assert all(lo <= mid <= hi for lo, mid, hi in run.percentiles)
    assert run.steps_to(0.9) < float("inf") and run.steps_to(1.01) == float("inf")
    # Un pas de moins que de lots vus : le déplacement se mesure d'un pas au suivant.
    assert len(run.move_mean) == len(run.history.batch_loss) - 1


def test_movement_is_pinned_by_bn_and_increased_by_noise():
    kw = dict(lr=0.1, epochs=1, seed=0, every=50, progress=False)
    bn = mean_movement(train_mlp(MLPConfig(activation="relu", norm="bn"), **kw))
    plain = mean_movement(train_mlp(MLPConfig(activation="relu", init="he"), **kw))
    noisy = mean_movement(train_mlp(MLPConfig(activation="relu", norm="noisy_bn", noise_mean=1.0, noise_scale=2.0), **kw))
    assert bn[0] < 1e-3 < plain[0] < noisy[0]


def test_noisy_network_training_is_seeded():
    a = train_mlp(MLPConfig(norm="noisy_bn", activation="relu"), lr=0.1, epochs=1, seed=1, progress=False)
    b = train_mlp(MLPConfig(norm="noisy_bn", activation="relu"), lr=0.1, epochs=1, seed=1, progress=False)
    assert a.history.batch_loss == b.history.batch_loss


def test_mlp_arm_in_compare_and_usable_rates():
    arms = [mlp_arm("BN", MLPConfig(activation="relu", norm="bn", hidden=(20,)), (0.1, 100.0), epochs=1, every=50),
            mlp_arm("sans BN", MLPConfig(activation="relu", init="he", hidden=(20,)), (0.1, 100.0), epochs=1, every=50)]
    cmp = compare(arms, (0, 1, 2), lambda r: r.final_accuracy, progress=False)
    assert cmp.best_params("BN") == {"lr": 0.1}
    assert usable_rates(cmp, "BN", 0.5) == [0.1]
    assert usable_rates(cmp, "BN", 1.01) == []
    with pytest.raises(ValueError, match="lrs"):
        mlp_arm("x", MLPConfig(), ())


def test_small_experiments_and_plots():
    run = train_mlp(MLPConfig(norm="bn", activation="relu"), lr=0.1, epochs=2, progress=False)
    cmp = compare([mlp_arm("a", MLPConfig(activation="relu", hidden=(10,)), (0.1, 0.3), epochs=1, every=10),
                   mlp_arm("b", MLPConfig(activation="relu", norm="bn", hidden=(10,)), (0.1, 0.3), epochs=1, every=10)],
                  (0, 1), lambda r: r.final_accuracy, progress=False)
    pop = population_statistics(run.model, batch_sizes=(2, 450))
    noise = batch_noise(run.model, split_tensors(load_split("digits"))[0], batch_sizes=(4, 256), draws=10)
    shift = shift_robustness({"bn": run.model}, shifts=(0.0, 1.0))
    probes = {"p": [optimisation_probes(MLPConfig(activation="relu", hidden=(10, 10)), layer=1, epochs=1, every=10,
                                        etas=(0.1, 0.2), progress=False)]}
    lenet = {"profond.nn": train_lenet("profond", epochs=1, progress=False),
             "torch.nn": train_lenet("torch", epochs=1, progress=False)}
    figures = [plots.plot_ioffe({"bn": [run], "x": [run]}), plots.plot_lr_grids({"t": cmp}),
               plots.plot_variants(cmp, "t"), plots.plot_movement(cmp), plots.plot_population(pop),
               plots.plot_batch_noise(noise), plots.plot_shift(shift), plots.plot_ics(probes, 1),
               plots.plot_landscape(probes), plots.plot_lenet(lenet)]
    for f in figures:
        # Au plus deux panneaux par ligne (figures lisibles sur un téléphone).
        assert len(f.axes) >= 1 and f.get_size_inches()[0] <= 8
        assert max(ax.get_subplotspec().get_gridspec().ncols for ax in f.axes) <= 2
        matplotlib.pyplot.close(f)
    with pytest.raises(ValueError, match="implementation"):
        train_lenet("keras")
    assert np.isfinite(mean_movement(run)).all()
