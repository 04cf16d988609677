"""Gradient par énumération des trajectoires et causalité (profond.rl.causality)."""

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from profond.rl import causality as C
from profond.rl import exact
from profond.rl.envs import short_corridor_mdp, small_mdp

THETA = np.array([0.3, -0.2, 0.5, 0.1, -0.4, 0.6, 0.2, -0.1])
CASES = [(small_mdp(), THETA, 1.0, 6), (small_mdp(), THETA, 0.9, 5),
         (short_corridor_mdp(), np.array([0.4, -0.3]), 1.0, 7)]


def layered_mdp():
    """Tout épisode finit en deux pas au plus : l'horizon 2 ne tronque rien."""
    S, A = 4, 2
    P = np.zeros((S, A, S))
    P[0, 0, 1], P[0, 0, 2] = 0.7, 0.3
    P[0, 1, 2], P[0, 1, 3] = 0.6, 0.4
    P[1, :, 3] = P[2, :, 3] = P[3, :, 3] = 1.0
    R = np.array([[1.0, -0.5], [2.0, 0.0], [-1.0, 3.0], [0.0, 0.0]])
    x = np.random.default_rng(0).normal(size=(S, A, 3))
    return exact.TabularMDP(P, R, np.eye(S)[0], np.arange(S) == 3, x, np.eye(S))


def enumerated_gradient(mdp, theta, traj, gamma):
    t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
    C.enumerated_objective(mdp, t, traj, gamma).backward()
    return t.grad


@pytest.mark.parametrize("mdp,theta,gamma,H", CASES)
def test_enumeration_is_a_distribution_and_gives_J_H(mdp, theta, gamma, H):
    traj = C.enumerate_trajectories(mdp, theta, H)
    assert traj.weights.sum() == pytest.approx(1.0, abs=1e-12)
    aug = C.finite_horizon_mdp(mdp, H)
    J_exact = exact.objective(aug, exact.softmax_policy(theta, aug.action_features), gamma)
    J_enum = traj.weights @ C.discounted_rewards(traj, gamma).sum(axis=1)
    assert J_enum == pytest.approx(J_exact, abs=1e-12)


@pytest.mark.parametrize("mdp,theta,gamma,H", CASES)
def test_enumerated_gradient_equals_true_gradient_and_theorem(mdp, theta, gamma, H):
    traj = C.enumerate_trajectories(mdp, theta, H)
    aug = C.finite_horizon_mdp(mdp, H)
    true = torch.tensor(exact.true_gradient(aug, theta, gamma))
    g, c = exact.policy_gradient_theorem(aug, theta, gamma)
    assert true.norm() > 1e-2
    assert_close(enumerated_gradient(mdp, theta, traj, gamma), true, rtol=0, atol=1e-12)
    assert_close(torch.tensor(c * g), true, rtol=0, atol=1e-12)


def test_enumeration_matches_infinite_horizon_gradient_when_nothing_is_truncated():
    mdp, theta = layered_mdp(), np.array([0.2, -0.5, 0.3])
    for gamma in (1.0, 0.8):
        traj = C.enumerate_trajectories(mdp, theta, 2)
        true = torch.tensor(exact.true_gradient(mdp, theta, gamma))
        assert_close(enumerated_gradient(mdp, theta, traj, gamma), true, rtol=0, atol=1e-13)
    # avec un horizon trop court, on calcule un autre objectif : l'égalité tombe
    short = enumerated_gradient(mdp, theta, C.enumerate_trajectories(mdp, theta, 1), 1.0)
    assert (short - torch.tensor(exact.true_gradient(mdp, theta, 1.0))).abs().max() > 1e-2


def test_dynamics_cancel_in_the_trajectory_score():
    mdp = small_mdp()
    traj = C.enumerate_trajectories(mdp, THETA, 4)
    t = torch.tensor(THETA, dtype=torch.float64)
    theta_n = torch.tensor(np.tile(THETA, (len(traj.weights), 1)), requires_grad=True)
    C.trajectory_log_prob(mdp, theta_n, traj).sum().backward()
    jac = theta_n.grad  # (N, d)
    # une copie par trajectoire ou un seul θ : mêmes ln P(τ)
    assert_close(C.trajectory_log_prob(mdp, theta_n.detach(), traj), C.trajectory_log_prob(mdp, t, traj))
    sum_scores = torch.tensor(C.step_scores(mdp, THETA, traj).sum(axis=1))
    assert_close(jac, sum_scores, rtol=0, atol=1e-12)
    # ln P(τ) contient pourtant bien la dynamique : P(τ) = exp(ln P(τ)) redonne les poids
    assert_close(torch.exp(C.trajectory_log_prob(mdp, t, traj)), torch.tensor(traj.weights), rtol=1e-12, atol=0)


@pytest.mark.parametrize("mdp,theta,gamma,H", CASES)
def test_past_rewards_have_zero_expectation(mdp, theta, gamma, H):
    Cm = C.reward_score_expectations(mdp, theta, C.enumerate_trajectories(mdp, theta, H), gamma)
    norms = np.linalg.norm(Cm, axis=2)  # (t, k)
    past = np.tril(np.ones((H, H), dtype=bool), k=-1)  # k < t : R_{k+1} reçue avant A_t
    assert norms[past].max() < 1e-12
    assert norms[~past].max() > 1e-2  # les récompenses qui suivent A_t en dépendent


