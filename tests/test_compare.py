"""Tests de profond.compare : choix du réglage par bras, jugement des affirmations, figures."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

from profond import compare as C


def quadratic_arm(name, optimum, noise=0.01, height=1.0, grid=(0.01, 0.03, 0.1, 0.3, 1.0)):
    """Score maximal ``height`` au taux ``optimum``, plus un bruit qui dépend de la graine."""

    def run(seed, lr):
        rng = np.random.default_rng(seed)
        return height - (math.log10(lr) - math.log10(optimum)) ** 2 + noise * rng.standard_normal()

    return C.Arm(name, run, {"lr": list(grid)})


def test_each_arm_gets_its_own_best_setting():
    cmp = C.compare([quadratic_arm("A", 0.03), quadratic_arm("B", 0.3)], seeds=[0, 1, 2], score=float,
                    progress=False)
    assert cmp.best_params("A") == {"lr": 0.03}
    assert cmp.best_params("B") == {"lr": 0.3}
    settings, scores = cmp.grid_scores("A")
    assert scores.shape == (5, 3) and [p["lr"] for p in settings] == [0.01, 0.03, 0.1, 0.3, 1.0]


def test_equal_arms_are_refused_a_claim():
    # Même fonction, mêmes graines : aucun des deux ne peut « faire mieux ».
    cmp = C.compare([quadratic_arm("A", 0.1), quadratic_arm("B", 0.1)], seeds=[0, 1, 2], score=float,
                    progress=False)
    assert not C.claim(cmp, "A", "B").holds
    assert not C.claim(cmp, "B", "A").holds
    with pytest.raises(AssertionError, match="non établi"):
        C.assert_claim(cmp, "A", "B")
    C.assert_no_claim(cmp, "A", "B")


def test_overlapping_noisy_arms_are_refused_a_claim():
    # B est meilleur en moyenne, mais le bruit mélange les bandes.
    cmp = C.compare([quadratic_arm("A", 0.1, noise=0.5), quadratic_arm("B", 0.1, noise=0.5, height=1.1)],
                    seeds=[0, 1, 2, 3], score=float, progress=False)
    c = C.claim(cmp, "B", "A")
    assert c.gap == pytest.approx(0.1, abs=1e-12)
    assert not c.holds


def test_separated_arms_support_the_claim_and_not_the_reverse():
    cmp = C.compare([quadratic_arm("A", 0.1, height=2.0), quadratic_arm("B", 0.1)], seeds=[0, 1, 2],
                    score=float, progress=False)
    c = C.assert_claim(cmp, "A", "B")
    assert c.holds and c.gap == pytest.approx(1.0, abs=1e-12)
    assert not C.claim(cmp, "B", "A").holds
    with pytest.raises(AssertionError):
        C.assert_no_claim(cmp, "A", "B")


def test_two_seeds_are_not_enough():
    cmp = C.compare([quadratic_arm("A", 0.1, height=2.0), quadratic_arm("B", 0.1)], seeds=[0, 1],
                    score=float, progress=False)
    assert not C.claim(cmp, "A", "B").holds


def test_lower_is_better_and_divergence_counts_as_worst():
    def run(seed, lr):
        return math.nan if lr >= 1.0 else abs(lr - 0.1) + 0.001 * seed

    arm = C.Arm("A", run, {"lr": [0.01, 0.1, 1.0]})
    cmp = C.compare([arm], seeds=[0, 1, 2], score=float, higher_is_better=False, progress=False)
    assert cmp.best_params("A") == {"lr": 0.1}
    assert C.bands_separate([1.0, 2.0], [3.0, math.nan], higher_is_better=False)
    assert not C.bands_separate([math.nan], [3.0], higher_is_better=False)


def test_report_seeds_are_fresh_and_reported():
    calls = []

    def run(seed, lr):
        calls.append((seed, lr))
        return -abs(math.log10(lr))

    cmp = C.compare([C.Arm("A", run, {"lr": [0.1, 1.0, 10.0]})], seeds=[0, 1, 2], score=float,
                    report_seeds=[10, 11, 12], progress=False)
    assert [r.seed for r in cmp.best_runs("A")] == [10, 11, 12]
    assert calls[-3:] == [(10, 1.0), (11, 1.0), (12, 1.0)]
    with pytest.raises(ValueError, match="distinctes"):
        C.compare([C.Arm("A", run, {"lr": [1.0]})], seeds=[0], score=float, report_seeds=[0], progress=False)


def test_fixed_params_and_summary():
    def run(seed, lr, width):
        return width * lr + seed

    cmp = C.compare([C.Arm("A", run, {"lr": [1.0, 2.0]}, fixed={"width": 3})], seeds=[0, 1, 2], score=float,
                    progress=False)
    (row,) = cmp.summary()
    assert row["réglage"] == {"lr": 2.0}
    assert row["moyenne"] == pytest.approx(7.0) and row["min"] == 6.0 and row["max"] == 8.0


def test_bad_input_is_explained_in_french():
    with pytest.raises(ValueError, match="au moins un bras"):
        C.compare([], seeds=[0], score=float)
    arm = quadratic_arm("A", 0.1)
    with pytest.raises(ValueError, match="distincts"):
        C.compare([arm, arm], seeds=[0], score=float)
    cmp = C.compare([arm], seeds=[0], score=float, progress=False)
    with pytest.raises(ValueError, match="Bras inconnu"):
        cmp.best_params("Z")
    assert C.grid_span([0.001, 0.1]) == pytest.approx(100.0)


def test_plots_read_the_comparison():
    import matplotlib.pyplot as plt

    cmp = C.compare([quadratic_arm("A", 0.03), quadratic_arm("B", 0.3)], seeds=[0, 1, 2],
                    score=float, progress=False)
    ax = C.plot_grid(cmp, "lr")
    assert len(ax.get_legend().get_texts()) == 2
    curves = C.compare([C.Arm("A", lambda seed, lr: np.arange(5) * lr + seed, {"lr": [1.0, 2.0]})],
                       seeds=[0, 1, 2], score=lambda r: r[-1], progress=False)
    ax = C.plot_best_curves(curves, lambda r: (np.arange(len(r)), r))
    # 3 graines en trait fin + la moyenne.
    assert len(ax.lines) == 4
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), np.arange(5) * 2.0 + 1.0)
    plt.close("all")
