"""La tenue des boucles d'entraînement : facteur I, traces, masques, pas fictifs, comptage des pas.

Chaque test échoue si l'on se trompe sur un détail que les tests des règles de mise à jour ne voient
pas (ils partent de lots déjà construits) : ``I`` non remis à 1, trace non atténuée, pas d'attente
comptés, pas fictif qui bouge quand même les poids.
"""

import numpy as np
import pytest
import torch

import profond.rl.actor_critic as ac
import profond.rl.off_policy as off
from profond.rl import (ActorCriticConfig, OffPolicyActorCriticConfig, ReinforceConfig, train_actor_critic,
                        train_off_policy_actor_critic, train_reinforce)
from profond.rl.envs import make_vector_env, small_mdp
from profond.rl.montecarlo import score_function
from profond.rl.off_policy import OffPACState, off_policy_actor_critic_update
from profond.rl.policies import LinearSoftmaxPolicy, LinearValue, sample_actions
from profond.rl.reinforce import collect_episodes, reinforce_update
from profond.utils import seed_everything

MDP = small_mdp()
THETA0 = np.linspace(-0.4, 0.4, 8)


def spy_on(monkeypatch, module, name):
    """Remplace ``module.name`` par une copie qui note ses arguments ; renvoie la liste des appels."""
    calls, original = [], getattr(module, name)

    def spy(*args, **kwargs):
        out = original(*args, **kwargs)
        calls.append((args, kwargs, out))
        return out

    monkeypatch.setattr(module, name, spy)
    return calls


# --- Acteur-critique ---------------------------------------------------------------------------

def test_one_env_sgd_actor_critic_is_the_book_algorithm():
    """Un environnement, un pas, λ = 0, SGD : exactement l'encadré, I = γ^t compris (γ = 0,9)."""
    cfg = ActorCriticConfig(env_id="profond/SmallMDP-v0", gamma=0.9, optimizer="sgd", lr_policy=0.2,
                            lr_value=0.1, max_steps=400, progress=False)
    h = train_actor_critic(cfg)
    assert len(h.episode_returns) > 20  # plusieurs épisodes : I est remis à 1 bien des fois
    # La même chose écrite à la main, avec les mêmes tirages.
    generator = seed_everything(cfg.seed)
    policy = LinearSoftmaxPolicy(MDP.action_features)
    envs = make_vector_env(cfg.env_id, 1)
    obs, _ = envs.reset(seed=cfg.seed)
    theta, w = np.zeros(8), np.zeros(4)
    I, steps, prev_done = 1.0, 0, False
    while steps < cfg.max_steps:
        with torch.no_grad():
            policy.theta.copy_(torch.as_tensor(theta, dtype=torch.float32))
        with torch.inference_mode():
            a = sample_actions(policy(torch.as_tensor(obs)), generator)
        next_obs, r, term, trunc, _ = envs.step(a.numpy())
        if not prev_done:  # un vrai pas, pas la réinitialisation qui suit une fin d'épisode
            s, s_next, act = int(obs[0]), int(next_obs[0]), int(a[0])
            delta = r[0] + (0.0 if term[0] else cfg.gamma * w[s_next]) - w[s]
            theta = theta + cfg.lr_policy * I * delta * score_function(theta, MDP.action_features)[s, act]
            w[s] += cfg.lr_value * delta  # v̂(s, w) = w[s] : ∇v̂ est l'indicatrice de s
            I *= cfg.gamma
            steps += 1
        prev_done = bool(term[0] or trunc[0])
        if prev_done:
            I = 1.0
        obs = next_obs
    np.testing.assert_allclose(h.policy.theta.detach().numpy(), theta, atol=1e-4)


def test_discount_factor_I_restarts_with_each_episode(monkeypatch):
    calls = spy_on(monkeypatch, ac, "actor_critic_update")
    gamma = 0.8
    train_actor_critic(ActorCriticConfig(env_id="profond/SmallMDP-v0", gamma=gamma, n_envs=3, n_steps=5,
                                         max_steps=600, progress=False))
    batches = [args[3] for args, _, _ in calls]
    disc, valid, done = (torch.cat([b[k] for b in batches]).numpy() for k in ("disc", "valid", "done"))
    n_resets = 0
    for env in range(3):
        t = 0
        for k in range(len(disc)):
            if not valid[k, env]:
                continue  # pas fictif : masqué
            assert disc[k, env] == pytest.approx(gamma**t, rel=1e-5), (env, k)
            t += 1
            if done[k, env]:
                t, n_resets = 0, n_resets + 1
    assert n_resets > 10


