"""Le gradient par les trajectoires, et la causalité (TP « le gradient de la politique, calculé exactement »).

Sur un PDM tabulaire tronqué à ``H`` pas, on peut **énumérer** toutes les trajectoires
``τ = (S_0, A_0, R_1, S_1, …)`` et leurs probabilités ``P(τ|θ)`` (équation ``pge-eq-trajectoire``) :
toute espérance devient une somme finie, calculée exactement. On vérifie ainsi que la dynamique
disparaît de ``∇ln P(τ|θ)``, que les récompenses passées ne contribuent pas au gradient (équation
``pge-eq-causalite``) et que les six choix de ``Ψ_t`` de la forme générale ont la même espérance
mais pas la même variance. Les mêmes fonctions servent aux trajectoires tirées au hasard (poids
``1/N``) : estimation de Monte-Carlo et calcul exact partagent le code.

Convention d'indices (celle du chapitre) : l'action ``A_t`` est suivie de la récompense ``R_{t+1}``.
Dans les tableaux, ``rewards[:, k]`` est ``R_{k+1}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from profond.rl import exact
from profond.rl.exact import TabularMDP
from profond.rl.montecarlo import score_function
from profond.utils import check_positive_int


@dataclass(frozen=True)
class Trajectories:
    """Un ensemble de trajectoires de ``H`` pas (complétées après la fin de l'épisode), pondérées."""

    states: np.ndarray
    """``S_0 … S_H``, forme (N, H + 1) ; après la fin de l'épisode, l'état reste figé."""
    actions: np.ndarray
    """``A_0 … A_{H−1}``, forme (N, H) ; 0 (sans effet) après la fin de l'épisode."""
    rewards: np.ndarray
    """``R_1 … R_H``, forme (N, H) ; ``rewards[:, k]`` est ``R_{k+1}``, nulle après la fin."""
    alive: np.ndarray
    """Masque (N, H) : le pas ``t`` a eu lieu (``S_t`` n'est pas terminal et ``t < H``)."""
    weights: np.ndarray
    """Poids (N,) : ``P(τ|θ)`` pour une énumération, ``1/N`` pour des tirages."""

    @property
    def horizon(self) -> int:
        return int(self.actions.shape[1])


def finite_horizon_mdp(mdp: TabularMDP, horizon: int) -> TabularMDP:
    """Le PDM tronqué à ``horizon`` pas, écrit comme un PDM épisodique sur les couples (t, s).

    L'état ``(t, s)`` a l'indice ``t·S + s`` ; un dernier état, terminal, reçoit les épisodes finis
    ou arrivés à ``t = H``. Les caractéristiques ne dépendent pas de ``t`` : la politique ``π_θ``
    est la même à chaque pas. Alors ``exact.objective`` donne ``J_H(θ) = E[Σ_{t<H} γ^t R_{t+1}]``
    et ``exact.true_gradient`` son gradient, sans énumérer.
    """
    H = check_positive_int("horizon", horizon)
    S, A = mdp.n_states, mdp.n_actions
    n, end = H * S + 1, H * S
    term = np.asarray(mdp.terminal, dtype=bool)
    P, R = np.zeros((n, A, n)), np.zeros((n, A))
    for t in range(H):
        for s in range(S):
            i = t * S + s
            if term[s]:
                P[i, :, i] = 1.0
                continue
            R[i] = mdp.R[s]
            for s2 in range(S):
                j = end if (term[s2] or t + 1 == H) else (t + 1) * S + s2
                P[i, :, j] += mdp.P[s, :, s2]
    P[end, :, end] = 1.0
    terminal = np.concatenate([np.tile(term, H), [True]])
    mu0 = np.concatenate([mdp.mu0, np.zeros(n - S)])
    x_sa = np.asarray(mdp.action_features, dtype=float)
    x_s = np.asarray(mdp.state_features, dtype=float)
    return TabularMDP(P, R, mu0, terminal, np.concatenate([np.tile(x_sa, (H, 1, 1)), np.zeros((1,) + x_sa.shape[1:])]),
                      np.concatenate([np.tile(x_s, (H, 1)), np.zeros((1, x_s.shape[1]))]), mdp.action_names)


def _step_table(mdp: TabularMDP, theta) -> np.ndarray:
    """``π(a|s) p(s'|s, a)``, forme (S, A, S)."""
    pi = exact.softmax_policy(theta, mdp.action_features)
    return pi[:, :, None] * np.asarray(mdp.P, dtype=float)


def enumerate_trajectories(mdp: TabularMDP, theta, horizon: int, max_count: int = 2_000_000) -> Trajectories:
    """Toutes les trajectoires de probabilité non nulle sur ``horizon`` pas, avec ``P(τ|θ)``.

    ``P(τ|θ) = μ₀(S_0) Π_t π(A_t|S_t, θ) p(S_{t+1}|S_t, A_t)`` (équation ``pge-eq-trajectoire``),
    le produit s'arrêtant à la fin de l'épisode. Leur nombre croît comme ``(A·S)^H`` au pire :
    une ``ValueError`` est levée au-delà de ``max_count``.
    """
    H = check_positive_int("horizon", horizon)
    step = _step_table(mdp, theta)
    term = np.asarray(mdp.terminal, dtype=bool)
    s0 = np.flatnonzero(np.asarray(mdp.mu0) > 0)
    states, prob = s0[:, None], np.asarray(mdp.mu0, dtype=float)[s0]
    actions = np.zeros((len(s0), 0), dtype=int)
    for _ in range(H):
        s = states[:, -1]
        live = ~term[s]
        # trajectoires en cours : une branche par (a, s') de probabilité non nulle
        n_idx, a_idx, s_idx = np.nonzero(step[s[live]] > 0)
        rows = np.flatnonzero(live)[n_idx]
        grown_states = np.concatenate([states[rows], s_idx[:, None]], axis=1)
        grown_actions = np.concatenate([actions[rows], a_idx[:, None]], axis=1)
        grown_prob = prob[rows] * step[s[rows], a_idx, s_idx]
        # épisodes finis : on les complète sans rien changer
        dead = np.flatnonzero(~live)
        states = np.concatenate([grown_states, np.concatenate([states[dead], states[dead, -1:]], axis=1)])
        padded = np.concatenate([actions[dead], np.zeros((len(dead), 1), dtype=int)], axis=1)
        actions = np.concatenate([grown_actions, padded])
        prob = np.concatenate([grown_prob, prob[dead]])
        if len(prob) > max_count:
            raise ValueError(f"plus de `max_count` = {max_count} trajectoires : réduisez `horizon`.")
    return _complete(mdp, states, actions, prob)


def sample_trajectories(mdp: TabularMDP, theta, horizon: int, n: int, rng: np.random.Generator) -> Trajectories:
    """``n`` trajectoires de ``horizon`` pas tirées de ``π_θ`` (poids ``1/n``), simulées en parallèle."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`rng` doit être un numpy.random.Generator, reçu {type(rng).__name__}.")
    H, n = check_positive_int("horizon", horizon), check_positive_int("n", n)
    pi = exact.softmax_policy(theta, mdp.action_features)
    cum_pi, cum_P = np.cumsum(pi, axis=1), np.cumsum(mdp.P, axis=2)
    term = np.asarray(mdp.terminal, dtype=bool)
    S, A = mdp.n_states, mdp.n_actions
    states = np.zeros((n, H + 1), dtype=int)
    actions = np.zeros((n, H), dtype=int)
    states[:, 0] = rng.choice(S, size=n, p=mdp.mu0)
    for t in range(H):
        s = states[:, t]
        a = np.minimum((rng.random(n)[:, None] > cum_pi[s]).sum(1), A - 1)
        s_next = np.minimum((rng.random(n)[:, None] > cum_P[s, a]).sum(1), S - 1)
        live = ~term[s]
        actions[:, t] = np.where(live, a, 0)
        states[:, t + 1] = np.where(live, s_next, s)
    return _complete(mdp, states, actions, np.full(n, 1.0 / n))


def _complete(mdp: TabularMDP, states, actions, weights) -> Trajectories:
    alive = ~np.asarray(mdp.terminal, dtype=bool)[states[:, :-1]]
    rewards = np.where(alive, np.asarray(mdp.R)[states[:, :-1], actions], 0.0)
    return Trajectories(states, actions, rewards, alive, weights)


def trajectory_log_prob(mdp: TabularMDP, theta: torch.Tensor, traj: Trajectories) -> torch.Tensor:
    """``ln P(τ|θ) = ln μ₀(S_0) + Σ_t [ln π(A_t|S_t, θ) + ln p(S_{t+1}|S_t, A_t)]``, forme (N,).

    Équation ``pge-eq-trajectoire``, en torch pour la dériver : la dynamique y figure, et son
    gradient est pourtant nul (elle ne dépend pas de ``θ``). ``theta`` est de forme (d,), ou
    (N, d) pour donner à chaque trajectoire sa propre copie : une seule passe arrière sur la somme
    donne alors les N gradients ``∇ln P(τ|θ)``.
    """
    if not isinstance(theta, torch.Tensor):
        raise TypeError(f"`theta` doit être un tenseur torch, reçu {type(theta).__name__}.")
    n = traj.actions.shape[0]
    if theta.ndim not in (1, 2) or (theta.ndim == 2 and theta.shape[0] != n):
        raise ValueError(f"`theta` doit être de forme (d,) ou ({n}, d), reçu {tuple(theta.shape)}.")
    x = torch.as_tensor(mdp.action_features, dtype=theta.dtype)  # (S, A, d)
    rows = torch.arange(n)[:, None]
    s, a, s_next = (torch.as_tensor(np.ascontiguousarray(v))
                    for v in (traj.states[:, :-1], traj.actions, traj.states[:, 1:]))
    if theta.ndim == 1:
        log_pi = torch.log_softmax(x @ theta, dim=1)[s, a]  # (N, H)
    else:
        log_pi = torch.log_softmax(torch.einsum("sad,nd->nsa", x, theta), dim=2)[rows, s, a]
    log_p = torch.log(torch.as_tensor(mdp.P, dtype=theta.dtype).clamp_min(1e-300))[s, a, s_next]
    alive = torch.as_tensor(traj.alive, dtype=theta.dtype)
    log_mu0 = torch.log(torch.as_tensor(mdp.mu0, dtype=theta.dtype)[torch.as_tensor(traj.states[:, 0])])
    return log_mu0 + (alive * (log_pi + log_p)).sum(dim=1)


def enumerated_objective(mdp: TabularMDP, theta: torch.Tensor, traj: Trajectories, gamma: float) -> torch.Tensor:
    """``J_H(θ) = Σ_τ P(τ|θ) G_0(τ)`` sur des trajectoires énumérées, dérivable en ``θ``.

    Les trajectoires sont fixes, seules leurs probabilités dépendent de ``θ`` : le gradient de
    cette somme est le vrai gradient ``∇J_H``, calculé sans aucun théorème.
    """
    G0 = torch.as_tensor(discounted_rewards(traj, gamma).sum(axis=1), dtype=theta.dtype)
    return (torch.exp(trajectory_log_prob(mdp, theta, traj)) * G0).sum()


def discounted_rewards(traj: Trajectories, gamma: float) -> np.ndarray:
    """``γ^k R_{k+1}`` pour ``k = 0 … H−1``, forme (N, H)."""
    gamma = exact._check_gamma(gamma)
    return traj.rewards * gamma ** np.arange(traj.horizon)


def step_scores(mdp: TabularMDP, theta, traj: Trajectories) -> np.ndarray:
    """``∇ln π(A_t|S_t, θ)`` à chaque pas (nul après la fin de l'épisode), forme (N, H, d)."""
    score = score_function(theta, mdp.action_features)  # (S, A, d)
    return score[traj.states[:, :-1], traj.actions] * traj.alive[:, :, None]


def reward_score_expectations(mdp: TabularMDP, theta, traj: Trajectories, gamma: float) -> np.ndarray:
    """``C[t, k] = E[γ^k R_{k+1} ∇ln π(A_t|S_t, θ)]``, forme (H, H, d) (équation ``pge-eq-causalite``).

    Espérance pondérée par ``traj.weights`` : exacte sur une énumération, estimée sur des tirages.
    Les termes ``k < t`` (récompenses reçues **avant** ``A_t``) sont d'espérance nulle.
    """
    return np.einsum("n,nk,ntd->tkd", traj.weights, discounted_rewards(traj, gamma), step_scores(mdp, theta, traj))


def psi_estimates(mdp: TabularMDP, theta, traj: Trajectories, gamma: float) -> dict[str, np.ndarray]:
    """Les estimations ``ĝ = Σ_t Ψ_t ∇ln π(A_t|S_t)`` de chaque trajectoire, pour six choix de ``Ψ_t``.

    Forme générale ``pg-eq-forme-generale``, actualisée pour l'objectif ``J_H`` ; ``q`` et ``v``
    sont les vraies valeurs (qui dépendent du temps restant), calculées sur
    :func:`finite_horizon_mdp`. Renvoie ``{nom: (N, d)}`` ; les clés ``"passé"`` (termes ``k < t``
    seuls) et ``"retour total"`` vérifient ``retour total = passé + retour à venir``.
    """
    H, S = traj.horizon, mdp.n_states
    aug = finite_horizon_mdp(mdp, H)
    pi_aug = exact.softmax_policy(theta, aug.action_features)
    q_aug, v_aug = exact.action_values(aug, pi_aug, gamma), exact.state_values(aug, pi_aug, gamma)
    t = np.arange(H)
    idx = np.minimum(t[None, :] * S + traj.states[:, :-1], aug.n_states - 1)  # (N, H) indice de (t, S_t)
    idx_next = np.where(t[None, :] + 1 < H, (t[None, :] + 1) * S + traj.states[:, 1:], aug.n_states - 1)
    v = np.where(traj.alive, v_aug[idx], 0.0)
    v_next = np.where(traj.alive & ~np.asarray(mdp.terminal)[traj.states[:, 1:]], v_aug[idx_next], 0.0)
    q = np.where(traj.alive, q_aug[idx, traj.actions], 0.0)
    disc = gamma ** t  # γ^t
    dr = discounted_rewards(traj, gamma)  # (N, H)
    to_go = np.cumsum(dr[:, ::-1], axis=1)[:, ::-1]  # Σ_{k≥t} γ^k R_{k+1} = γ^t G_t
    past = dr.sum(axis=1, keepdims=True) - to_go  # Σ_{k<t} γ^k R_{k+1}
    psi = {
        "retour total": np.broadcast_to(dr.sum(axis=1, keepdims=True), dr.shape),
        "retour à venir": to_go,
        "avec valeur de référence": to_go - disc * v,
        "q_π": disc * q,
        "avantage": disc * (q - v),
        "résidu TD": disc * (traj.rewards + gamma * v_next - v),
        "passé": past,
    }
    scores = step_scores(mdp, theta, traj)
    return {name: np.einsum("nt,ntd->nd", p, scores) for name, p in psi.items()}


def weighted_moments(estimates: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Moyenne (d,) et variance totale ``E‖ĝ − E ĝ‖²`` (trace de la covariance) sous les poids donnés."""
    estimates, weights = np.asarray(estimates, dtype=float), np.asarray(weights, dtype=float)
    if estimates.ndim != 2 or weights.shape != (estimates.shape[0],):
        raise ValueError(f"`estimates` (N, d) et `weights` (N,) incompatibles : {estimates.shape}, {weights.shape}.")
    mean = weights @ estimates / weights.sum()
    return mean, float(weights @ ((estimates - mean) ** 2).sum(axis=1) / weights.sum())


def optimal_average_reward(mdp: TabularMDP) -> tuple[float, np.ndarray]:
    """``max_π r(π)`` en énumérant les ``A^S`` politiques déterministes (cas continu).

    Un PDM fini a toujours une politique déterministe optimale pour la récompense moyenne ;
    renvoie la valeur et la table (S, A) de la meilleure politique.
    """
    S, A = mdp.n_states, mdp.n_actions
    if A**S > 100_000:
        raise ValueError(f"trop de politiques déterministes ({A}^{S}) pour les énumérer.")
    best, best_pi = -np.inf, None
    for choice in np.ndindex(*(A,) * S):
        pi = np.eye(A)[list(choice)]
        r = exact.average_reward(mdp, pi)
        if r > best + 1e-12:
            best, best_pi = r, pi
    return float(best), best_pi
