"""Agents (profond.rl.reinforce, actor_critic, off_policy) et environnements (profond.rl.envs)."""

import dataclasses
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from profond.rl import (ActorCriticConfig, OffPolicyActorCriticConfig, ReinforceConfig, train_actor_critic,
                        train_off_policy_actor_critic, train_reinforce)
from profond.rl import exact
from profond.rl.envs import (COURSE_ENVS, TabularMDPVectorEnv, describe_env, make_vector_env,
                             short_corridor_mdp, short_corridor_optimum, small_mdp)
from profond.rl.history import History, TimeLimitReached, mean_return
from profond.rl.reinforce import policy_table

CORRIDOR = dict(env_id="profond/ShortCorridor-v0", gamma=1.0, optimizer="sgd", lr_value=2**-6,
                theta_init=(0.0, float(np.log(19))), progress=False)  # P(droite) = 0,05 au départ


@pytest.mark.parametrize("env_id", ["profond/ShortCorridor-v0", "profond/SmallMDP-v0"])
def test_env_checker(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped)
    assert env.spec.max_episode_steps is not None  # épisodes bornés


def test_short_corridor_dynamics():
    env = gym.make("profond/ShortCorridor-v0").unwrapped
    env.reset(seed=0)
    assert env.step(0)[0] == 0  # mur à gauche
    assert env.step(1)[0] == 1
    assert env.step(1)[0] == 0  # état 1 : actions inversées
    env.step(1)
    assert env.step(0)[0] == 2
    s, r, term, trunc, _ = env.step(1)
    assert (s, r, term, trunc) == (3, -1.0, True, False)


def test_small_mdp_env_follows_its_matrix():
    env = gym.make("profond/SmallMDP-v0").unwrapped
    env.reset(seed=0)
    counts = np.zeros(4)
    for _ in range(4000):
        env._state = 1
        counts[env.step(1)[0]] += 1
    np.testing.assert_allclose(counts / counts.sum(), small_mdp().P[1, 1], atol=0.03)


def test_vector_env_kinds():
    assert make_vector_env("CartPole-v1", 4).num_envs == 4
    assert make_vector_env("profond/SmallMDP-v0", 2).num_envs == 2
    with pytest.raises(ValueError, match="`n_envs`"):
        make_vector_env("CartPole-v1", 0)


def test_reinforce_drives_p_right_to_optimum():
    p_star, j_star = short_corridor_optimum()
    for baseline, lr, episodes in ((False, 2**-11, 350), (True, 2**-9, 250)):
        h = train_reinforce(ReinforceConfig(seed=0, baseline=baseline, lr_policy=lr, max_episodes=episodes, **CORRIDOR))
        p_right = policy_table(h.policy)[0, 1]
        assert h.objective[0] == pytest.approx(-82.105, abs=1e-2)
        assert abs(p_right - p_star) < 0.15, (baseline, p_right)
        assert np.mean(h.objective[-20:]) > j_star - 1.0, baseline


def test_same_seed_same_history():
    for cfg, train in (
        (ReinforceConfig(seed=3, baseline=True, n_envs=4, max_episodes=12, progress=False), train_reinforce),
        (ActorCriticConfig(seed=3, n_envs=4, n_steps=4, gae_lambda=0.9, max_steps=800, progress=False),
         train_actor_critic),
        (OffPolicyActorCriticConfig(seed=3, max_steps=500, progress=False), train_off_policy_actor_critic),
    ):
        a, b = train(cfg), train(cfg)
        assert a.episode_returns == b.episode_returns and a.objective == b.objective
        assert a.policy_loss == b.policy_loss
        c = train(dataclasses.replace(cfg, seed=4))
        assert c.episode_returns != a.episode_returns


