"""Réglages du gradient de la politique (profond.rl.practice et les options de l'acteur-critique)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

import profond.rl.actor_critic as ac
from profond.rl import exact, practice
from profond.rl.actor_critic import ActorCriticConfig, actor_critic_update, train_actor_critic
from profond.rl.envs import small_mdp
from profond.rl.policies import MLPPolicy, MLPValue

MDP = small_mdp()
PI = np.array([[0.8, 0.2], [0.3, 0.7], [0.1, 0.9], [0.5, 0.5]])
V_HAT = np.array([0.5, 1.0, 2.0, 7.0])  # v̂ quelconque ; la valeur de l'état terminal est ignorée


# --- Fonctions pures contre leurs références torch (float64) -----------------------------------

def test_normalized_advantages_matches_standardisation():
    g = torch.Generator().manual_seed(0)
    adv = torch.randn(7, 5, generator=g, dtype=torch.float64) * 3 + 2
    ref = (adv - adv.mean()) / (adv.std(unbiased=False) + 1e-8)
    torch.testing.assert_close(practice.normalized_advantages(adv), ref)
    mask = (torch.rand(7, 5, generator=g) > 0.3).double()
    kept = adv[mask.bool()]
    ref_masked = torch.zeros_like(adv)
    ref_masked[mask.bool()] = (kept - kept.mean()) / (kept.std(unbiased=False) + 1e-8)
    out = practice.normalized_advantages(adv, mask)
    torch.testing.assert_close(out, ref_masked)
    assert float(out[mask.bool()].mean()) == pytest.approx(0.0, abs=1e-12)
    assert float(out[mask.bool()].std(unbiased=False)) == pytest.approx(1.0, abs=1e-6)


def test_normalized_advantages_rejects_bad_input():
    with pytest.raises(TypeError, match="tenseur"):
        practice.normalized_advantages([1.0, 2.0])
    with pytest.raises(ValueError, match="forme"):
        practice.normalized_advantages(torch.ones(3), torch.ones(2))
    with pytest.raises(ValueError, match="aucune entrée"):
        practice.normalized_advantages(torch.ones(3), torch.zeros(3))


def test_entropy_and_kl_match_torch_distributions():
    g = torch.Generator().manual_seed(1)
    p, q = (torch.randn(6, 4, 3, generator=g, dtype=torch.float64) * 2 for _ in range(2))
    dist_p, dist_q = torch.distributions.Categorical(logits=p), torch.distributions.Categorical(logits=q)
    torch.testing.assert_close(practice.categorical_entropy(p), dist_p.entropy())
    torch.testing.assert_close(practice.categorical_kl(p, q), torch.distributions.kl_divergence(dist_p, dist_q))
    torch.testing.assert_close(practice.categorical_kl(p, p), torch.zeros(6, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="formes"):
        practice.categorical_kl(p, q[..., :2])


# --- Biais et variance de GAE sur le PDM tabulaire ---------------------------------------------

def test_expected_gae_limits():
    q = exact.action_values(MDP, PI, 1.0)
    v_hat = np.where(MDP.terminal, 0.0, V_HAT)
    nonterm = ~MDP.terminal
    # λ = 1, γ = 1 : E[G_t − v̂(S_t)] = q(s, a) − v̂(s)
    e1 = practice.gae_expected_advantage(MDP, PI, V_HAT, 1.0, 1.0)
    np.testing.assert_allclose(e1[nonterm], (q - v_hat[:, None])[nonterm], atol=1e-10)
    # λ = 0 : le résidu TD moyen
    e0 = practice.gae_expected_advantage(MDP, PI, V_HAT, 0.9, 0.0)
    np.testing.assert_allclose(e0, MDP.R + 0.9 * MDP.P @ v_hat - v_hat[:, None], atol=1e-12)
    # v̂ = v_π : sans biais pour tout λ (même γ)
    v = exact.state_values(MDP, PI, 0.9)
    adv = exact.action_values(MDP, PI, 0.9) - v[:, None]
    for lam in (0.0, 0.5, 1.0):
        np.testing.assert_allclose(practice.gae_expected_advantage(MDP, PI, v, 0.9, lam), adv, atol=1e-10)


def test_gradient_bias_ignores_state_only_errors():
    adv = exact.action_values(MDP, PI, 1.0) - exact.state_values(MDP, PI, 1.0)[:, None]
    shifted = adv + np.array([3.0, -1.0, 2.0, 0.0])[:, None]
    np.testing.assert_allclose(practice.gradient_bias(MDP, PI, shifted, adv), 0.0, atol=1e-12)
    assert np.abs(practice.gradient_bias(MDP, PI, adv + np.array([[0.0, 1.0]] * 4), adv)).max() > 0.1


def test_rollouts_agree_with_exact_expectation():
    samples = practice.gae_rollout_samples(MDP, PI, V_HAT, [1.0, 0.9], [0.0, 0.7, 1.0], 3000,
                                           np.random.default_rng(0))
    assert samples.shape == (2, 3, 4, 2, 3000) and np.isnan(samples[:, :, 3]).all()
    for i, g in enumerate((1.0, 0.9)):
        for j, lam in enumerate((0.0, 0.7, 1.0)):
            exact_mean = practice.gae_expected_advantage(MDP, PI, V_HAT, g, lam)[:3]
            x = samples[i, j, :3]
            se = x.std(axis=-1) / np.sqrt(x.shape[-1])
            assert (np.abs(x.mean(axis=-1) - exact_mean) < 5 * se + 1e-9).all(), (g, lam)


def test_bias_variance_tradeoff_on_small_mdp():
    lams = [0.0, 0.5, 1.0]
    table = practice.bias_variance_table(MDP, PI, V_HAT, [1.0, 0.8], lams, 2000, np.random.default_rng(1))
    assert table["bias"][0, -1] == pytest.approx(0.0, abs=1e-10)  # γ = 1, λ = 1 : sans biais
    assert table["bias"][0, 0] > 0.05  # λ = 0 avec un critique faux : biaisé
    assert table["bias"][1, -1] > 0.01  # γ < 1 : biaisé même à λ = 1
    assert (np.diff(table["std"][0]) > 0).all()  # la variance croît avec λ
    assert table["std"][1, -1] < table["std"][0, -1]  # et décroît quand γ baisse
    # le biais estimé par Monte-Carlo retrouve le biais exact, au bruit près (erreur type σ/√n)
    assert (np.abs(table["mc_bias"] - table["bias"]) < 3 * table["std"] / np.sqrt(2000)).all()


def test_tabular_inputs_are_checked():
    with pytest.raises(ValueError, match="v_hat"):
        practice.gae_expected_advantage(MDP, PI, np.zeros(3), 1.0, 0.5)
    with pytest.raises(ValueError, match="gamma"):
        practice.gae_expected_advantage(MDP, PI, V_HAT, 1.5, 0.5)
    with pytest.raises(TypeError, match="Generator"):
        practice.gae_rollout_samples(MDP, PI, V_HAT, 1.0, 0.5, 10, rng=0)


# --- Options de l'acteur-critique ---------------------------------------------------------------

def _batch(rewards: torch.Tensor) -> dict:
    T, N = rewards.shape
    g = torch.Generator().manual_seed(2)
    return {"obs": torch.randn(T + 1, N, 4, generator=g), "act": torch.randint(0, 2, (T, N), generator=g),
            "rew": rewards, "term": torch.zeros(T, N), "done": torch.zeros(T, N), "valid": torch.ones(T, N),
            "disc": torch.ones(T, N)}


def _policy_step(rewards, scale, **options):
    torch.manual_seed(0)
    policy, value = MLPPolicy(4, 2, 8), MLPValue(4, 8)
    with torch.no_grad():
        for p in value.parameters():
            p.zero_()  # v̂ = 0 : l'avantage ne dépend que des récompenses
    before = [p.detach().clone() for p in policy.parameters()]
    opt = torch.optim.SGD([{"params": policy.parameters(), "lr": 0.1}, {"params": value.parameters(), "lr": 0.0}])
    actor_critic_update(policy, value, opt, _batch(scale * rewards), 0.9, 0.5, **options)
    return torch.cat([(p.detach() - b).flatten() for p, b in zip(policy.parameters(), before)])


def test_normalisation_makes_the_actor_step_scale_free():
    rewards = torch.rand(6, 3, generator=torch.Generator().manual_seed(3))
    raw_1, raw_10 = _policy_step(rewards, 1.0), _policy_step(rewards, 10.0)
    torch.testing.assert_close(raw_10, 10 * raw_1, rtol=1e-4, atol=1e-7)  # sans : le pas suit l'échelle
    norm_1, norm_10 = (_policy_step(rewards, s, normalize=True) for s in (1.0, 10.0))
    torch.testing.assert_close(norm_10, norm_1, rtol=1e-4, atol=1e-7)  # avec : il n'en dépend plus
    assert not torch.allclose(norm_1, raw_1)


def test_entropy_bonus_raises_entropy_when_advantages_vanish():
    torch.manual_seed(0)
    policy, value = MLPPolicy(4, 2, 8), MLPValue(4, 8)
    with torch.no_grad():
        for p in value.parameters():
            p.zero_()
        policy.net[2].bias.copy_(torch.tensor([2.0, -2.0]))  # une politique presque déterministe
    batch = _batch(torch.zeros(6, 3))  # δ = 0 partout : seul le bonus pousse
    opt = torch.optim.SGD(list(policy.parameters()) + list(value.parameters()), lr=0.5)

    def entropy():
        with torch.no_grad():
            return float(practice.categorical_entropy(policy(batch["obs"][:-1])).mean())

    h0 = entropy()
    actor_critic_update(policy, value, opt, batch, 0.9, 0.5)
    assert entropy() == h0  # sans bonus : rien ne bouge
    actor_critic_update(policy, value, opt, batch, 0.9, 0.5, entropy_coef=1.0)
    assert entropy() > h0 + 1e-3


def test_history_records_entropy_and_kl():
    cfg = ActorCriticConfig(n_envs=4, n_steps=8, gae_lambda=0.9, max_steps=1500, progress=False)
    h = train_actor_critic(cfg)
    assert len(h.entropy) == len(h.kl) == len(h.update_steps) == len(h.policy_loss) > 20
    assert np.all(np.diff(h.update_steps) > 0) and h.update_steps[-1] == h.env_steps
    assert abs(h.entropy[0] - np.log(2)) < 0.05  # réseau initial : presque uniforme sur 2 actions
    assert min(h.kl) >= 0 and max(h.kl) > 0
    again = train_actor_critic(cfg)
    assert again.entropy == h.entropy and again.kl == h.kl and again.episode_returns == h.episode_returns
    assert h.value is not None and "value" not in h.as_dict()


def test_kl_is_the_change_made_by_the_update(monkeypatch):
    seen = []
    original = ac.actor_critic_update

    def spy(policy, value, optimizer, batch, gamma, lam, **options):
        with torch.no_grad():
            before = policy(batch["obs"][:-1])
        out = original(policy, value, optimizer, batch, gamma, lam, **options)
        with torch.no_grad():
            kl = practice.categorical_kl(before, policy(batch["obs"][:-1]))
        seen.append(float((batch["valid"] * kl).sum() / batch["valid"].sum()))
        return out

    monkeypatch.setattr(ac, "actor_critic_update", spy)
    h = train_actor_critic(ActorCriticConfig(n_envs=2, n_steps=4, gae_lambda=0.9, max_steps=200, progress=False))
    np.testing.assert_allclose(h.kl, seen, rtol=1e-5, atol=1e-9)


def test_options_default_off_and_checked():
    cfg = ActorCriticConfig()
    assert cfg.normalize_advantages is False and cfg.entropy_coef == 0.0
    with pytest.raises(ValueError):
        ActorCriticConfig(entropy_coef=-0.1)
    with pytest.raises(TypeError, match="booléen"):
        ActorCriticConfig(normalize_advantages=1)


def test_options_change_the_run():
    base = dict(n_envs=4, n_steps=8, gae_lambda=0.9, max_steps=1500, progress=False)
    h0 = train_actor_critic(ActorCriticConfig(**base))
    h_norm = train_actor_critic(ActorCriticConfig(normalize_advantages=True, **base))
    h_ent = train_actor_critic(ActorCriticConfig(entropy_coef=0.05, **base))
    assert h_norm.kl != h0.kl and h_ent.kl != h0.kl
    assert h_ent.entropy[-1] > h0.entropy[-1]


def test_update_curve_and_plots():
    h = train_actor_critic(ActorCriticConfig(n_envs=2, n_steps=4, max_steps=300, progress=False))
    x, y = practice.update_curve(h, "entropy", window=5)
    assert len(x) == len(y) == len(h.entropy)
    with pytest.raises(ValueError, match="key"):
        practice.update_curve(h, "episode_returns")
    import matplotlib.pyplot as plt

    _, fresh = plt.subplots()  # des axes neufs : plt.gca() garderait les courbes d'un autre test
    ax = practice.plot_update_curves({"a": [h, h]}, "kl", logy=True, ax=fresh)
    assert ax is fresh and len(ax.lines) == 3
    plt.close("all")
    table = {k: np.ones((2, 3)) for k in ("bias", "std")}
    axes = practice.plot_bias_variance(table, [1.0, 0.9], [0.0, 0.5, 1.0])
    assert len(axes[0].lines) == 2


def test_return_curve_reads_a_common_grid():
    h = train_actor_critic(ActorCriticConfig(n_envs=2, n_steps=4, max_steps=600, progress=False))
    grid = np.linspace(0, 600, 7)
    x, y = practice.return_curve(h, grid, window=5)
    assert x.shape == y.shape == (7,)
    last = np.searchsorted(h.episode_steps, 600, side="right") - 1
    assert y[-1] == pytest.approx(np.mean(h.episode_returns[last - 4:last + 1]))
    from profond.rl.history import History
    with pytest.raises(ValueError, match="aucun épisode"):
        practice.return_curve(History(), grid)
