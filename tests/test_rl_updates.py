"""Les règles de mise à jour, comparées à leurs formules calculées à la main (SGD, politique linéaire)."""

import numpy as np
import pytest
import torch

from profond.rl.actor_critic import actor_critic_update
from profond.rl.envs import small_mdp
from profond.rl.montecarlo import score_function
from profond.rl.off_policy import OffPACState, off_policy_actor_critic_update
from profond.rl.policies import LinearSoftmaxPolicy, LinearValue
from profond.rl.reinforce import reinforce_update

MDP = small_mdp()
THETA0 = np.linspace(-0.4, 0.4, 8)


def networks():
    policy = LinearSoftmaxPolicy(MDP.action_features, THETA0)
    value = LinearValue(MDP.state_features)
    with torch.no_grad():
        value.w.copy_(torch.tensor([0.5, -0.2, 1.0, 3.0]))
    return policy, value


def test_reinforce_update_is_the_book_rule():
    policy, value = networks()
    alpha, gamma = 0.1, 0.9
    opt = torch.optim.SGD([{"params": policy.parameters(), "lr": alpha}])
    s, a, r = [0, 1, 2], [1, 1, 0], [1.0, -0.5, 2.0]
    batch = {"obs": torch.tensor(s)[:, None], "act": torch.tensor(a)[:, None],
             "rew": torch.tensor(r)[:, None], "mask": torch.ones(3, 1)}
    reinforce_update(policy, value, opt, batch, gamma, discount_weighting=True, baseline=False)
    G = [r[0] + gamma * r[1] + gamma**2 * r[2], r[1] + gamma * r[2], r[2]]
    score = score_function(THETA0, MDP.action_features)
    expected = THETA0 + alpha * sum(gamma**t * G[t] * score[s[t], a[t]] for t in range(3))
    np.testing.assert_allclose(policy.theta.detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_reinforce_baseline_update_subtracts_value():
    policy, value = networks()
    alpha, alpha_w, gamma = 0.1, 0.05, 1.0
    opt = torch.optim.SGD([{"params": policy.parameters(), "lr": alpha},
                           {"params": value.parameters(), "lr": alpha_w}])
    s, a, r = [0, 2], [0, 1], [1.0, 2.0]
    batch = {"obs": torch.tensor(s)[:, None], "act": torch.tensor(a)[:, None],
             "rew": torch.tensor(r)[:, None], "mask": torch.ones(2, 1)}
    w0 = value.w.detach().numpy().copy()
    reinforce_update(policy, value, opt, batch, gamma, discount_weighting=True, baseline=True)
    G = [3.0, 2.0]
    delta = [G[0] - w0[0], G[1] - w0[2]]  # δ = G − v̂(S_t, w)
    score = score_function(THETA0, MDP.action_features)
    np.testing.assert_allclose(policy.theta.detach().numpy(),
                               THETA0 + alpha * (delta[0] * score[0, 0] + delta[1] * score[2, 1]), atol=1e-6)
    expected_w = w0.copy()
    expected_w[0] += alpha_w * delta[0]
    expected_w[2] += alpha_w * delta[1]
    np.testing.assert_allclose(value.w.detach().numpy(), expected_w, atol=1e-6)


def test_one_step_actor_critic_update_is_the_book_rule():
    policy, value = networks()
    alpha, alpha_w, gamma, I = 0.1, 0.05, 0.9, 0.81
    opt = torch.optim.SGD([{"params": policy.parameters(), "lr": alpha},
                           {"params": value.parameters(), "lr": alpha_w}])
    # un seul environnement, un seul pas : S = 1, A = 1, R = 0.5, S' = 2 (non terminal)
    batch = {"obs": torch.tensor([[1], [2]]), "act": torch.tensor([[1]]), "rew": torch.tensor([[0.5]]),
             "term": torch.zeros(1, 1), "done": torch.zeros(1, 1), "valid": torch.ones(1, 1),
             "disc": torch.tensor([[I]])}
    w0 = value.w.detach().numpy().copy()
    actor_critic_update(policy, value, opt, batch, gamma, lam=0.0)
    delta = 0.5 + gamma * w0[2] - w0[1]
    score = score_function(THETA0, MDP.action_features)
    np.testing.assert_allclose(policy.theta.detach().numpy(), THETA0 + alpha * I * delta * score[1, 1], atol=1e-6)
    expected_w = w0.copy()
    expected_w[1] += alpha_w * delta
    np.testing.assert_allclose(value.w.detach().numpy(), expected_w, atol=1e-6)


def test_off_policy_update_by_hand():
    state = OffPACState(v=np.array([1.0, 2.0]), w=np.array([0.5, 0.0]), u=np.zeros(1), e_v=np.zeros(2),
                        e_u=np.zeros(1))
    new, delta = off_policy_actor_critic_update(
        state, x_s=np.array([1.0, 0.0]), x_next=np.array([0.0, 1.0]), score=np.array([1.0]), rho=2.0,
        reward=1.0, gamma_s=0.0, gamma_next=0.9, lam=0.5, alpha_v=0.1, alpha_w=0.1, alpha_u=0.1)
    assert delta == pytest.approx(1.8)  # 1 + 0,9·2 − 1
    np.testing.assert_allclose(new.e_v, [2.0, 0.0])
    np.testing.assert_allclose(new.v, [1.36, 1.955])  # correction −0,1·0,9·0,5·(wᵀe_v = 1)·x_s'
    np.testing.assert_allclose(new.w, [0.81, 0.0])
    np.testing.assert_allclose(new.e_u, [2.0])
    np.testing.assert_allclose(new.u, [0.36])
