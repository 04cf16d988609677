"""Quantités exactes sur un PDM tabulaire, par algèbre linéaire (chapitre « Gradient de la politique »).

Quand la matrice de transition est connue, tout ce que le chapitre manipule se calcule exactement :
``v_π``, ``q_π``, le nombre (actualisé) de visites ``η``, la distribution ``μ``, l'objectif
``J(θ)`` et son vrai gradient. On peut alors vérifier numériquement le théorème du gradient de la
politique (équation ``pg-eq-theoreme``) et mesurer l'erreur des estimateurs de Monte-Carlo.

Conventions : ``P`` de forme (S, A, S) avec ``P[s, a, s'] = p(s'|s, a)``, ``R`` de forme (S, A)
(récompense moyenne ``r(s, a)``), ``mu0`` la loi de l'état initial, ``terminal`` un masque booléen.
Les états terminaux sont absorbants et de valeur nulle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass(frozen=True)
class TabularMDP:
    """Un processus de décision markovien fini, épisodique, de dynamique connue."""

    P: np.ndarray
    """Transitions, forme (S, A, S) : ``P[s, a, s'] = p(s'|s, a)`` ; chaque ligne somme à 1."""
    R: np.ndarray
    """Récompense moyenne ``r(s, a)``, forme (S, A)."""
    mu0: np.ndarray
    """Loi de l'état initial ``S_0``, forme (S,)."""
    terminal: np.ndarray
    """Masque booléen des états terminaux, forme (S,)."""
    action_features: np.ndarray
    """Caractéristiques ``x(s, a)`` de la politique softmax linéaire, forme (S, A, d)."""
    state_features: np.ndarray
    """Caractéristiques ``x(s)`` du critique linéaire ``v̂(s, w) = wᵀx(s)``, forme (S, k)."""
    action_names: tuple[str, ...] = field(default=())
    """Noms des actions, pour les figures."""

    def __post_init__(self):
        P = np.asarray(self.P, dtype=float)
        if P.ndim != 3 or P.shape[0] != P.shape[2]:
            raise ValueError(f"`P` doit être de forme (S, A, S), reçu {P.shape}.")
        S, A, _ = P.shape
        if not np.allclose(P.sum(axis=2), 1.0):
            raise ValueError("`P` : chaque loi p(·|s, a) doit sommer à 1.")
        if np.shape(self.R) != (S, A):
            raise ValueError(f"`R` doit être de forme {(S, A)}, reçu {np.shape(self.R)}.")
        if np.shape(self.mu0) != (S,) or not np.isclose(np.sum(self.mu0), 1.0):
            raise ValueError(f"`mu0` doit être une loi de probabilité de forme {(S,)}.")
        if np.shape(self.terminal) != (S,):
            raise ValueError(f"`terminal` doit être de forme {(S,)}, reçu {np.shape(self.terminal)}.")
        if np.ndim(self.action_features) != 3 or np.shape(self.action_features)[:2] != (S, A):
            raise ValueError(f"`action_features` doit être de forme (S, A, d) avec (S, A) = {(S, A)}.")
        if np.ndim(self.state_features) != 2 or np.shape(self.state_features)[0] != S:
            raise ValueError(f"`state_features` doit être de forme (S, k) avec S = {S}.")

    @property
    def n_states(self) -> int:
        return int(np.shape(self.P)[0])

    @property
    def n_actions(self) -> int:
        return int(np.shape(self.P)[1])


def _check_policy(mdp: TabularMDP, pi) -> np.ndarray:
    pi = np.asarray(pi, dtype=float)
    if pi.shape != (mdp.n_states, mdp.n_actions):
        raise ValueError(f"`pi` doit être de forme {(mdp.n_states, mdp.n_actions)}, reçu {pi.shape}.")
    if not np.allclose(pi.sum(axis=1), 1.0) or (pi < 0).any():
        raise ValueError("`pi` : chaque ligne π(·|s) doit être une loi de probabilité.")
    return pi


def _check_gamma(gamma) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, np.floating)):
        raise TypeError(f"`gamma` doit être un réel, reçu {type(gamma).__name__}.")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"`gamma` doit appartenir à [0, 1], reçu {gamma}.")
    return float(gamma)


