"""Acteur-critique avec traces d'éligibilité, épisodique et à récompense moyenne.

Sutton & Barto (2018), sections 13.5 et 13.6 ; TP « le gradient de la politique, calculé
exactement », algorithmes ``pge-algo-traces`` et ``pge-algo-moyenne``. Politique softmax linéaire
et critique linéaire ``v̂(s, w) = wᵀx(s)`` sur les caractéristiques d'un
:class:`~profond.rl.exact.TabularMDP` : la performance exacte de la politique (``J(θ)``, ou
``r(π)`` dans le cas continu) est calculée pendant l'entraînement.

Les règles de mise à jour sont des fonctions pures (:func:`actor_critic_trace_step`,
:func:`average_reward_step`) ; les boucles d'entraînement, bornées en pas, les appellent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import gymnasium as gym
import numpy as np

from profond.rl import exact
from profond.rl.envs import TabularMDPEnv, env_mdp
from profond.rl.history import History, Recorder, RunConfig
from profond.utils import check_positive, check_positive_int, progress_bar


def _check_lambda(name: str, value) -> float:
    value = check_positive(name, value)
    if value > 1.0:
        raise ValueError(f"`{name}` doit appartenir à [0, 1], reçu {value}.")
    return value


def eligibility_trace(z, grad, decay: float) -> np.ndarray:
    """La trace accumulée ``z ← decay · z + grad`` (équation ``pge-eq-traces``).

    ``decay`` vaut ``γλ`` dans le cas épisodique, ``λ`` dans le cas continu ; avec ``decay = 0``, la
    trace n'est que le dernier gradient.

    >>> eligibility_trace(np.array([1.0, 2.0]), np.array([1.0, 0.0]), 0.5)
    array([1.5, 1. ])
    """
    return decay * np.asarray(z, dtype=float) + np.asarray(grad, dtype=float)


class TraceState(NamedTuple):
    """Paramètres et traces de l'acteur-critique avec traces (cas épisodique)."""

    theta: np.ndarray
    """Paramètres de la politique ``π(a|s, θ)``."""
    w: np.ndarray
    """Poids du critique ``v̂(s, w) = wᵀx(s)``."""
    z_theta: np.ndarray
    """Trace de l'acteur ``z^θ``."""
    z_w: np.ndarray
    """Trace du critique ``z^w``."""
    I: float = 1.0
    """Actualisation cumulée ``I = γ^t`` (``t`` : pas dans l'épisode)."""


def td_error(reward: float, v_s: float, v_next: float, gamma: float, terminal: bool) -> float:
    """``δ = R + γ v̂(S', w) − v̂(S, w)``, avec ``v̂(S') = 0`` si ``S'`` est terminal (équation ``pg-eq-td``).

    La version scalaire, pour un pas, de :func:`profond.rl.estimators.td_residuals`.
    """
    return float(reward + (0.0 if terminal else gamma * v_next) - v_s)


def actor_critic_trace_step(state: TraceState, x_s, x_next, score, reward: float, terminal: bool, gamma: float,
                            lam_theta: float, lam_w: float, alpha_theta: float,
                            alpha_w: float) -> tuple[TraceState, float]:
    """Un pas de l'acteur-critique avec traces (algorithme ``pge-algo-traces``, équation ``pge-eq-traces``).

    ``x_s``, ``x_next`` : caractéristiques ``x(S)``, ``x(S')`` (donc ``∇v̂(S, w) = x(S)``) ;
    ``score`` : ``∇ln π(A|S, θ)``. Avec ``λ^θ = λ^w = 0``, c'est exactement l'acteur-critique à un
    pas (algorithme ``pg-algo-acteur-critique``). Renvoie le nouvel état et ``δ``.
    """
    theta, w, z_theta, z_w, I = state
    x_s, x_next = np.asarray(x_s, dtype=float), np.asarray(x_next, dtype=float)
    delta = td_error(reward, w @ x_s, w @ x_next, gamma, terminal)
    z_w = eligibility_trace(z_w, x_s, gamma * lam_w)
    z_theta = eligibility_trace(z_theta, I * np.asarray(score, dtype=float), gamma * lam_theta)
    w = w + alpha_w * delta * z_w
    theta = theta + alpha_theta * delta * z_theta
    return TraceState(theta, w, z_theta, z_w, gamma * I), delta