@pytest.mark.parametrize("mdp,theta,gamma,H", CASES)
def test_all_psi_choices_are_unbiased(mdp, theta, gamma, H):
    traj = C.enumerate_trajectories(mdp, theta, H)
    est = C.psi_estimates(mdp, theta, traj, gamma)
    true = exact.true_gradient(C.finite_horizon_mdp(mdp, H), theta, gamma)
    for name, e in est.items():
        mean, var = C.weighted_moments(e, traj.weights)
        assert_close(torch.tensor(mean), torch.tensor(0.0 * true if name == "passé" else true), rtol=0, atol=1e-12)
    np.testing.assert_allclose(est["retour total"], est["passé"] + est["retour à venir"], atol=1e-12)
    # les variances, elles, diffèrent : l'avantage exact fait mieux que le retour
    v = {k: C.weighted_moments(e, traj.weights)[1] for k, e in est.items()}
    assert v["avantage"] < 0.5 * v["retour à venir"]


def test_reward_to_go_variance_depends_on_the_problem():
    """Retirer les récompenses passées ne réduit pas toujours la variance (mesuré, cf. le TP)."""
    def ratio(mdp, theta, H):
        traj = C.enumerate_trajectories(mdp, theta, H)
        est = C.psi_estimates(mdp, theta, traj, 1.0)
        return C.weighted_moments(est["retour total"], traj.weights)[1] / C.weighted_moments(
            est["retour à venir"], traj.weights)[1]
    assert ratio(short_corridor_mdp(), np.zeros(2), 8) > 2.0
    assert ratio(small_mdp(), THETA, 8) < 1.0


def test_monte_carlo_matches_exact_expectations():
    mdp, H, gamma = small_mdp(), 6, 1.0
    exact_est = C.psi_estimates(mdp, THETA, C.enumerate_trajectories(mdp, THETA, H), gamma)
    sample = C.sample_trajectories(mdp, THETA, H, 40_000, np.random.default_rng(0))
    mc_est = C.psi_estimates(mdp, THETA, sample, gamma)
    enum = C.enumerate_trajectories(mdp, THETA, H)
    for name in ("retour total", "retour à venir", "passé"):
        m_exact, v_exact = C.weighted_moments(exact_est[name], enum.weights)
        m_mc, v_mc = C.weighted_moments(mc_est[name], sample.weights)
        se = mc_est[name].std(axis=0) / np.sqrt(len(sample.weights))
        live = se > 0  # l'état terminal n'a pas de score
        assert live.sum() == 6 and np.abs((m_mc - m_exact)[live] / se[live]).max() < 4.5
        assert v_mc == pytest.approx(v_exact, rel=0.05)


def test_sampling_is_seeded_and_follows_the_policy():
    mdp = small_mdp()
    a = C.sample_trajectories(mdp, THETA, 3, 20_000, np.random.default_rng(1))
    b = C.sample_trajectories(mdp, THETA, 3, 20_000, np.random.default_rng(1))
    np.testing.assert_array_equal(a.actions, b.actions)
    pi = exact.softmax_policy(THETA, mdp.action_features)
    assert a.actions[:, 0].mean() == pytest.approx(pi[0, 1], abs=0.015)


def test_weighted_moments_match_numpy():
    x = np.random.default_rng(0).normal(size=(50, 3))
    mean, var = C.weighted_moments(x, np.full(50, 1 / 50))
    np.testing.assert_allclose(mean, x.mean(axis=0))
    assert var == pytest.approx(x.var(axis=0).sum())


def test_optimal_average_reward_beats_every_softmax_policy():
    mdp = exact.as_continuing(small_mdp())
    r_star, pi_star = C.optimal_average_reward(mdp)
    assert r_star == pytest.approx(exact.average_reward(mdp, pi_star))
    rng = np.random.default_rng(0)
    for _ in range(50):
        pi = exact.softmax_policy(rng.normal(scale=3.0, size=8), mdp.action_features)
        assert exact.average_reward(mdp, pi) <= r_star + 1e-12
    np.testing.assert_array_equal(pi_star[:3].argmax(axis=1), [1, 1, 1])  # toujours avancer


def test_bad_inputs():
    mdp = small_mdp()
    with pytest.raises(ValueError, match="horizon"):
        C.enumerate_trajectories(mdp, THETA, 0)
    with pytest.raises(ValueError, match="max_count"):
        C.enumerate_trajectories(mdp, THETA, 8, max_count=100)
    with pytest.raises(TypeError, match="rng"):
        C.sample_trajectories(mdp, THETA, 3, 10, rng=0)
    with pytest.raises(TypeError, match="theta"):
        C.trajectory_log_prob(mdp, THETA, C.enumerate_trajectories(mdp, THETA, 2))
    with pytest.raises(ValueError, match="theta"):
        C.trajectory_log_prob(mdp, torch.zeros(3, 8, dtype=torch.float64), C.enumerate_trajectories(mdp, THETA, 2))
    with pytest.raises(ValueError, match="weights"):
        C.weighted_moments(np.zeros((3, 2)), np.ones(2))
