"""Acteur-critique avec traces, épisodique et à récompense moyenne (profond.rl.traces)."""

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from profond.rl import exact
from profond.rl import traces as T
from profond.rl.actor_critic import actor_critic_update
from profond.rl.envs import small_mdp
from profond.rl.montecarlo import score_function
from profond.rl.policies import LinearSoftmaxPolicy, LinearValue

MDP = small_mdp()
THETA0 = np.linspace(-0.4, 0.4, 8)
W0 = np.array([0.5, -0.2, 1.0, 3.0])
X_S = np.asarray(MDP.state_features, dtype=float)
SCORE = score_function(THETA0, MDP.action_features)


def test_eligibility_trace_decays_geometrically():
    z = np.array([1.0, -2.0])
    for n in range(1, 6):
        z = T.eligibility_trace(z, np.zeros(2), 0.9 * 0.5)
        assert_close(torch.tensor(z), torch.tensor([1.0, -2.0], dtype=torch.float64) * 0.45**n, rtol=1e-14, atol=0)
    assert_close(torch.tensor(T.eligibility_trace(z, [1.0, 1.0], 0.0)), torch.tensor([1.0, 1.0], dtype=torch.float64))


@pytest.mark.parametrize("terminal", [False, True])
def test_lambda_zero_is_the_one_step_actor_critic(terminal):
    """λ^θ = λ^w = 0 : la mise à jour de ``actor_critic_update`` (SGD, float64), quelles que soient
    les traces."""
    alpha, alpha_w, gamma, I = 0.1, 0.05, 0.9, 0.81
    policy = LinearSoftmaxPolicy(MDP.action_features, THETA0).double()
    value = LinearValue(MDP.state_features).double()
    with torch.no_grad():  # θ initial exact en float64 (le constructeur passe par float32)
        policy.theta.copy_(torch.tensor(THETA0))
        value.w.copy_(torch.tensor(W0))
    opt = torch.optim.SGD([{"params": policy.parameters(), "lr": alpha},
                           {"params": value.parameters(), "lr": alpha_w}])
    f64 = dict(dtype=torch.float64)
    batch = {"obs": torch.tensor([[1], [2]]), "act": torch.tensor([[1]]), "rew": torch.tensor([[0.5]], **f64),
             "term": torch.full((1, 1), float(terminal), **f64), "done": torch.full((1, 1), float(terminal), **f64),
             "valid": torch.ones(1, 1, **f64), "disc": torch.tensor([[I]], **f64)}
    actor_critic_update(policy, value, opt, batch, gamma, lam=0.0)
    rng = np.random.default_rng(0)
    state = T.TraceState(THETA0, W0, rng.normal(size=8), rng.normal(size=4), I)  # des traces quelconques
    new, delta = T.actor_critic_trace_step(state, X_S[1], X_S[2], SCORE[1, 1], 0.5, terminal, gamma,
                                           lam_theta=0.0, lam_w=0.0, alpha_theta=alpha, alpha_w=alpha_w)
    assert_close(torch.tensor(new.theta), policy.theta.detach(), rtol=0, atol=1e-14)
    assert_close(torch.tensor(new.w), value.w.detach(), rtol=0, atol=1e-14)
    assert delta == pytest.approx(0.5 + (0.0 if terminal else gamma * W0[2]) - W0[1], abs=1e-15)
    assert new.I == pytest.approx(gamma * I)


def test_traces_accumulate_discounted_past_gradients():
    gamma, lam_t, lam_w = 0.9, 0.7, 0.4
    state = T.TraceState(THETA0, W0, np.zeros(8), np.zeros(4), 1.0)
    visits = [(0, 1, 1), (1, 0, 1), (1, 1, 2)]  # (S, A, S')
    for s, a, s2 in visits:  # pas d'apprentissage nuls : seules les traces bougent
        state, _ = T.actor_critic_trace_step(state, X_S[s], X_S[s2], SCORE[s, a], 0.0, False, gamma,
                                             lam_t, lam_w, alpha_theta=0.0, alpha_w=0.0)
    expected_zt = sum((gamma * lam_t) ** (2 - t) * gamma**t * SCORE[s, a] for t, (s, a, _) in enumerate(visits))
    expected_zw = sum((gamma * lam_w) ** (2 - t) * X_S[s] for t, (s, _, _) in enumerate(visits))
    assert_close(torch.tensor(state.z_theta), torch.tensor(expected_zt), rtol=1e-14, atol=1e-15)
    assert_close(torch.tensor(state.z_w), torch.tensor(expected_zw), rtol=1e-14, atol=1e-15)
    assert state.I == pytest.approx(gamma**3)
    # puis les paramètres bougent le long des traces : θ ← θ + α^θ δ z^θ
    new, delta = T.actor_critic_trace_step(state, X_S[2], X_S[2], SCORE[2, 0], 1.0, False, gamma,
                                           lam_t, lam_w, alpha_theta=0.1, alpha_w=0.2)
    assert_close(torch.tensor(new.theta), torch.tensor(THETA0 + 0.1 * delta * new.z_theta), rtol=0, atol=1e-15)
    assert_close(torch.tensor(new.w), torch.tensor(W0 + 0.2 * delta * new.z_w), rtol=0, atol=1e-15)