class AverageRewardState(NamedTuple):
    """Paramètres, traces et récompense moyenne estimée (cas continu)."""

    theta: np.ndarray
    w: np.ndarray
    r_bar: float
    """Estimation ``R̄`` de la récompense moyenne ``r(π)``."""
    z_theta: np.ndarray
    z_w: np.ndarray


def differential_td_error(reward: float, r_bar: float, v_s: float, v_next: float) -> float:
    """``δ = R − R̄ + v̂(S', w) − v̂(S, w)`` : le résidu TD du retour différentiel.

    Équation ``pge-eq-delta-moyen``.
    """
    return float(reward - r_bar + v_next - v_s)


def average_reward_step(state: AverageRewardState, x_s, x_next, score, reward: float, lam_theta: float,
                        lam_w: float, alpha_theta: float, alpha_w: float,
                        alpha_r: float) -> tuple[AverageRewardState, float]:
    """Un pas de l'acteur-critique à récompense moyenne (algorithme ``pge-algo-moyenne``).

    ``R̄ ← R̄ + α^{R̄} δ``, traces ``z ← λ z + ∇`` (pas de ``γ`` ni de ``I`` : rien n'est actualisé),
    puis ``w ← w + α^w δ z^w`` et ``θ ← θ + α^θ δ z^θ``. Renvoie le nouvel état et ``δ``.
    """
    theta, w, r_bar, z_theta, z_w = state
    x_s, x_next = np.asarray(x_s, dtype=float), np.asarray(x_next, dtype=float)
    delta = differential_td_error(reward, r_bar, w @ x_s, w @ x_next)
    r_bar = r_bar + alpha_r * delta
    z_w = eligibility_trace(z_w, x_s, lam_w)
    z_theta = eligibility_trace(z_theta, score, lam_theta)
    w = w + alpha_w * delta * z_w
    theta = theta + alpha_theta * delta * z_theta
    return AverageRewardState(theta, w, float(r_bar), z_theta, z_w), delta


def _act(features_s: np.ndarray, theta: np.ndarray, rng: np.random.Generator) -> tuple[int, np.ndarray]:
    """Tire ``A ~ π(·|S, θ)`` et renvoie ``(A, ∇ln π(A|S, θ))`` (équation ``pg-eq-softmax``)."""
    h = features_s @ theta  # (A,) préférences
    p = np.exp(h - h.max())
    p /= p.sum()
    a = int(min(np.searchsorted(np.cumsum(p), rng.random(), side="right"), len(p) - 1))
    return a, features_s[a] - p @ features_s


@dataclass(frozen=True)
class TraceActorCriticConfig(RunConfig):
    """Hyper-paramètres de :func:`train_actor_critic_traces` (les bornes communes sont celles de
    :class:`~profond.rl.history.RunConfig`)."""

    env_id: str = "profond/SmallMDP-v0"
    """Un environnement tabulaire du cours (il fournit les caractéristiques linéaires)."""
    gamma: float = 0.9
    """Facteur d'actualisation γ."""
    max_episodes: int = 1_000_000
    """Borne sur le nombre d'épisodes."""
    max_steps: int = 20_000
    """Borne sur le nombre de pas (c'est elle qui arrête les courses du TP)."""
    lam_theta: float = 0.8
    """λ^θ de la trace de l'acteur."""
    lam_w: float = 0.8
    """λ^w de la trace du critique."""
    alpha_theta: float = 0.1
    """Taux d'apprentissage α^θ de l'acteur."""
    alpha_w: float = 0.1
    """Taux d'apprentissage α^w du critique."""
    eval_every: int = 250
    """Calculer ``J(θ)`` exact tous les ``eval_every`` pas."""

    def __post_init__(self):
        super().__post_init__()
        _check_lambda("lam_theta", self.lam_theta)
        _check_lambda("lam_w", self.lam_w)
        check_positive("alpha_theta", self.alpha_theta, strict=True)
        check_positive("alpha_w", self.alpha_w, strict=True)
        check_positive_int("eval_every", self.eval_every)