def test_reset_steps_do_not_move_the_weights_with_adam(monkeypatch):
    """Un lot fait seulement d'un pas fictif ne fait aucun pas, même avec Adam (réglage par défaut)."""
    moved = []
    original = ac.actor_critic_update

    def spy(policy, value, optimizer, batch, gamma, lam):
        before = [p.detach().clone() for p in (*policy.parameters(), *value.parameters())]
        out = original(policy, value, optimizer, batch, gamma, lam)
        after = [p.detach() for p in (*policy.parameters(), *value.parameters())]
        moved.append((bool(batch["valid"].any()), any(not torch.equal(a, b) for a, b in zip(before, after))))
        return out

    monkeypatch.setattr(ac, "actor_critic_update", spy)
    train_actor_critic(ActorCriticConfig(env_id="profond/SmallMDP-v0", gamma=0.9, max_steps=300, progress=False))
    fictitious = [m for valid, m in moved if not valid]
    assert len(fictitious) > 10 and not any(fictitious)
    assert all(m for valid, m in moved if valid)


def test_actor_critic_counts_only_real_steps():
    h = train_actor_critic(ActorCriticConfig(env_id="profond/SmallMDP-v0", n_envs=4, n_steps=3, max_steps=500,
                                             progress=False))
    # les épisodes terminés plus ceux en cours (au plus 200 pas chacun) ; les pas fictifs ne comptent pas
    assert sum(h.episode_lengths) <= h.env_steps <= sum(h.episode_lengths) + 4 * 200
    assert h.episode_steps == sorted(h.episode_steps)


# --- REINFORCE : masques et comptage -------------------------------------------------------------

