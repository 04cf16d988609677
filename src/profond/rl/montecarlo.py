"""Estimation de Monte-Carlo du gradient sur un PDM tabulaire (chapitre « Gradient de la politique »).

Chaque épisode joué avec ``π_θ`` donne un estimateur sans biais du vrai gradient (équation
``pg-eq-reinforce-estimateur``) : ``ĝ = Σ_t γ^t (G_t − b(S_t)) ∇ln π(A_t|S_t, θ)``. Les épisodes
sont simulés en parallèle en numpy, avec un générateur passé en argument.
"""

from __future__ import annotations

import numpy as np

from profond.rl.exact import TabularMDP, softmax_policy, softmax_policy_gradient
from profond.utils import check_positive_int


def score_function(theta, features) -> np.ndarray:
    """``∇θ ln π(a|s, θ) = x(s, a) − Σ_b π(b|s) x(s, b)`` pour la politique softmax linéaire, (S, A, d).

    >>> score_function(np.zeros(2), np.eye(2)[None])[0, 0]
    array([ 0.5, -0.5])
    """
    pi = softmax_policy(theta, features)
    return softmax_policy_gradient(theta, features) / pi[:, :, None]


def reinforce_gradient_samples(mdp: TabularMDP, theta, gamma: float, n_episodes: int,
                               rng: np.random.Generator, baseline=None, max_len: int = 10_000) -> np.ndarray:
    """``n_episodes`` estimations indépendantes ``ĝ`` du gradient, forme (n_episodes, d).

    ``baseline`` : ``None`` (pas de valeur de référence) ou un tableau (S,) de valeurs ``b(s)``.
    ``max_len`` borne la durée d'un épisode (une erreur est levée si elle est atteinte).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`rng` doit être un numpy.random.Generator, reçu {type(rng).__name__}.")
    n = check_positive_int("n_episodes", n_episodes)
    S = mdp.n_states
    b = np.zeros(S) if baseline is None else np.asarray(baseline, dtype=float)
    if b.shape != (S,):
        raise ValueError(f"`baseline` doit être de forme ({S},), reçu {b.shape}.")
    pi = softmax_policy(theta, mdp.action_features)
    score = score_function(theta, mdp.action_features)  # (S, A, d)
    cum_pi, cum_P = np.cumsum(pi, axis=1), np.cumsum(mdp.P, axis=2)
    terminal = np.asarray(mdp.terminal, dtype=bool)
    s = rng.choice(S, size=n, p=mdp.mu0)
    alive = ~terminal[s]
    traj = []  # (s, a, r, alive) à chaque pas
    for _ in range(max_len):
        if not alive.any():
            break
        a = np.minimum((rng.random(n)[:, None] > cum_pi[s]).sum(1), mdp.n_actions - 1)
        r = np.where(alive, mdp.R[s, a], 0.0)
        s_next = np.minimum((rng.random(n)[:, None] > cum_P[s, a]).sum(1), S - 1)
        traj.append((s, a, r, alive))
        s = np.where(alive, s_next, s)
        alive = alive & ~terminal[s]
    else:
        raise ValueError(f"un épisode dépasse `max_len` = {max_len} pas.")
    g_hat = np.zeros((n, score.shape[2]))
    G = np.zeros(n)
    for t in range(len(traj) - 1, -1, -1):
        s_t, a_t, r_t, alive_t = traj[t]
        G = r_t + gamma * G  # G_t (nul après la fin de l'épisode)
        weight = np.where(alive_t, gamma**t * (G - b[s_t]), 0.0)
        g_hat += weight[:, None] * score[s_t, a_t]
    return g_hat


def estimate_error_curve(samples: np.ndarray, true_grad, sizes) -> np.ndarray:
    """Erreur ``‖ moyenne des n premiers ĝ − ∇J ‖`` pour chaque ``n`` de ``sizes``.

    ``samples`` est de forme (R, N, d) : ``R`` répétitions indépendantes ; renvoie (R, len(sizes)).
    """
    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 3:
        raise ValueError(f"`samples` doit être de forme (R, N, d), reçu {samples.shape}.")
    cum = np.cumsum(samples, axis=1)
    sizes = np.asarray(sizes, dtype=int)
    if sizes.min() < 1 or sizes.max() > samples.shape[1]:
        raise ValueError(f"`sizes` doit être entre 1 et {samples.shape[1]}.")
    means = cum[:, sizes - 1] / sizes[None, :, None]
    return np.linalg.norm(means - np.asarray(true_grad)[None, None, :], axis=2)
