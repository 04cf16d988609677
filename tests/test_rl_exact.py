"""Quantités exactes et théorème du gradient de la politique (profond.rl.exact, profond.rl.montecarlo)."""

import numpy as np
import pytest

from profond.rl import exact
from profond.rl.envs import short_corridor_mdp, short_corridor_optimum, short_corridor_value, small_mdp
from profond.rl.montecarlo import estimate_error_curve, reinforce_gradient_samples


def finite_difference(f, theta, eps=1e-6):
    theta = np.asarray(theta, dtype=float)
    g = np.zeros_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = eps
        g[i] = (f(theta + e) - f(theta - e)) / (2 * eps)
    return g


THETA_SMALL = np.array([0.3, -0.2, 0.5, 0.1, -0.4, 0.6, 0.2, -0.1])


@pytest.mark.parametrize("gamma", [0.9, 1.0])
def test_true_gradient_matches_finite_differences(gamma):
    mdp = small_mdp()
    J = lambda th: exact.objective(mdp, exact.softmax_policy(th, mdp.action_features), gamma)
    np.testing.assert_allclose(exact.true_gradient(mdp, THETA_SMALL, gamma), finite_difference(J, THETA_SMALL),
                               atol=1e-7)


@pytest.mark.parametrize("mdp,theta,gamma", [
    (small_mdp(), THETA_SMALL, 0.9),
    (small_mdp(), THETA_SMALL, 1.0),
    (short_corridor_mdp(), np.array([0.4, -0.3]), 1.0),
])
def test_policy_gradient_theorem_episodic(mdp, theta, gamma):
    g, c = exact.policy_gradient_theorem(mdp, theta, gamma)
    true = exact.true_gradient(mdp, theta, gamma)
    assert np.linalg.norm(true) > 1e-2  # le test porte sur un gradient non trivial
    np.testing.assert_allclose(c * g, true, rtol=1e-9, atol=1e-12)
    # la constante est Σ η(s) ; sans elle l'égalité est fausse (c > 1 ici)
    assert c > 1.5 and not np.allclose(g, true)


def test_policy_gradient_theorem_continuing():
    mdp = exact.as_continuing(small_mdp())
    rbar = lambda th: exact.average_reward(mdp, exact.softmax_policy(th, mdp.action_features))
    fd = finite_difference(rbar, THETA_SMALL)
    np.testing.assert_allclose(exact.average_reward_gradient(mdp, THETA_SMALL), fd, atol=1e-7)
    np.testing.assert_allclose(exact.average_reward_theorem(mdp, THETA_SMALL), fd, atol=1e-7)
    assert np.linalg.norm(fd) > 1e-2


def test_stationary_distribution_is_stationary():
    mdp = exact.as_continuing(small_mdp())
    pi = exact.softmax_policy(THETA_SMALL, mdp.action_features)
    mu = exact.stationary_distribution(mdp, pi)
    np.testing.assert_allclose(mu @ exact.policy_state_transitions(mdp, pi), mu, atol=1e-12)
    assert mu.sum() == pytest.approx(1.0) and (mu >= -1e-12).all()


def test_short_corridor_values_and_visits():
    mdp = short_corridor_mdp()
    for p in (0.05, 0.3, 0.5, 0.9):
        pi = np.tile([1 - p, p], (4, 1))
        assert exact.objective(mdp, pi, 1.0) == pytest.approx(short_corridor_value(p))
        # récompense −1 par pas : la durée moyenne d'un épisode Σ η vaut −J
        assert exact.discounted_visits(mdp, pi, 1.0).sum() == pytest.approx(-short_corridor_value(p))
    p_star, j_star = short_corridor_optimum()
    grid = np.linspace(0.01, 0.99, 9801)
    values = short_corridor_value(grid)
    assert grid[values.argmax()] == pytest.approx(p_star, abs=1e-3)
    assert values.max() == pytest.approx(j_star, abs=1e-5)
    assert j_star == pytest.approx(-11.657, abs=1e-3)


def test_action_values_satisfy_bellman():
    mdp = small_mdp()
    pi = exact.softmax_policy(THETA_SMALL, mdp.action_features)
    q, v = exact.action_values(mdp, pi, 0.9), exact.state_values(mdp, pi, 0.9)
    np.testing.assert_allclose((pi * q).sum(1), v, atol=1e-12)
    assert v[3] == 0.0


def test_monte_carlo_estimate_is_unbiased_and_baseline_reduces_variance():
    mdp, gamma = small_mdp(), 0.9
    true = exact.true_gradient(mdp, THETA_SMALL, gamma)
    v = exact.state_values(mdp, exact.softmax_policy(THETA_SMALL, mdp.action_features), gamma)
    n = 40_000
    plain = reinforce_gradient_samples(mdp, THETA_SMALL, gamma, n, np.random.default_rng(0))
    based = reinforce_gradient_samples(mdp, THETA_SMALL, gamma, n, np.random.default_rng(1), baseline=v)
    for s in (plain, based):
        se = s.std(0) / np.sqrt(n)
        assert (np.abs(s.mean(0) - true) < 4.5 * se + 1e-9).all()
    var_plain, var_based = plain.var(0).sum(), based.var(0).sum()
    assert var_based < 0.7 * var_plain
    # l'erreur décroît avec le nombre d'épisodes
    err = estimate_error_curve(plain.reshape(10, 4000, -1), true, [10, 4000])
    assert err[:, 1].mean() < 0.2 * err[:, 0].mean()


def test_bad_inputs_raise_french_errors():
    mdp = small_mdp()
    with pytest.raises(ValueError, match="`pi` doit être de forme"):
        exact.state_values(mdp, np.ones((2, 2)) / 2, 0.9)
    with pytest.raises(ValueError, match="`gamma` doit appartenir"):
        exact.objective(mdp, np.full((4, 2), 0.5), 1.5)
    with pytest.raises(ValueError, match="chaque loi p"):
        exact.TabularMDP(np.ones((2, 1, 2)), np.zeros((2, 1)), np.array([1.0, 0.0]), np.array([False, True]),
                         np.zeros((2, 1, 1)), np.ones((2, 1)))
    with pytest.raises(TypeError, match="`rng`"):
        reinforce_gradient_samples(mdp, THETA_SMALL, 0.9, 10, rng=0)
    with pytest.raises(ValueError, match="`p_right`"):
        short_corridor_value(1.0)
