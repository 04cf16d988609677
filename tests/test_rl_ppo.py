"""PPO : l'objectif écrêté contre un calcul à la main (float64), ses gradients, ses diagnostics et
un entraînement court qui apprend."""

import math

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from profond.rl.gaussian import GaussianPolicy
from profond.rl.ppo import (PPOConfig, PPOHistory, approx_kl, clip_fraction, clipped_surrogate,
                            importance_ratio, make_ppo_networks, train_ppo)

D = torch.float64
RATIO = torch.tensor([0.5, 0.9, 1.0, 1.3, 1.5, 0.7], dtype=D)
ADV = torch.tensor([1.0, -1.0, 2.0, 1.0, -2.0, -1.0], dtype=D)


def test_clipped_surrogate_by_hand():
    # min(ρÂ, clip(ρ, 0,8, 1,2)Â) : 0,5·1 ; −0,9 ; 2 ; min(1,3 ; 1,2) ; min(−3 ; −2,4) ; min(−0,7 ; −0,8)
    expected = torch.tensor([0.5, -0.9, 2.0, 1.2, -3.0, -0.8], dtype=D)
    assert_close(clipped_surrogate(RATIO, ADV, 0.2), expected)


def test_gradient_is_zero_exactly_where_the_ratio_is_clipped():
    logp_old = torch.zeros(6, dtype=D)
    logp = RATIO.log().clone().requires_grad_(True)
    clipped_surrogate(importance_ratio(logp, logp_old), ADV, 0.2).sum().backward()
    # clip actif : ρ = 1,3 avec Â > 0 et ρ = 0,7 avec Â < 0 ; ailleurs ∂(ρÂ)/∂ln π = ρÂ
    expected = torch.tensor([0.5, -0.9, 2.0, 0.0, -3.0, 0.0], dtype=D)
    assert_close(logp.grad, expected)


def test_at_ratio_one_the_gradient_is_the_policy_gradient():
    torch.manual_seed(0)
    logits = torch.randn(5, 3, dtype=D, requires_grad=True)
    act = torch.tensor([0, 2, 1, 1, 0])
    adv = torch.randn(5, dtype=D)
    def logp():
        return torch.log_softmax(logits, -1)[torch.arange(5), act]

    lp = logp()
    g_ppo, = torch.autograd.grad(clipped_surrogate(importance_ratio(lp, lp.detach()), adv, 0.2).mean(), logits)
    g_pg, = torch.autograd.grad((logp() * adv).mean(), logits)
    assert_close(g_ppo, g_pg)


def test_ratio_and_diagnostics_by_hand():
    assert_close(importance_ratio(torch.tensor([math.log(0.6)], dtype=D), torch.tensor([math.log(0.5)], dtype=D)),
                 torch.tensor([1.2], dtype=D))
    assert_close(clip_fraction(RATIO, 0.2), torch.tensor(4 / 6))  # 0,5 ; 1,3 ; 1,5 ; 0,7 sortent
    assert_close(approx_kl(torch.tensor([math.log(2.0)], dtype=D), torch.zeros(1, dtype=D)),
                 torch.tensor(1.0 - math.log(2.0), dtype=D))


def test_k3_is_an_unbiased_nonnegative_estimate_of_kl_old_new():
    old = torch.distributions.Categorical(probs=torch.tensor([0.5, 0.3, 0.2], dtype=D))
    new = torch.distributions.Categorical(probs=torch.tensor([0.4, 0.4, 0.2], dtype=D))
    a = old.sample((400_000,))
    logp, logp_old = new.log_prob(a), old.log_prob(a)
    log_ratio = logp - logp_old
    assert bool(((log_ratio.exp() - 1) - log_ratio >= 0).all())
    assert_close(approx_kl(logp, logp_old), torch.distributions.kl_divergence(old, new), rtol=0.02, atol=0)