@pytest.mark.parametrize("cfg,train", [
    (ReinforceConfig(n_envs=4, max_steps=2000, progress=False), train_reinforce),
    (ReinforceConfig(n_envs=4, baseline=True, discount_weighting=False, max_steps=2000, progress=False),
     train_reinforce),
    (ActorCriticConfig(n_envs=4, max_steps=1000, progress=False), train_actor_critic),
    (ActorCriticConfig(n_envs=4, n_steps=8, gae_lambda=0.95, max_steps=2000, progress=False), train_actor_critic),
])
def test_smoke_cartpole(cfg, train):
    h = train(cfg)
    n = len(h.episode_returns)
    assert n > 10 and len(h.episode_lengths) == len(h.episode_steps) == len(h.episode_times) == n
    assert cfg.max_steps <= h.env_steps < cfg.max_steps + 600 * cfg.n_envs
    assert all(r == l for r, l in zip(h.episode_returns, h.episode_lengths))  # +1 par pas
    assert h.objective == [] and len(h.policy_loss) > 0 and np.isfinite(h.policy_loss).all()


def test_bounds_episodes_and_no_default_time_limit():
    h = train_reinforce(ReinforceConfig(n_envs=2, max_episodes=6, progress=False))
    assert len(h.episode_returns) == 6
    for cfg in (ReinforceConfig(), ActorCriticConfig(), OffPolicyActorCriticConfig()):
        assert cfg.max_seconds is None  # les pages bornent en pas ou en épisodes, jamais en secondes


@pytest.mark.parametrize("cfg,train", [
    (ActorCriticConfig(n_envs=2, max_seconds=0.3, progress=False), train_actor_critic),
    (ReinforceConfig(n_envs=2, max_seconds=0.3, max_episodes=10**6, progress=False), train_reinforce),
    (OffPolicyActorCriticConfig(max_seconds=0.3, max_steps=10**8, progress=False), train_off_policy_actor_critic),
])
def test_time_limit_is_an_error_not_a_silent_cut(cfg, train):
    with pytest.raises(TimeLimitReached, match="borne de durée `max_seconds` = 0.3 s") as err:
        train(cfg)
    h = err.value.history  # ce qui a été mesuré reste disponible (pour un banc d'essai)
    assert h.env_steps > 0 and 0.3 <= h.wall_time < 5.0
    with pytest.raises(ValueError, match="`max_seconds`"):
        dataclasses.replace(cfg, max_seconds=0.0)


def test_lab_env_creation_emits_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        infos = {env_id: describe_env(env_id) for env_id in (*COURSE_ENVS, "CartPole-v1")}
    assert [i["checked"] for i in infos.values()] == [True, True, False]
    assert infos["profond/ShortCorridor-v0"]["max_episode_steps"] == 1000
    assert infos["CartPole-v1"]["actions"] == gym.spaces.Discrete(2)


def test_tabular_vector_env_resets_on_the_next_step_and_truncates():
    envs = make_vector_env("profond/ShortCorridor-v0", 2)
    assert isinstance(envs, TabularMDPVectorEnv)
    obs, _ = envs.reset(seed=0)
    assert obs.tolist() == [0, 0]
    for a, expected in (([1, 0], [1, 0]), ([0, 0], [2, 0]), ([1, 0], [3, 0])):
        obs, r, term, trunc, _ = envs.step(np.array(a))
        assert obs.tolist() == expected and r.tolist() == [-1.0, -1.0]
    assert term.tolist() == [True, False]
    obs, r, term, trunc, _ = envs.step(np.array([1, 0]))  # pas fictif : la copie 0 repart de l'état 0
    assert obs.tolist() == [0, 0] and r.tolist() == [0.0, -1.0] and not term.any()
    with pytest.raises(ValueError, match="`actions`"):
        envs.step(np.array([2, 0]))
    envs = TabularMDPVectorEnv(short_corridor_mdp(), 1, max_episode_steps=3)
    envs.reset(seed=0)
    flags = [envs.step(np.array([0]))[2:4] for _ in range(4)]  # toujours contre le mur
    assert [bool(t[1][0]) for t in flags] == [False, False, True, False]


