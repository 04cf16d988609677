"""Temps et pas d'environnement jusqu'à la résolution de CartPole-v1, par algorithme.

« Résolu » : la moyenne des retours des 100 derniers épisodes terminés (tous environnements
confondus) atteint 475. Chaque course est bornée en temps (``--max-seconds``, 60 s par défaut) :
c'est un banc d'essai, pas une page du cours. Les entraîneurs signalent cette borne par
``TimeLimitReached`` (jamais d'arrêt silencieux) ; le banc la rattrape et compte la course « non
résolu ». Les réglages sont fixés (ceux du TP) : le banc mesure la vitesse de l'implémentation, il
ne classe pas les algorithmes. On donne la médiane sur 5 graines, à côté d'un
REINFORCE de référence écrit ici simplement (un environnement, une mise à jour par épisode,
``torch.distributions.Categorical`` à chaque pas), mesuré dans la même exécution.

Usage : ``python benchmarks/bench_cartpole.py [--seeds 5] [--max-seconds 60] [--only NOM ...]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn

import profond
from profond.rl import ActorCriticConfig, ReinforceConfig, train_actor_critic, train_reinforce
from profond.rl.history import TimeLimitReached
from profond.rl.ppo import PPOConfig, train_ppo

TARGET, WINDOW = 475.0, 100


@dataclass(frozen=True)
class ReferenceConfig:
    """Hyper-paramètres du REINFORCE de référence (ceux de ``ReinforceConfig`` par défaut : le pas
    classique 1e-2 d'Adam pour une mise à jour par épisode)."""

    seed: int = 0
    """Graine."""
    gamma: float = 0.99
    """Facteur d'actualisation."""
    lr: float = 1e-2
    """Pas d'Adam."""
    hidden: int = 32
    """Largeur de la couche cachée."""
    max_seconds: float = 60.0
    """Borne sur la durée."""


def reference_reinforce(cfg: ReferenceConfig) -> dict:
    """REINFORCE « naïf » : un environnement, ``Categorical`` à chaque pas, un pas d'Adam par épisode."""
    profond.seed_everything(cfg.seed)
    env = gym.make("CartPole-v1")
    policy = nn.Sequential(nn.Linear(4, cfg.hidden), nn.Tanh(), nn.Linear(cfg.hidden, 2))
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    returns, steps, start, episode = [], 0, time.perf_counter(), 0
    while time.perf_counter() - start < cfg.max_seconds:
        obs, _ = env.reset(seed=cfg.seed + episode)
        logps, rewards, done = [], [], False
        while not done:
            dist = torch.distributions.Categorical(logits=policy(torch.as_tensor(obs)))
            action = dist.sample()
            obs, reward, term, trunc, _ = env.step(int(action))
            logps.append(dist.log_prob(action))
            rewards.append(float(reward))
            done = term or trunc
        steps += len(rewards)
        episode += 1
        g, ret = 0.0, []
        for r in reversed(rewards):
            g = r + cfg.gamma * g
            ret.append(g)
        ret = torch.tensor(ret[::-1])
        loss = -(torch.stack(logps) * ret).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        returns.append(sum(rewards))
        if len(returns) >= WINDOW and np.mean(returns[-WINDOW:]) >= TARGET:
            return {"solved": True, "seconds": time.perf_counter() - start, "steps": steps, "episodes": episode}
    return {"solved": False, "seconds": time.perf_counter() - start, "steps": steps, "episodes": episode,
            "last_mean": float(np.mean(returns[-WINDOW:]))}


def from_history(h) -> dict:
    if h.solved_step is not None:
        return {"solved": True, "seconds": h.solved_time, "steps": h.solved_step, "episodes": len(h.episode_returns)}
    return {"solved": False, "seconds": h.wall_time, "steps": h.env_steps, "episodes": len(h.episode_returns),
            "last_mean": h.mean_last(WINDOW)}


def run_bounded(train, config) -> dict:
    """Entraîne jusqu'à la résolution ; une course arrêtée par la borne de durée compte « non résolu »."""
    try:
        return from_history(train(config))
    except TimeLimitReached as stop:
        return from_history(stop.history)


def algorithms(max_seconds: float) -> dict:
    bound = dict(max_seconds=max_seconds, max_steps=10**8, max_episodes=10**8, target_return=TARGET,
                 solved_window=WINDOW, discount_weighting=False, progress=False)
    return {
        "REINFORCE (8 env.)": lambda s: run_bounded(
            train_reinforce, ReinforceConfig(seed=s, n_envs=8, lr_policy=2e-2, **bound)),
        "REINFORCE + valeur de référence (8 env.)": lambda s: run_bounded(
            train_reinforce, ReinforceConfig(seed=s, n_envs=8, baseline=True, lr_policy=2e-2, **bound)),
        "acteur-critique à un pas (16 env.)": lambda s: run_bounded(
            train_actor_critic, ActorCriticConfig(seed=s, n_envs=16, lr_policy=3e-3, **bound)),
        "acteur-critique GAE (16 env. × 8 pas)": lambda s: run_bounded(train_actor_critic, ActorCriticConfig(
            seed=s, n_envs=16, n_steps=8, gae_lambda=0.95, lr_policy=3e-3, **bound)),
        "PPO (8 env. × 128 pas, 4 × 4 mini-lots)": lambda s: run_bounded(train_ppo, PPOConfig(
            seed=s, n_envs=8, n_steps=128, lr_policy=1e-2, lr_value=1e-2, **bound)),
        "référence : REINFORCE naïf (1 env.)": lambda s: reference_reinforce(
            ReferenceConfig(seed=s, max_seconds=max_seconds)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--only", nargs="*", default=None, help="sous-chaînes des noms à garder")
    parser.add_argument("--json", default=None, help="fichier où écrire les résultats bruts")
    args = parser.parse_args()
    algos = algorithms(args.max_seconds)
    if args.only:
        algos = {k: v for k, v in algos.items() if any(o.lower() in k.lower() for o in args.only)}
    results = {}
    for name, run in algos.items():
        results[name] = []
        for seed in range(args.seeds):
            r = run(seed)
            results[name].append(r)
            state = "résolu" if r["solved"] else f"non résolu (moyenne {r.get('last_mean', float('nan')):.0f})"
            print(f"{name:42s} graine {seed} : {state} en {r['seconds']:6.1f} s, {r['steps']:8d} pas", flush=True)
    print(f"\nMédiane sur {args.seeds} graines (seuil {TARGET:g} sur {WINDOW} épisodes, borne {args.max_seconds:g} s) :")
    print(f"{'algorithme':42s} {'résolus':>8s} {'temps (s)':>10s} {'pas':>10s}")
    for name, rs in results.items():
        n_solved = sum(r["solved"] for r in rs)
        # une course non résolue compte pour sa borne : la médiane n'est « résolue » que si > moitié
        med_t = statistics.median(r["seconds"] if r["solved"] else float("inf") for r in rs)
        med_s = statistics.median(r["steps"] if r["solved"] else float("inf") for r in rs)
        t_txt = f"{med_t:10.1f}" if np.isfinite(med_t) else f"{'non résolu':>10s}"
        s_txt = f"{med_s:10.0f}" if np.isfinite(med_s) else f"{'—':>10s}"
        print(f"{name:42s} {n_solved:>5d}/{len(rs)} {t_txt} {s_txt}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
