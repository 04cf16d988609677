"""Régler un gradient de la politique (TP « Régler un gradient de la politique », page ``pgr-tp``).

- la normalisation des avantages par lot, l'entropie et la divergence KL d'une politique
  catégorielle : trois fonctions pures, appelées par :func:`profond.rl.actor_critic.actor_critic_update`
  et par la boucle qui la suit ;
- le biais et la variance de GAE(γ, λ) sur un PDM tabulaire : biais exact (algèbre linéaire),
  variance par Monte-Carlo (trajectoires simulées en numpy depuis chaque couple état-action) ;
- des figures, qui ne lisent que des ``History`` ou des tableaux déjà calculés.
"""

from __future__ import annotations

import numpy as np
import torch

from profond.rl import exact
from profond.rl.history import History
from profond.utils import check_positive, check_positive_int

Tensor = torch.Tensor


# --- Fonctions pures --------------------------------------------------------------------------

def normalized_advantages(adv: Tensor, mask: Tensor | None = None, eps: float = 1e-8) -> Tensor:
    """Avantages standardisés sur le lot : ``(Â − m) / (s + ε)`` (équation ``pgr-eq-normalisation``).

    ``m`` et ``s`` sont la moyenne et l'écart-type (non corrigé) des entrées où ``mask`` vaut 1
    (toutes sans ``mask``) ; les autres entrées sont renvoyées à 0.

    >>> normalized_advantages(torch.tensor([1.0, 2.0, 3.0]), eps=0.0)
    tensor([-1.2247,  0.0000,  1.2247])
    """
    if not isinstance(adv, Tensor):
        raise TypeError(f"`adv` doit être un tenseur torch, reçu {type(adv).__name__}.")
    eps = check_positive("eps", eps)
    if mask is None:
        mask = torch.ones_like(adv)
    elif not isinstance(mask, Tensor) or mask.shape != adv.shape:
        raise ValueError(f"`mask` doit être un tenseur de forme {tuple(adv.shape)}.")
    mask = mask.to(adv.dtype)
    n = mask.sum()
    if n < 1:
        raise ValueError("`mask` ne garde aucune entrée : la moyenne du lot n'est pas définie.")
    mean = (mask * adv).sum() / n
    std = ((mask * (adv - mean) ** 2).sum() / n).sqrt()
    return mask * (adv - mean) / (std + eps)


def categorical_entropy(logits: Tensor) -> Tensor:
    """Entropie ``H(π(·|s)) = −Σ_a π(a|s) ln π(a|s)`` pour chaque ligne de logits (équation
    ``pgr-eq-entropie``) ; forme (...,) pour des logits (..., A).

    >>> categorical_entropy(torch.zeros(2)).item() == np.log(2.0).item()
    True
    """
    logp = torch.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def categorical_kl(logits_p: Tensor, logits_q: Tensor) -> Tensor:
    """Divergence ``KL(p ‖ q) = Σ_a p(a) (ln p(a) − ln q(a))`` ligne par ligne (équation ``pgr-eq-kl``).

    Ici ``p`` est la politique avant la mise à jour, ``q`` celle d'après.

    >>> round(categorical_kl(torch.log(torch.tensor([0.5, 0.5])), torch.log(torch.tensor([0.9, 0.1]))).item(), 4)
    0.5108
    """
    if logits_p.shape != logits_q.shape:
        raise ValueError(f"Logits de formes différentes : {tuple(logits_p.shape)} et {tuple(logits_q.shape)}.")
    logp, logq = torch.log_softmax(logits_p, dim=-1), torch.log_softmax(logits_q, dim=-1)
    return (logp.exp() * (logp - logq)).sum(-1)


# --- Biais et variance de GAE(γ, λ) sur un PDM tabulaire ---------------------------------------

def _check_table(mdp, pi, v_hat):
    pi = exact._check_policy(mdp, pi)
    v_hat = np.asarray(v_hat, dtype=float)
    if v_hat.shape != (mdp.n_states,):
        raise ValueError(f"`v_hat` doit être de forme ({mdp.n_states},), reçu {v_hat.shape}.")
    return pi, np.where(np.asarray(mdp.terminal, dtype=bool), 0.0, v_hat)  # v̂ = 0 après la fin