def softmax_policy(theta, features) -> np.ndarray:
    """Politique softmax linéaire ``π(a|s, θ) ∝ exp(θᵀx(s, a))`` (équation ``pg-eq-softmax``).

    ``features`` est de forme (S, A, d), ``theta`` de forme (d,) ; renvoie la table (S, A).

    >>> softmax_policy(np.array([np.log(3.0), 0.0]), np.eye(2)[None]).round(2)
    array([[0.75, 0.25]])
    """
    theta, features = np.asarray(theta, dtype=float), np.asarray(features, dtype=float)
    if theta.ndim != 1 or features.ndim != 3 or features.shape[2] != theta.shape[0]:
        raise ValueError(
            f"`theta` (d,) et `features` (S, A, d) incompatibles : {theta.shape} et {features.shape}."
        )
    h = features @ theta  # (S, A) préférences
    h = h - h.max(axis=1, keepdims=True)
    e = np.exp(h)
    return e / e.sum(axis=1, keepdims=True)


def softmax_policy_gradient(theta, features) -> np.ndarray:
    """``∇θ π(a|s, θ) = π(a|s)(x(s, a) − Σ_b π(b|s) x(s, b))``, forme (S, A, d).

    >>> softmax_policy_gradient(np.zeros(2), np.eye(2)[None])[0, 0]
    array([ 0.25, -0.25])
    """
    pi = softmax_policy(theta, features)
    features = np.asarray(features, dtype=float)
    mean_x = np.einsum("sa,sad->sd", pi, features)  # (S, d)
    return pi[:, :, None] * (features - mean_x[:, None, :])


def policy_state_transitions(mdp: TabularMDP, pi) -> np.ndarray:
    """``P_π[s, s'] = Σ_a π(a|s) p(s'|s, a)``, avec des lignes nulles aux états terminaux."""
    pi = _check_policy(mdp, pi)
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    P_pi[np.asarray(mdp.terminal, dtype=bool)] = 0.0
    return P_pi


def _expected_rewards(mdp: TabularMDP, pi) -> np.ndarray:
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    r_pi[np.asarray(mdp.terminal, dtype=bool)] = 0.0
    return r_pi


def state_values(mdp: TabularMDP, pi, gamma: float) -> np.ndarray:
    """``v_π`` solution de l'équation de Bellman ``v = r_π + γ P_π v`` (équation ``pg-eq-bellman``)."""
    gamma = _check_gamma(gamma)
    P_pi = policy_state_transitions(mdp, pi)
    r_pi = _expected_rewards(mdp, np.asarray(pi, dtype=float))
    return np.linalg.solve(np.eye(mdp.n_states) - gamma * P_pi, r_pi)


def action_values(mdp: TabularMDP, pi, gamma: float) -> np.ndarray:
    """``q_π(s, a) = r(s, a) + γ Σ_s' p(s'|s, a) v_π(s')``, forme (S, A) (équation ``pg-eq-bellman``)."""
    v = state_values(mdp, pi, gamma)
    q = mdp.R + gamma * mdp.P @ v
    q[np.asarray(mdp.terminal, dtype=bool)] = 0.0
    return q


def discounted_visits(mdp: TabularMDP, pi, gamma: float) -> np.ndarray:
    """``η(s) = Σ_k γ^k Pr(S_k = s)`` : nombre moyen (actualisé) de visites (équation ``pg-eq-eta``).

    Avec γ = 1 c'est le nombre moyen de visites de ``s`` au cours d'un épisode. ``η`` est solution
    de ``η = μ₀ + γ P_πᵀ η`` ; les états terminaux ne comptent pas (``η = 0``), si bien qu'avec
    γ = 1, ``Σ_s η(s)`` est la durée moyenne d'un épisode.
    """
    gamma = _check_gamma(gamma)
    P_pi = policy_state_transitions(mdp, pi)
    eta = np.linalg.solve((np.eye(mdp.n_states) - gamma * P_pi).T, mdp.mu0)
    eta[np.asarray(mdp.terminal, dtype=bool)] = 0.0
    return eta


def on_policy_distribution(mdp: TabularMDP, pi, gamma: float) -> np.ndarray:
    """``μ(s) = η(s) / Σ_s' η(s')`` (équation ``pg-eq-mu``)."""
    eta = discounted_visits(mdp, pi, gamma)
    return eta / eta.sum()