def _tabular(env_id: str) -> exact.TabularMDP:
    mdp = env_mdp(env_id)
    if mdp is None:
        raise ValueError(f"`env_id` doit désigner un PDM tabulaire du cours, reçu {env_id!r}.")
    return mdp


def train_actor_critic_traces(config: TraceActorCriticConfig) -> History:
    """Acteur-critique avec traces (algorithme ``pge-algo-traces``) ; borné en pas et en épisodes.

    ``History.objective`` suit ``J(θ)`` exact tous les ``eval_every`` pas ; une fin d'épisode par
    limite de temps (troncature) garde ``v̂(S')`` dans ``δ`` et remet les traces à zéro.
    """
    if not isinstance(config, TraceActorCriticConfig):
        raise TypeError(f"`config` doit être un TraceActorCriticConfig, reçu {type(config).__name__}.")
    cfg = config
    mdp = _tabular(cfg.env_id)
    x_sa, x_s = np.asarray(mdp.action_features, dtype=float), np.asarray(mdp.state_features, dtype=float)
    rng = np.random.default_rng(cfg.seed)
    env = gym.make(cfg.env_id)
    d, k = x_sa.shape[2], x_s.shape[1]
    state = TraceState(np.zeros(d), np.zeros(k), np.zeros(d), np.zeros(k), 1.0)
    rec = Recorder(cfg, progress_bar(None, cfg.progress, total=cfg.max_steps, desc="Acteur-critique (traces)"))
    s, _ = env.reset(seed=cfg.seed)
    ep_ret, ep_len = 0.0, 0
    while not rec.done():
        if rec.history.env_steps % cfg.eval_every == 0:
            rec.objective(exact.objective(mdp, exact.softmax_policy(state.theta, x_sa), cfg.gamma))
        a, score = _act(x_sa[s], state.theta, rng)
        s_next, r, term, trunc, _ = env.step(a)
        state, _ = actor_critic_trace_step(state, x_s[s], x_s[s_next], score, r, term, cfg.gamma,
                                           cfg.lam_theta, cfg.lam_w, cfg.alpha_theta, cfg.alpha_w)
        rec.add_steps(1)
        if rec.bar is not None:
            rec.bar.update(1)
        ep_ret, ep_len, s = ep_ret + r, ep_len + 1, s_next
        if term or trunc:
            rec.history.episode_returns.append(ep_ret)
            rec.history.episode_lengths.append(ep_len)
            rec.history.episode_steps.append(rec.history.env_steps)
            rec.history.episode_times.append(rec.elapsed())
            s, _ = env.reset()  # le générateur de l'environnement, graine fixée au premier reset, continue
            ep_ret, ep_len = 0.0, 0
            state = TraceState(state.theta, state.w, np.zeros(d), np.zeros(k), 1.0)
            rec.history.diverged = not (np.isfinite(state.theta).all() and np.isfinite(state.w).all())
    rec.objective(exact.objective(mdp, exact.softmax_policy(state.theta, x_sa), cfg.gamma))
    env.close()
    history = rec.close()
    history.policy = state.theta
    return history


def run_actor_critic_traces(seed: int, **params) -> History:
    """Une course pour :func:`profond.compare.compare` : ``params`` sont les champs de
    :class:`TraceActorCriticConfig`."""
    return train_actor_critic_traces(TraceActorCriticConfig(seed=seed, **params))