def test_reinforce_update_masks_episodes_of_different_lengths():
    """Deux épisodes de 3 et 1 pas dans un même lot : le bourrage (récompenses 100) ne compte pas."""
    policy = LinearSoftmaxPolicy(MDP.action_features, THETA0)
    value = LinearValue(MDP.state_features)
    alpha, gamma = 0.1, 0.9
    opt = torch.optim.SGD([{"params": policy.parameters(), "lr": alpha}])
    obs = torch.tensor([[0, 2], [1, 1], [2, 0]])
    act = torch.tensor([[1, 0], [1, 1], [0, 1]])
    rew = torch.tensor([[1.0, -2.0], [-0.5, 100.0], [2.0, 100.0]])  # (T=3, N=2)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    reinforce_update(policy, value, opt, {"obs": obs, "act": act, "rew": rew, "mask": mask}, gamma,
                     discount_weighting=True, baseline=False)
    score = score_function(THETA0, MDP.action_features)
    G0 = [1.0 + gamma * -0.5 + gamma**2 * 2.0, -0.5 + gamma * 2.0, 2.0]
    g_episode_0 = sum(gamma**t * G0[t] * score[[0, 1, 2][t], [1, 1, 0][t]] for t in range(3))
    g_episode_1 = -2.0 * score[2, 0]
    expected = THETA0 + alpha * (g_episode_0 + g_episode_1) / 2  # moyenne sur les épisodes
    np.testing.assert_allclose(policy.theta.detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_reinforce_baseline_masks_the_critic_too():
    policy = LinearSoftmaxPolicy(MDP.action_features, THETA0)
    value = LinearValue(MDP.state_features)
    alpha_w = 0.05
    opt = torch.optim.SGD([{"params": policy.parameters(), "lr": 0.0},
                           {"params": value.parameters(), "lr": alpha_w}])
    batch = {"obs": torch.tensor([[0, 1], [2, 1]]), "act": torch.tensor([[1, 0], [0, 0]]),
             "rew": torch.tensor([[1.0, 3.0], [2.0, 50.0]]), "mask": torch.tensor([[1.0, 1.0], [1.0, 0.0]])}
    reinforce_update(policy, value, opt, batch, 1.0, discount_weighting=True, baseline=True)
    # w = 0 : δ = G. Épisode 0 : G = (3, 2) en s = (0, 2) ; épisode 1 : G = 3 en s = 1 ; moyenne sur 2 épisodes
    np.testing.assert_allclose(value.w.detach().numpy(), [alpha_w * 3 / 2, alpha_w * 3 / 2, alpha_w * 2 / 2, 0],
                               atol=1e-6)


def test_collect_episodes_masks_a_prefix_and_counts_real_steps():
    generator = seed_everything(0)
    envs = make_vector_env("CartPole-v1", 5)
    obs, _ = envs.reset(seed=0)
    policy = torch.nn.Linear(4, 2)
    batch, steps = collect_episodes(envs, policy, obs, generator)
    mask = batch["mask"].numpy()
    lengths = mask.sum(0)
    assert len(set(lengths)) > 1  # des épisodes de durées différentes
    for i, n in enumerate(lengths.astype(int)):
        assert mask[:n, i].all() and not mask[n:, i].any()
    assert steps == int(lengths.sum()) < mask.size  # les pas d'attente ne comptent pas
    assert (batch["rew"].numpy() * mask).sum() == lengths.sum()  # +1 par pas de CartPole


def test_reinforce_counts_only_steps_inside_episodes():
    h = train_reinforce(ReinforceConfig(n_envs=8, max_steps=3000, progress=False))
    assert h.env_steps == sum(h.episode_lengths)
    assert 3000 <= h.env_steps < 3000 + 8 * 500


# --- Off-PAC : traces -----------------------------------------------------------------------------

def test_off_policy_traces_decay_by_gamma_lambda():
    """Traces non nulles, γ(s) = 0,9 et γ(s') = 0,5 : ``e ← ρ(x + γ(s) λ e)``, calculé à la main."""
    state = OffPACState(v=np.array([1.0, 2.0]), w=np.array([0.5, 0.25]), u=np.array([0.1]),
                        e_v=np.array([0.4, -0.2]), e_u=np.array([0.3]))
    new, delta = off_policy_actor_critic_update(
        state, x_s=np.array([1.0, 0.0]), x_next=np.array([0.0, 1.0]), score=np.array([1.0]), rho=2.0,
        reward=1.0, gamma_s=0.9, gamma_next=0.5, lam=0.5, alpha_v=0.1, alpha_w=0.1, alpha_u=0.1)
    assert delta == pytest.approx(1.0)  # 1 + 0,5·2 − 1
    np.testing.assert_allclose(new.e_v, [2.36, -0.18])  # 2·((1, 0) + 0,9·0,5·(0,4, −0,2))
    # wᵀe_v = 1,135 ; v += 0,1·(δ·e_v − 0,5·(1 − 0,5)·1,135·x_s')
    np.testing.assert_allclose(new.v, [1.236, 1.953625])
    np.testing.assert_allclose(new.w, [0.686, 0.232])  # w += 0,1·(δ·e_v − (wᵀx_s = 0,5)·x_s)
    np.testing.assert_allclose(new.e_u, [2.27])  # 2·(1 + 0,9·0,5·0,3)
    np.testing.assert_allclose(new.u, [0.327])  # 0,1 + 0,1·1·2,27


def test_off_policy_loop_cuts_traces_exactly_at_episode_starts(monkeypatch):
    calls = spy_on(monkeypatch, off, "off_policy_actor_critic_update")
    gamma = 0.9
    h = train_off_policy_actor_critic(OffPolicyActorCriticConfig(gamma=gamma, max_steps=1500, progress=False))
    g_s = [kwargs["gamma_s"] for _, kwargs, _ in calls]
    g_next = [kwargs["gamma_next"] for _, kwargs, _ in calls]
    assert len(calls) == 1500 and len(h.episode_returns) > 20
    starts = [0] + [k + 1 for k in range(len(calls) - 1) if g_next[k] == 0.0]  # après chaque état terminal
    assert [k for k, g in enumerate(g_s) if g == 0.0] == starts
    assert all(g == gamma for k, g in enumerate(g_s) if k not in starts)