def objective(mdp: TabularMDP, pi, gamma: float) -> float:
    """``J(θ) = Σ_s μ₀(s) v_π(s)``, le retour moyen depuis l'état initial (équation ``pg-eq-objectif``).

    Avec γ = 1, une politique dont les épisodes ne se terminent jamais a un retour infini : ``−∞``
    si toutes les récompenses des états non terminaux sont négatives (le couloir court), ``+∞`` si
    elles sont toutes positives ; sinon une ``ValueError`` est levée.
    """
    try:
        return float(mdp.mu0 @ state_values(mdp, pi, gamma))
    except np.linalg.LinAlgError:
        r = np.asarray(mdp.R)[~np.asarray(mdp.terminal, dtype=bool)]
        if (r < 0).all() or (r > 0).all():
            return float(np.sign(r.flat[0]) * np.inf)
        raise ValueError("`pi` ne termine jamais ses épisodes (γ = 1) : J(θ) n'est pas défini.") from None


def optimal_state_values(mdp: TabularMDP, gamma: float, tol: float = 1e-12, max_iter: int = 100_000) -> np.ndarray:
    """``v*`` par itération sur les valeurs : ``v ← max_a (r(s, a) + γ Σ_s' p(s'|s, a) v(s'))``.

    Bornée par ``max_iter`` itérations ; exige ``γ < 1`` pour garantir la convergence.
    """
    gamma = _check_gamma(gamma)
    if gamma >= 1.0:
        raise ValueError("`gamma` doit être < 1 pour l'itération sur les valeurs.")
    term = np.asarray(mdp.terminal, dtype=bool)
    v = np.zeros(mdp.n_states)
    for _ in range(max_iter):
        v_new = np.where(term, 0.0, (mdp.R + gamma * mdp.P @ v).max(axis=1))
        if np.abs(v_new - v).max() < tol:
            return v_new
        v = v_new
    return v


def policy_gradient_theorem(mdp: TabularMDP, theta, gamma: float) -> tuple[np.ndarray, float]:
    """Le membre de droite du théorème et sa constante (équation ``pg-eq-theoreme``).

    Renvoie ``(g, c)`` avec ``g = Σ_s μ(s) Σ_a q_π(s, a) ∇π(a|s, θ)`` et ``c = Σ_s η(s)`` : le
    vrai gradient vaut ``c · g`` dans le cas épisodique.
    """
    pi = softmax_policy(theta, mdp.action_features)
    q = action_values(mdp, pi, gamma)
    eta = discounted_visits(mdp, pi, gamma)
    grad_pi = softmax_policy_gradient(theta, mdp.action_features)
    g = np.einsum("s,sa,sad->d", eta / eta.sum(), q, grad_pi)
    return g, float(eta.sum())


def _objective_torch(mdp: TabularMDP, theta: torch.Tensor, gamma: float) -> torch.Tensor:
    x = torch.as_tensor(mdp.action_features, dtype=torch.float64)
    pi = torch.softmax(x @ theta, dim=1)  # (S, A)
    P = torch.as_tensor(mdp.P, dtype=torch.float64)
    live = torch.as_tensor(~np.asarray(mdp.terminal, dtype=bool), dtype=torch.float64)
    P_pi = torch.einsum("sa,sat->st", pi, P) * live[:, None]
    r_pi = torch.einsum("sa,sa->s", pi, torch.as_tensor(mdp.R, dtype=torch.float64)) * live
    v = torch.linalg.solve(torch.eye(mdp.n_states, dtype=torch.float64) - gamma * P_pi, r_pi)
    return torch.as_tensor(mdp.mu0, dtype=torch.float64) @ v


def true_gradient(mdp: TabularMDP, theta, gamma: float) -> np.ndarray:
    """Le vrai ``∇J(θ)`` : on dérive ``J(θ) = μ₀ᵀ(I − γP_π)⁻¹r_π`` par différentiation automatique.

    Ce calcul n'utilise pas le théorème : il sert à le vérifier.
    """
    gamma = _check_gamma(gamma)
    t = torch.tensor(np.asarray(theta, dtype=float), dtype=torch.float64, requires_grad=True)
    _objective_torch(mdp, t, gamma).backward()
    return t.grad.numpy()


# --- Cas continu : récompense moyenne -----------------------------------------------------------


