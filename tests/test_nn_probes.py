"""Tests des sondes de Santurkar et al. (profond.nn.probes)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from profond.nn.models import MLPConfig
from profond.nn.probes import ProbeRun, optimisation_probes


def test_no_update_of_preceding_layers_means_no_shift():
    # Avec un taux nul, les couches précédentes ne bougent pas : G' = G exactement.
    run = optimisation_probes(MLPConfig(activation="relu", norm="bn", hidden=(16, 16)), lr=1e-12, layer=2,
                              epochs=1, every=10, seed=0, progress=False)
    assert max(run.ics_rel) < 1e-6 and min(run.ics_cos) > 1 - 1e-6


def test_probes_measure_shift_and_landscape():
    run = optimisation_probes(MLPConfig(activation="relu", init="he", hidden=(16, 16)), lr=0.5, layer=2,
                              epochs=1, every=10, etas=(0.1, 0.4), seed=0, progress=False)
    assert len(run.steps) == len(run.loss) == len(run.ics_rel) == len(run.losses) == 3
    assert max(run.ics_rel) > 1e-3
    # ‖G‖ = ‖G − G'‖ / (‖G − G'‖/‖G‖) est le gradient d'une seule couche : au plus ‖∇L(w)‖.
    layer_norm = np.asarray(run.ics_l2) / np.asarray(run.ics_rel)
    assert (layer_norm <= np.asarray(run.grad_norm) * (1 + 1e-6)).all() and (layer_norm > 0).all()
    assert all(-1 <= c <= 1 + 1e-6 for c in run.ics_cos)
    assert run.loss_range().shape == run.beta_smoothness().shape == (3,)
    assert (run.loss_range() >= 0).all() and (run.beta_smoothness() > 0).all()
    with pytest.raises(ValueError, match="layer"):
        optimisation_probes(MLPConfig(hidden=(4,)), layer=0, epochs=1, progress=False)


def _fake(loss):
    n = len(loss)
    return ProbeRun(list(range(n)), [0.1, 0.2], list(loss), [0.0] * n, [0.0] * n, [1.0] * n,
                    [[1.0, 0.5]] * n, [[0.1, 0.4]] * n, [1.0] * n, 0.5)


def test_matched_loss_helpers():
    run = _fake([2.0, 1.0, 0.5, 0.2, 0.1])
    assert run.band_mean([10, 20, 30, 40, 50], 0.15, 1.0) == pytest.approx(30.0)
    assert math.isnan(run.band_mean([1, 2, 3, 4, 5], 5.0, 6.0))
    assert run.at_loss(0.45) == 2 and run.at_loss(10.0) is None
    np.testing.assert_allclose(run.loss_range(), 0.5)
    np.testing.assert_allclose(run.beta_smoothness(), 2.0)     # max(0,1/0,1 ; 0,4/0,2)
    with pytest.raises(ValueError, match="low"):
        run.band_mean([1] * 5, 1.0, 0.5)