def test_ratio_is_one_on_the_first_minibatch_only():
    seen = []
    cfg = PPOConfig(seed=0, max_steps=1, n_envs=4, n_steps=32, n_epochs=3, n_minibatches=2, progress=False)
    train_ppo(cfg, callback=lambda info: seen.append(info))
    assert len(seen) == 6
    first = seen[0]
    assert (first["epoch"], first["minibatch"]) == (0, 0)
    assert_close(first["ratio"], torch.ones_like(first["ratio"]))
    assert (seen[-1]["ratio"] - 1).abs().max() > 1e-4


def test_same_seed_same_history_and_diagnostics_recorded():
    cfg = PPOConfig(seed=3, max_steps=1000, n_envs=4, n_steps=64, progress=False)
    h1, h2 = train_ppo(cfg), train_ppo(cfg)
    assert isinstance(h1, PPOHistory)
    clock = ("episode_times", "wall_time", "solved_time")
    d1, d2 = ({k: v for k, v in h.as_dict().items() if k not in clock} for h in (h1, h2))
    assert d1 == d2
    n = len(h1.policy_loss)
    assert n == len(h1.approx_kl) == len(h1.clip_fraction) == len(h1.entropy) == len(h1.update_steps) >= 4
    assert all(k >= 0 for k in h1.approx_kl) and all(0 <= c <= 1 for c in h1.clip_fraction)
    assert h1.update_steps[-1] == h1.env_steps


def test_short_cartpole_run_improves():
    h = train_ppo(PPOConfig(seed=0, lr_policy=1e-2, lr_value=1e-2, max_steps=12_000, progress=False))
    first = np.mean(h.episode_returns[:20])
    assert first < 40
    assert h.mean_last(20) > 3 * first


def test_pendulum_gaussian_policy_runs_and_keeps_unclipped_actions(monkeypatch):
    import profond.rl.ppo as ppo

    sent = []
    real = ppo.make_vector_env

    def spy(env_id, n):
        envs = real(env_id, n)
        step = envs.step
        envs.step = lambda a: (sent.append(np.array(a)), step(a))[1]
        return envs

    monkeypatch.setattr(ppo, "make_vector_env", spy)
    seen = []
    h = train_ppo(PPOConfig(env_id="Pendulum-v1", seed=0, max_steps=400, n_envs=2, n_steps=100,
                            log_std_init=1.0, progress=False), callback=seen.append)
    assert isinstance(h.policy, GaussianPolicy)
    sent = np.concatenate(sent)
    assert np.abs(sent).max() <= 2.0 and (np.abs(sent) == 2.0).any()  # σ = e : beaucoup d'actions bornées
    assert h.episode_lengths == [200, 200] and np.isfinite(h.policy_loss).all()


def test_networks_follow_the_action_space():
    pi, _ = make_ppo_networks("Pendulum-v1", 8)
    assert isinstance(pi, GaussianPolicy) and pi.log_std.shape == (1,)
    pi, _ = make_ppo_networks("CartPole-v1", 8)
    assert pi(torch.zeros(1, 4)).shape == (1, 2)


def test_bad_config_raises_french_errors():
    with pytest.raises(ValueError, match="facteur I"):
        PPOConfig(discount_weighting=True)
    with pytest.raises(ValueError, match="strictement positif"):
        PPOConfig(clip_eps=0.0)
    with pytest.raises(ValueError, match="taille du lot"):
        PPOConfig(n_envs=2, n_steps=2, n_minibatches=8)
    with pytest.raises(TypeError, match="PPOConfig"):
        train_ppo({"seed": 0})
    with pytest.raises(ValueError, match="même forme"):
        clipped_surrogate(RATIO, ADV[:3], 0.2)


def test_entropy_bonus_widens_the_gaussian():
    cfg = dict(env_id="Pendulum-v1", seed=0, max_steps=400, n_envs=2, n_steps=100, lr_policy=1e-2, progress=False)
    plain = train_ppo(PPOConfig(**cfg)).policy.log_std.item()
    bonus = train_ppo(PPOConfig(entropy_coef=1.0, **cfg)).policy.log_std.item()
    # ∂H/∂ln σ = 1 : le bonus pousse ln σ vers le haut à chaque pas (Adam : environ α par pas)
    assert bonus > plain + 0.1 and bonus > 0.1