def gae_expected_advantage(mdp, pi, v_hat, gamma: float, lam: float) -> np.ndarray:
    """``E[Â_t^{GAE(γ, λ)} | S_t = s, A_t = a]`` exact, forme (S, A) (équation ``pgr-eq-esperance-gae``).

    Avec ``d(s) = r_π(s) + γ (P_π v̂)(s) − v̂(s)`` le résidu TD moyen sous π :
    ``E[Â | s, a] = δ̄(s, a) + γλ Σ_s' p(s'|s, a) [(I − γλ P_π)⁻¹ d](s')``, où
    ``δ̄(s, a) = r(s, a) + γ Σ_s' p(s'|s, a) v̂(s') − v̂(s)``.
    """
    pi, v = _check_table(mdp, pi, v_hat)
    gamma, lam = exact._check_gamma(gamma), exact._check_gamma(lam)
    P_pi = exact.policy_state_transitions(mdp, pi)  # (S, S), lignes nulles aux états terminaux
    r_pi = exact._expected_rewards(mdp, pi)
    d = r_pi + gamma * P_pi @ v - v  # (S,)
    d[np.asarray(mdp.terminal, dtype=bool)] = 0.0
    delta_bar = mdp.R + gamma * mdp.P @ v - v[:, None]  # (S, A)
    tail = np.linalg.solve(np.eye(mdp.n_states) - gamma * lam * P_pi, d)  # (S,)
    return delta_bar + gamma * lam * mdp.P @ tail


def gradient_bias(mdp, pi, expected_adv, true_adv) -> np.ndarray:
    """Le biais qui compte pour le gradient (équation ``pgr-eq-biais``), forme (S, A) :
    ``b(s, a) − Σ_b π(b|s) b(s, b)`` avec ``b = E[Â | s, a] − A_π(s, a)``.

    Une erreur qui ne dépend que de l'état (comme ``−(v̂ − v_π)(s)`` pour λ = 1) s'annule dans
    ``E[Ψ ∇ln π]`` (c'est une valeur de référence) : on la retire.
    """
    pi = exact._check_policy(mdp, pi)
    b = np.asarray(expected_adv, dtype=float) - np.asarray(true_adv, dtype=float)
    return b - (pi * b).sum(axis=1, keepdims=True)


def gae_rollout_samples(mdp, pi, v_hat, gammas, lams, n_rollouts: int, rng: np.random.Generator,
                        horizon: int = 500) -> np.ndarray:
    """Estimations ``Â^{GAE(γ, λ)}`` tirées en jouant π depuis chaque couple ``(s, a)`` non terminal.

    Renvoie un tableau (len(gammas), len(lams), S, A, n_rollouts) ; les couples d'états terminaux
    restent à NaN. Toutes les trajectoires avancent ensemble en numpy ; elles sont coupées à
    ``horizon`` pas (négligeable si les épisodes sont courts).
    """
    pi, v = _check_table(mdp, pi, v_hat)
    n_rollouts, horizon = check_positive_int("n_rollouts", n_rollouts), check_positive_int("horizon", horizon)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`rng` doit être un numpy.random.Generator, reçu {type(rng).__name__}.")
    gammas = np.array([exact._check_gamma(g) for g in np.atleast_1d(gammas)])
    lams = np.array([exact._check_gamma(x) for x in np.atleast_1d(lams)])
    S, A = mdp.n_states, mdp.n_actions
    terminal = np.asarray(mdp.terminal, dtype=bool)
    pairs = [(s, a) for s in range(S) if not terminal[s] for a in range(A)]
    s = np.repeat([p[0] for p in pairs], n_rollouts)
    a = np.repeat([p[1] for p in pairs], n_rollouts)
    cum_P, cum_pi = np.cumsum(mdp.P, axis=2), np.cumsum(pi, axis=1)
    alive = np.ones(s.shape, dtype=bool)
    # sums[g, l] = Σ_t (γλ)^t δ_t, avec δ_t = r_t + γ v̂(s_{t+1}) − v̂(s_t)
    sums = np.zeros((len(gammas), len(lams), s.size))
    for t in range(horizon):
        s_next = np.minimum((rng.random(s.size)[:, None] > cum_P[s, a]).sum(1), S - 1)
        r = mdp.R[s, a]
        for i, g in enumerate(gammas):
            delta = np.where(alive, r + g * v[s_next] - v[s], 0.0)
            sums[i] += ((g * lams) ** t)[:, None] * delta[None, :]
        alive &= ~terminal[s_next]
        if not alive.any():
            break
        s = s_next
        a = np.minimum((rng.random(s.size)[:, None] > cum_pi[s]).sum(1), A - 1)
    out = np.full((len(gammas), len(lams), S, A, n_rollouts), np.nan)
    for k, (ps, pa) in enumerate(pairs):
        out[:, :, ps, pa] = sums[:, :, k * n_rollouts:(k + 1) * n_rollouts]
    return out