def as_continuing(mdp: TabularMDP) -> TabularMDP:
    """La version continue du PDM : au lieu d'entrer dans un état terminal, on repart de ``μ₀``.

    Les états terminaux deviennent inaccessibles ; on les garde (ligne ``μ₀``) pour conserver les
    indices. La chaîne obtenue est celle du cas continu (section ``pg-sec-continu``).
    """
    term = np.asarray(mdp.terminal, dtype=bool)
    P = np.array(mdp.P, dtype=float)
    into_terminal = P[:, :, term].sum(axis=2)  # (S, A)
    P[:, :, term] = 0.0
    P += into_terminal[:, :, None] * np.asarray(mdp.mu0)[None, None, :]
    P[term] = np.asarray(mdp.mu0)[None, :]
    return TabularMDP(P, np.array(mdp.R, dtype=float), mdp.mu0, np.zeros_like(term),
                      mdp.action_features, mdp.state_features, mdp.action_names)


def stationary_distribution(mdp: TabularMDP, pi) -> np.ndarray:
    """La loi stationnaire ``μ = μ P_π`` d'un PDM continu (équation ``pg-eq-stationnaire``)."""
    P_pi = policy_state_transitions(mdp, pi)
    S = mdp.n_states
    # μ (I − P_π) = 0 et Σ μ = 1, résolu au sens des moindres carrés (système compatible).
    A = np.vstack([(np.eye(S) - P_pi).T, np.ones((1, S))])
    b = np.concatenate([np.zeros(S), [1.0]])
    return np.linalg.lstsq(A, b, rcond=None)[0]


def average_reward(mdp: TabularMDP, pi) -> float:
    """``r(π) = Σ_s μ(s) Σ_a π(a|s) r(s, a)`` (équation ``pg-eq-recompense-moyenne``)."""
    pi = _check_policy(mdp, pi)
    return float(stationary_distribution(mdp, pi) @ _expected_rewards(mdp, pi))


def differential_action_values(mdp: TabularMDP, pi) -> np.ndarray:
    """``q_π(s, a) = r(s, a) − r(π) + Σ_s' p(s'|s, a) v_π(s')`` avec le retour différentiel.

    ``v_π`` est défini à une constante près ; on le fixe par ``Σ_s μ(s) v_π(s) = 0``.
    """
    pi = _check_policy(mdp, pi)
    mu = stationary_distribution(mdp, pi)
    r_pi = _expected_rewards(mdp, pi)
    rho = float(mu @ r_pi)
    P_pi = policy_state_transitions(mdp, pi)
    S = mdp.n_states
    v = np.linalg.solve(np.eye(S) - P_pi + np.outer(np.ones(S), mu), r_pi - rho)
    return mdp.R - rho + mdp.P @ v


def average_reward_theorem(mdp: TabularMDP, theta) -> np.ndarray:
    """Membre de droite du théorème, cas continu : ``Σ_s μ(s) Σ_a q_π(s, a) ∇π(a|s)`` (constante 1)."""
    pi = softmax_policy(theta, mdp.action_features)
    mu = stationary_distribution(mdp, pi)
    q = differential_action_values(mdp, pi)
    return np.einsum("s,sa,sad->d", mu, q, softmax_policy_gradient(theta, mdp.action_features))


def average_reward_gradient(mdp: TabularMDP, theta) -> np.ndarray:
    """Le vrai ``∇r(π)`` par différentiation automatique de ``μ_θ · r_π`` (sans le théorème)."""
    t = torch.tensor(np.asarray(theta, dtype=float), dtype=torch.float64, requires_grad=True)
    x = torch.as_tensor(mdp.action_features, dtype=torch.float64)
    pi = torch.softmax(x @ t, dim=1)
    P_pi = torch.einsum("sa,sat->st", pi, torch.as_tensor(mdp.P, dtype=torch.float64))
    r_pi = torch.einsum("sa,sa->s", pi, torch.as_tensor(mdp.R, dtype=torch.float64))
    S = mdp.n_states
    A = torch.cat([(torch.eye(S, dtype=torch.float64) - P_pi).T, torch.ones(1, S, dtype=torch.float64)])
    b = torch.cat([torch.zeros(S, dtype=torch.float64), torch.ones(1, dtype=torch.float64)])
    mu = torch.linalg.lstsq(A, b[:, None]).solution[:, 0]
    (mu @ r_pi).backward()
    return t.grad.numpy()