@dataclass(frozen=True)
class AverageRewardConfig:
    """Hyper-paramètres de :func:`train_average_reward_actor_critic` (cas continu, sans γ)."""

    env_id: str = "profond/SmallMDP-v0"
    """Un PDM tabulaire du cours, joué dans sa version continue (``exact.as_continuing``)."""
    seed: int = 0
    """Graine des tirages d'actions et de l'environnement."""
    max_steps: int = 20_000
    """Nombre de pas (une tâche continue n'a pas d'épisodes)."""
    lam_theta: float = 0.8
    """λ^θ de la trace de l'acteur."""
    lam_w: float = 0.8
    """λ^w de la trace du critique."""
    alpha_theta: float = 0.05
    """Taux d'apprentissage α^θ de l'acteur."""
    alpha_w: float = 0.05
    """Taux d'apprentissage α^w du critique."""
    alpha_r: float = 0.01
    """Taux d'apprentissage α^{R̄} de la récompense moyenne estimée."""
    eval_every: int = 250
    """Calculer ``r(π)`` exact tous les ``eval_every`` pas."""
    progress: bool = True
    """Afficher une barre de progression tqdm."""

    def __post_init__(self):
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"`seed` doit être un entier, reçu {type(self.seed).__name__}.")
        check_positive_int("max_steps", self.max_steps)
        check_positive_int("eval_every", self.eval_every)
        _check_lambda("lam_theta", self.lam_theta)
        _check_lambda("lam_w", self.lam_w)
        for name in ("alpha_theta", "alpha_w", "alpha_r"):
            check_positive(name, getattr(self, name), strict=True)


@dataclass
class AverageRewardHistory(History):
    """Un :class:`History` où ``objective`` est ``r(π)`` exact, avec en plus l'estimation ``R̄``."""

    r_bar: list[float] = field(default_factory=list)
    """``R̄`` aux mêmes pas que ``objective``."""


def train_average_reward_actor_critic(config: AverageRewardConfig) -> AverageRewardHistory:
    """Acteur-critique à récompense moyenne (algorithme ``pge-algo-moyenne``), borné en pas."""
    if not isinstance(config, AverageRewardConfig):
        raise TypeError(f"`config` doit être un AverageRewardConfig, reçu {type(config).__name__}.")
    cfg = config
    mdp = exact.as_continuing(_tabular(cfg.env_id))
    x_sa, x_s = np.asarray(mdp.action_features, dtype=float), np.asarray(mdp.state_features, dtype=float)
    rng = np.random.default_rng(cfg.seed)
    env = TabularMDPEnv(mdp)
    d, k = x_sa.shape[2], x_s.shape[1]
    state = AverageRewardState(np.zeros(d), np.zeros(k), 0.0, np.zeros(d), np.zeros(k))
    h = AverageRewardHistory()
    s, _ = env.reset(seed=cfg.seed)
    for step in progress_bar(range(cfg.max_steps + 1), cfg.progress, desc="Acteur-critique (récompense moyenne)"):
        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            h.objective.append(exact.average_reward(mdp, exact.softmax_policy(state.theta, x_sa)))
            h.objective_steps.append(step)
            h.r_bar.append(state.r_bar)
        if step == cfg.max_steps:
            break
        a, score = _act(x_sa[s], state.theta, rng)
        s_next, r, _, _, _ = env.step(a)
        state, _ = average_reward_step(state, x_s[s], x_s[s_next], score, r, cfg.lam_theta, cfg.lam_w,
                                       cfg.alpha_theta, cfg.alpha_w, cfg.alpha_r)
        s = s_next
        if step % cfg.eval_every == 0 and not (np.isfinite(state.theta).all() and np.isfinite(state.w).all()):
            h.diverged = True
            break
    h.env_steps = step
    h.policy = state.theta
    return h