def test_tabular_vector_env_follows_the_single_env():
    """Mêmes graines, mêmes trajectoires que ``SyncVectorEnv`` sur ``TabularMDPEnv`` (mêmes tirages)."""
    slow = gym.make_vec("profond/SmallMDP-v0", num_envs=1, vectorization_mode="sync")
    fast = TabularMDPVectorEnv(small_mdp(), 1, max_episode_steps=200)
    rng = np.random.default_rng(0)
    a, b = fast.reset(seed=5)[0], slow.reset(seed=5)[0]
    for _ in range(300):
        act = rng.integers(2, size=1)
        out_fast, out_slow = fast.step(act), slow.step(act)
        for x, y in zip(out_fast[:4], out_slow[:4]):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_exact_objective_of_a_policy_that_never_ends():
    corridor = short_corridor_mdp()
    always_right = np.tile([0.0, 1.0], (4, 1))  # aller-retour sans fin entre les deux premiers états
    assert exact.objective(corridor, always_right, 1.0) == -np.inf
    assert np.isfinite(exact.objective(corridor, always_right, 0.9))


def test_mean_return_score():
    h = History(episode_returns=[-3.0, -1.0])
    assert mean_return(h) == -2.0
    h.diverged = True
    assert mean_return(h) == -np.inf
    with pytest.raises(TypeError, match="`history`"):
        mean_return([1.0])


def test_divergence_stops_the_run():
    h = train_reinforce(ReinforceConfig(seed=0, lr_policy=1e38, max_episodes=50, **CORRIDOR))
    assert h.diverged and len(h.episode_returns) < 50


def test_actor_critic_learns_small_mdp():
    h = train_actor_critic(ActorCriticConfig(env_id="profond/SmallMDP-v0", gamma=0.9, n_envs=8, optimizer="sgd",
                                             lr_policy=0.5, lr_value=0.5, max_steps=4000, progress=False))
    assert h.objective[0] == pytest.approx(0.881, abs=1e-3)  # θ = 0 : politique uniforme
    assert h.objective[-1] > 1.6


def test_actor_critic_learns_cartpole():
    h = train_actor_critic(ActorCriticConfig(n_envs=16, n_steps=8, gae_lambda=0.95, discount_weighting=False,
                                             lr_policy=3e-3, max_steps=30_000, progress=False))
    assert np.mean(h.episode_returns[:20]) < 40 and h.mean_last(20) > 100


def test_off_policy_target_improves_while_behaviour_fixed():
    mdp = small_mdp()
    j_b = exact.objective(mdp, np.full((4, 2), 0.5), 0.9)
    h = train_off_policy_actor_critic(OffPolicyActorCriticConfig(max_steps=6000, progress=False))
    assert h.objective[0] == pytest.approx(j_b)  # u = 0 : π_u = b au départ
    assert h.objective[-1] > j_b + 0.7
    # les épisodes sont joués par b : leur retour (non actualisé) reste celui de la politique uniforme
    r = np.asarray(h.episode_returns)
    j_b_undiscounted = exact.objective(mdp, np.full((4, 2), 0.5), 1.0)
    assert abs(r.mean() - j_b_undiscounted) < 4 * r.std() / np.sqrt(len(r))
    assert abs(r[-len(r) // 4:].mean() - j_b_undiscounted) < 8 * r.std() / np.sqrt(len(r))


def test_config_validation():
    with pytest.raises(ValueError, match="`gamma`"):
        ReinforceConfig(gamma=1.5)
    with pytest.raises(TypeError, match="`seed`"):
        ActorCriticConfig(seed=1.0)
    with pytest.raises(ValueError, match="`lr_policy`"):
        ActorCriticConfig(lr_policy=0.0)
    with pytest.raises(ValueError, match="`optimizer`"):
        train_reinforce(ReinforceConfig(optimizer="rmsprop", max_episodes=1, progress=False))
    with pytest.raises(TypeError, match="`config`"):
        train_actor_critic(ReinforceConfig())
    with pytest.raises(ValueError, match="PDM tabulaire"):
        train_off_policy_actor_critic(OffPolicyActorCriticConfig(env_id="CartPole-v1"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ReinforceConfig().seed = 2


def test_cartpole_benchmark_reports_a_time_limit_as_unsolved(monkeypatch):
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_cartpole.py"
    spec = importlib.util.spec_from_file_location("bench_cartpole", path)
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_cartpole", bench)  # ses dataclasses le demandent
    spec.loader.exec_module(bench)
    r = bench.run_bounded(train_actor_critic, ActorCriticConfig(n_envs=2, max_seconds=0.2, max_steps=10**8,
                                                                progress=False))
    assert r["solved"] is False and r["steps"] > 0 and r["seconds"] >= 0.2