def test_average_reward_step_by_hand():
    rng = np.random.default_rng(1)
    zt, zw = rng.normal(size=8), rng.normal(size=4)
    state = T.AverageRewardState(THETA0, W0, 0.3, zt, zw)
    new, delta = T.average_reward_step(state, X_S[0], X_S[1], SCORE[0, 1], 1.2, lam_theta=0.5, lam_w=0.25,
                                       alpha_theta=0.1, alpha_w=0.2, alpha_r=0.05)
    d = 1.2 - 0.3 + W0[1] - W0[0]
    assert delta == pytest.approx(d, abs=1e-15)
    assert new.r_bar == pytest.approx(0.3 + 0.05 * d, abs=1e-15)
    assert_close(torch.tensor(new.z_w), torch.tensor(0.25 * zw + X_S[0]), rtol=0, atol=1e-15)
    assert_close(torch.tensor(new.z_theta), torch.tensor(0.5 * zt + SCORE[0, 1]), rtol=0, atol=1e-15)
    assert_close(torch.tensor(new.theta), torch.tensor(THETA0 + 0.1 * d * new.z_theta), rtol=0, atol=1e-15)
    assert_close(torch.tensor(new.w), torch.tensor(W0 + 0.2 * d * new.z_w), rtol=0, atol=1e-15)


def test_trainer_is_seeded_and_learns():
    cfg = T.TraceActorCriticConfig(seed=3, max_steps=3000, alpha_theta=0.2, alpha_w=0.2, progress=False)
    a, b = T.train_actor_critic_traces(cfg), T.train_actor_critic_traces(cfg)
    assert a.objective == b.objective and a.episode_returns == b.episode_returns
    j_star = MDP.mu0 @ exact.optimal_state_values(MDP, cfg.gamma)
    assert a.objective[0] < j_star - 0.8  # départ : politique uniforme
    assert a.objective[-1] > j_star - 0.1
    assert a.env_steps == 3000 and len(a.objective) == 3000 // cfg.eval_every + 1


def test_run_wrapper_for_compare():
    h = T.run_actor_critic_traces(seed=2, max_steps=300, progress=False)
    cfg = T.TraceActorCriticConfig(seed=2, max_steps=300, progress=False)
    assert h.objective == T.train_actor_critic_traces(cfg).objective


def test_average_reward_critic_tracks_r_pi_for_a_frozen_policy():
    """α^θ minuscule : la politique reste uniforme, et R̄ converge vers le vrai r(π)."""
    cfg = T.AverageRewardConfig(seed=0, max_steps=8000, alpha_theta=1e-12, alpha_w=0.05, alpha_r=0.01,
                                lam_w=0.5, progress=False)
    h = T.train_average_reward_actor_critic(cfg)
    r_pi = h.objective[-1]
    assert r_pi == pytest.approx(exact.average_reward(exact.as_continuing(MDP), np.full((4, 2), 0.5)))
    assert np.mean(h.r_bar[-10:]) == pytest.approx(r_pi, abs=0.06)
    assert abs(h.r_bar[0] - r_pi) > 0.25  # parti de R̄ = 0


def test_average_reward_trainer_learns():
    cfg = T.AverageRewardConfig(seed=1, max_steps=6000, alpha_theta=0.1, alpha_w=0.1, progress=False)
    h = T.train_average_reward_actor_critic(cfg)
    assert h.objective[-1] > h.objective[0] + 0.2
    assert h.objective == T.train_average_reward_actor_critic(cfg).objective


def test_bad_inputs():
    with pytest.raises(ValueError, match="lam_theta"):
        T.TraceActorCriticConfig(lam_theta=1.5)
    with pytest.raises(ValueError, match="alpha_r"):
        T.AverageRewardConfig(alpha_r=0.0)
    with pytest.raises(TypeError, match="config"):
        T.train_actor_critic_traces(T.AverageRewardConfig())
    with pytest.raises(ValueError, match="tabulaire"):
        T.train_average_reward_actor_critic(T.AverageRewardConfig(env_id="CartPole-v1"))
