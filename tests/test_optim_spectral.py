"""Tests de profond.optim.spectral : les taux théoriques contre les pentes mesurées, et de
profond.explorable."""

from __future__ import annotations

import functools
import math

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
import torch

from profond.explorable import explorable_html
from profond.optim import spectral as sp
from profond.optim.objectives import ill_conditioned_quadratic, quadratic_objective
from profond.optim.rules import gd_step, momentum_step
from profond.optim.trajectory import run_trajectory


def errors_of(rule, kappa, steps):
    obj = quadratic_objective(condition=kappa)
    traj = run_trajectory(obj, rule, init=[-2.0, 3.0], epochs=steps)
    return np.linalg.norm(traj.params - obj.minimum.numpy(), axis=1)


@pytest.mark.parametrize("kappa", [5.0, 20.0, 100.0])
def test_optimal_gd_rate_matches_measured_slope(kappa):
    alpha, rate = sp.optimal_gd([1.0, kappa])
    assert rate == pytest.approx((kappa - 1) / (kappa + 1))
    assert sp.gd_contraction(alpha, [1.0, kappa]) == pytest.approx(rate)
    measured = sp.convergence_rate(errors_of(functools.partial(gd_step, lr=alpha), kappa, 3000))
    assert measured == pytest.approx(rate, abs=1e-6)


@pytest.mark.parametrize("kappa", [5.0, 20.0, 100.0])
def test_optimal_heavy_ball_rate_matches_measured_slope(kappa):
    alpha, mu, rate = sp.optimal_heavy_ball([1.0, kappa])
    assert rate == pytest.approx((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1))
    # Racine double : le rayon spectral vaut √μ à 1e-6 près (la racine double est mal conditionnée).
    assert sp.heavy_ball_contraction(alpha, mu, [1.0, kappa]) == pytest.approx(rate, abs=1e-6)
    measured = sp.convergence_rate(errors_of(functools.partial(momentum_step, lr=alpha, momentum=mu), kappa, 2000))
    # Le bloc de Jordan ajoute un facteur k : pente un peu plus lente que √μ, de moins de 8 %.
    assert rate <= measured < rate * 1.08


def test_momentum_beats_gd_at_their_own_best_settings():
    for kappa in (5.0, 20.0, 100.0):
        assert sp.optimal_heavy_ball([1.0, kappa])[2] < sp.optimal_gd([1.0, kappa])[1]


def test_non_optimal_settings_are_worse_and_measured_rate_follows():
    kappa = 20.0
    alpha, mu, rate = sp.optimal_heavy_ball([1.0, kappa])
    # (α, 0,3) diverge : rayon spectral > 1.
    assert sp.heavy_ball_contraction(alpha, 0.3, [1.0, kappa]) > 1.0
    for a, m in ((alpha * 0.5, mu), (alpha * 1.2, 0.8), (alpha * 0.3, 0.9)):
        r = sp.heavy_ball_contraction(a, m, [1.0, kappa])
        assert rate < r < 1.0
        measured = sp.convergence_rate(errors_of(functools.partial(momentum_step, lr=a, momentum=m), kappa, 3000))
        assert measured == pytest.approx(r, rel=0.03)


def test_eigenvalues_of_the_course_quadratic():
    a, _ = ill_conditioned_quadratic(20.0)
    lam = torch.linalg.eigvalsh(a).numpy()
    np.testing.assert_allclose(lam, [1.0, 20.0], rtol=1e-12)


def test_bad_input_is_explained_in_french():
    with pytest.raises(ValueError, match="strictement positifs"):
        sp.optimal_gd([0.0, 1.0])
    with pytest.raises(ValueError, match="intervalle"):
        sp.heavy_ball_contraction(0.1, 1.0, [1.0])
    with pytest.raises(ValueError, match="allonger"):
        sp.convergence_rate([1.0, 0.9, 0.8])


def test_explorable_html_has_one_frame_per_combination_and_labelled_sliders():
    def draw(fig, alpha, mu):
        fig.add_subplot().plot([0, 1], [alpha, mu])

    labels = {"alpha": ("α", str), "mu": ("μ", str)}
    html = explorable_html(draw, {"alpha": [1, 2, 3], "mu": [0.0, 0.5]}, labels, alt="essai", dpi=20).data
    assert html.count('type="range"') == 2 and html.count("<label for=") == 2 and "μ = " in html
    assert '"2,1"' in html and '"0,0"' in html and '"2,2"' not in html
    assert 'alt="essai"' in html
    with pytest.raises(ValueError, match="dépasse"):
        explorable_html(draw, {"alpha": [1, 2], "mu": [0.0]}, labels, alt="x", max_bytes=10)
    with pytest.raises(ValueError, match="format"):
        explorable_html(draw, {"alpha": [1]}, {}, alt="x")
