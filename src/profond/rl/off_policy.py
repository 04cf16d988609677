"""Acteur-critique hors politique (Off-PAC, Degris, White & Sutton, 2012), à caractéristiques linéaires.

Chapitre « Gradient de la politique », algorithme ``pg-algo-off-pac``. Les actions sont tirées
d'une politique de comportement ``b`` fixe (ici uniforme) ; on améliore la politique cible
``π_u`` grâce au rapport d'importance ``ρ = π_u(a|s) / b(a|s)``. Le critique est GTD(λ) : poids
``v``, trace d'éligibilité ``e_v`` et poids auxiliaires ``w`` ; l'acteur a sa trace ``e_u``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import gymnasium as gym
import numpy as np

from profond.rl import exact
from profond.rl.envs import env_mdp
from profond.rl.history import History, Recorder, RunConfig
from profond.rl.montecarlo import score_function
from profond.utils import check_in_unit_interval, check_positive, check_positive_int, progress_bar


@dataclass(frozen=True)
class OffPolicyActorCriticConfig(RunConfig):
    """Hyper-paramètres de :func:`train_off_policy_actor_critic` (les bornes communes sont celles
    de :class:`~profond.rl.history.RunConfig`)."""

    env_id: str = "profond/SmallMDP-v0"
    """Un environnement tabulaire (il fournit les caractéristiques linéaires)."""
    gamma: float = 0.9
    """Facteur d'actualisation γ (``γ(s) = 0`` à l'entrée d'un état terminal)."""
    max_episodes: int = 1_000_000
    """Borne sur le nombre d'épisodes joués par ``b``."""
    max_steps: int = 20_000
    """Borne sur le nombre de pas."""
    lam: float = 0.5
    """λ des traces d'éligibilité ``e_v`` et ``e_u``."""
    alpha_v: float = 0.05
    """Pas du critique (poids ``v``)."""
    alpha_w: float = 0.01
    """Pas des poids auxiliaires ``w`` du critique gradient-TD."""
    alpha_u: float = 0.05
    """Pas de l'acteur (paramètres ``u`` de la politique cible)."""
    eval_every: int = 200
    """Calculer ``J(π_u)`` exact tous les ``eval_every`` pas."""

    def __post_init__(self):
        super().__post_init__()
        check_in_unit_interval("lam", self.lam)
        for name in ("alpha_v", "alpha_w", "alpha_u"):
            check_positive(name, getattr(self, name), strict=True)
        check_positive_int("eval_every", self.eval_every)


class OffPACState(NamedTuple):
    """Paramètres et traces d'Off-PAC."""

    v: np.ndarray
    """Poids du critique : ``v̂(s) = vᵀx_s``."""
    w: np.ndarray
    """Poids auxiliaires du critique gradient-TD (estiment l'erreur TD attendue en fonction de ``x_s``)."""
    u: np.ndarray
    """Paramètres de la politique cible ``π_u``."""
    e_v: np.ndarray
    """Trace d'éligibilité du critique."""
    e_u: np.ndarray
    """Trace d'éligibilité de l'acteur."""


def off_policy_actor_critic_update(state: OffPACState, x_s, x_next, score, rho: float, reward: float,
                                   gamma_s: float, gamma_next: float, lam: float, alpha_v: float,
                                   alpha_w: float, alpha_u: float) -> tuple[OffPACState, float]:
    """Un pas d'Off-PAC (équations ``pg-eq-offpac-critique`` et ``pg-eq-offpac-acteur``).

    ``score`` est ``∇_u π_u(a|s) / π_u(a|s)`` ; ``gamma_s`` vaut 0 au premier état d'un épisode
    (ce qui coupe les traces), ``gamma_next`` vaut 0 si ``s'`` est terminal.
    """
    v, w, u, e_v, e_u = state
    delta = reward + gamma_next * v @ x_next - v @ x_s  # erreur TD
    # Critique : GTD(λ)
    e_v = rho * (x_s + gamma_s * lam * e_v)
    v = v + alpha_v * (delta * e_v - gamma_next * (1.0 - lam) * (w @ e_v) * x_next)
    w = w + alpha_w * (delta * e_v - (w @ x_s) * x_s)
    # Acteur
    e_u = rho * (score + gamma_s * lam * e_u)
    u = u + alpha_u * delta * e_u
    return OffPACState(v, w, u, e_v, e_u), float(delta)


def train_off_policy_actor_critic(config: OffPolicyActorCriticConfig) -> History:
    """Off-PAC avec ``b`` uniforme ; ``History.objective`` suit ``J(π_u)`` exact pendant l'entraînement."""
    if not isinstance(config, OffPolicyActorCriticConfig):
        raise TypeError(f"`config` doit être un OffPolicyActorCriticConfig, reçu {type(config).__name__}.")
    cfg = config
    mdp = env_mdp(cfg.env_id)
    if mdp is None:
        raise ValueError(f"`env_id` doit désigner un PDM tabulaire, reçu {cfg.env_id!r}.")
    rng = np.random.default_rng(cfg.seed)
    env = gym.make(cfg.env_id)
    n_actions = mdp.n_actions
    x_state = np.asarray(mdp.state_features, dtype=float)  # (S, k)
    d = mdp.action_features.shape[2]
    state = OffPACState(np.zeros(x_state.shape[1]), np.zeros(x_state.shape[1]), np.zeros(d),
                        np.zeros(x_state.shape[1]), np.zeros(d))
    rec = Recorder(cfg, progress_bar(None, cfg.progress, total=cfg.max_steps, desc="Off-PAC"))
    episode = 0
    s, _ = env.reset(seed=cfg.seed + episode)
    first, ep_ret, ep_len = True, 0.0, 0
    while not rec.done():
        if rec.history.env_steps % cfg.eval_every == 0:
            rec.objective(exact.objective(mdp, exact.softmax_policy(state.u, mdp.action_features), cfg.gamma))
        a = int(rng.integers(n_actions))  # a ~ b(·|s), uniforme
        s_next, r, term, trunc, _ = env.step(a)
        pi_s = exact.softmax_policy(state.u, mdp.action_features[s:s + 1])[0]
        rho = pi_s[a] * n_actions  # π_u(a|s) / b(a|s)
        score = score_function(state.u, mdp.action_features[s:s + 1])[0, a]
        state, _ = off_policy_actor_critic_update(
            state, x_state[s], x_state[s_next], score, rho, r,
            gamma_s=0.0 if first else cfg.gamma, gamma_next=0.0 if term else cfg.gamma,
            lam=cfg.lam, alpha_v=cfg.alpha_v, alpha_w=cfg.alpha_w, alpha_u=cfg.alpha_u)
        rec.add_steps(1)
        if rec.bar is not None:
            rec.bar.update(1)
        ep_ret, ep_len, first = ep_ret + r, ep_len + 1, False
        s = s_next
        if term or trunc:
            rec.history.episode_returns.append(ep_ret)
            rec.history.episode_lengths.append(ep_len)
            rec.history.episode_steps.append(rec.history.env_steps)
            rec.history.episode_times.append(rec.elapsed())
            episode += 1
            s, _ = env.reset(seed=cfg.seed + episode)
            first, ep_ret, ep_len = True, 0.0, 0
    rec.objective(exact.objective(mdp, exact.softmax_policy(state.u, mdp.action_features), cfg.gamma))
    env.close()
    history = rec.close()
    history.policy = state.u
    return history