def bias_variance_table(mdp, pi, v_hat, gammas, lams, n_rollouts: int, rng: np.random.Generator,
                        gamma_target: float = 1.0) -> dict:
    """Biais et dispersion de GAE(γ, λ) pour chaque ``(γ, λ)``, pondérés par ``μ(s) π(a|s)``.

    La cible est l'avantage ``A_π`` actualisé par ``gamma_target`` (1 : le gradient ``g`` non
    actualisé du chapitre). Renvoie ``{"bias": (G, L), "std": (G, L), "mc_bias": (G, L)}`` :
    la racine de la moyenne des carrés du biais exact (équation ``pgr-eq-biais``), la racine de
    la variance moyenne (Monte-Carlo), et le même biais estimé par Monte-Carlo (contrôle).
    """
    pi = exact._check_policy(mdp, pi)
    gammas, lams = np.atleast_1d(gammas).astype(float), np.atleast_1d(lams).astype(float)
    q = exact.action_values(mdp, pi, gamma_target)
    true_adv = q - exact.state_values(mdp, pi, gamma_target)[:, None]
    mu = exact.on_policy_distribution(mdp, pi, gamma_target)
    weight = mu[:, None] * pi  # (S, A)
    weight = weight / weight.sum()
    samples = gae_rollout_samples(mdp, pi, v_hat, gammas, lams, n_rollouts, rng)
    out = {k: np.zeros((len(gammas), len(lams))) for k in ("bias", "std", "mc_bias")}
    for i, g in enumerate(gammas):
        for j, lam in enumerate(lams):
            b = gradient_bias(mdp, pi, gae_expected_advantage(mdp, pi, v_hat, g, lam), true_adv)
            x = samples[i, j]  # (S, A, n) ; NaN aux états terminaux, de poids nul
            mean, var = np.nan_to_num(x.mean(axis=-1)), np.nan_to_num(x.var(axis=-1))
            b_mc = gradient_bias(mdp, pi, np.where(np.isnan(x[..., 0]), true_adv, mean), true_adv)
            out["bias"][i, j] = np.sqrt((weight * b**2).sum())
            out["mc_bias"][i, j] = np.sqrt((weight * b_mc**2).sum())
            out["std"][i, j] = np.sqrt((weight * var).sum())
    return out


# --- Figures : elles ne lisent que des tableaux ou des ``History``. ----------------------------

def return_curve(history: History, steps, window: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, retour moyen glissant sur window épisodes)``, lu sur la grille de pas ``steps``
    commune à toutes les graines : la forme qu'attend ``compare.plot_best_curves``."""
    from profond.rl.plots import moving_average

    if not history.episode_returns:
        raise ValueError("`history` ne contient aucun épisode terminé.")
    steps = np.asarray(steps, dtype=float)
    smoothed = moving_average(history.episode_returns, check_positive_int("window", window))
    return steps, np.interp(steps, history.episode_steps, smoothed)


def update_curve(history: History, key: str, window: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """``(pas d'environnement, moyenne glissante de history.<key>)`` pour ``key`` valant
    ``"entropy"`` ou ``"kl"`` : la forme qu'attend ``compare.plot_best_curves``."""
    from profond.rl.plots import moving_average

    if key not in ("entropy", "kl"):
        raise ValueError(f"`key` doit désigner une mesure par mise à jour, reçu {key!r}.")
    values = getattr(history, key)
    if len(values) != len(history.update_steps):
        raise ValueError(f"`history.{key}` n'a pas une valeur par mise à jour : rien à tracer.")
    return np.asarray(history.update_steps), moving_average(values, check_positive_int("window", window))


def plot_update_curves(runs: dict[str, list[History]], key: str, ax=None, window: int = 10, logy: bool = False,
                       n_points: int = 200):
    """``history.<key>`` au fil des pas : chaque graine en trait fin, la moyenne en trait épais.

    Les graines ne font pas toutes le même nombre de mises à jour (les pas fictifs de
    réinitialisation ne comptent pas) : chaque courbe est lue sur une grille de pas commune.
    """
    import matplotlib.pyplot as plt

    ax = ax or plt.gca()
    for i, (label, hists) in enumerate(runs.items()):
        curves = [update_curve(h, key, window) for h in hists]
        grid = np.linspace(max(x[0] for x, _ in curves), min(x[-1] for x, _ in curves), n_points)
        ys = np.array([np.interp(grid, x, y) for x, y in curves])
        for y in ys:
            ax.plot(grid, y, color=f"C{i}", lw=0.8, alpha=0.45)
        ax.plot(grid, ys.mean(axis=0), color=f"C{i}", lw=2, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("pas d'environnement")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_bias_variance(table: dict, gammas, lams, axes=None):
    """Biais (à gauche) et écart-type (à droite) de GAE(γ, λ) en fonction de λ, un trait par γ."""
    import matplotlib.pyplot as plt

    from profond import fr

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(7, 3.2))
    for i, g in enumerate(np.atleast_1d(gammas)):
        label = "γ = " + str(fr.number(float(g), 2)).rstrip("0").rstrip(",")
        axes[0].plot(lams, table["bias"][i], "o-", ms=3, color=f"C{i}", label=label)
        axes[1].plot(lams, table["std"][i], "o-", ms=3, color=f"C{i}", label=label)
    axes[0].set_ylabel("biais (qui compte pour le gradient)")
    axes[1].set_ylabel("écart-type de Â")
    for ax in axes:
        ax.set_xlabel("λ")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    return axes
