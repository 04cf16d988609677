"""Les estimateurs du chapitre « Gradient de la politique », une fonction par quantité.

Convention : l'axe 0 est le temps. ``rewards`` est de forme (T,) pour un épisode ou (T, N) pour
``N`` environnements en parallèle ; ``dones[t]`` vaut 1 si l'épisode s'arrête après le pas ``t``
(la somme repart alors de zéro).
"""

from __future__ import annotations

import numpy as np
import torch

from profond.utils import check_positive

Tensor = torch.Tensor


def _check_gamma(name: str, gamma) -> float:
    value = check_positive(name, gamma)
    if value > 1.0:
        raise ValueError(f"`{name}` doit appartenir à [0, 1], reçu {value}.")
    return value


def _check_rewards(rewards) -> Tensor:
    if not isinstance(rewards, Tensor):
        raise TypeError(f"`rewards` doit être un tenseur torch, reçu {type(rewards).__name__}.")
    if rewards.ndim not in (1, 2):
        raise ValueError(f"`rewards` doit être de forme (T,) ou (T, N), reçu {tuple(rewards.shape)}.")
    return rewards


def _as_mask(name: str, x, like: Tensor) -> Tensor:
    if x is None:
        return torch.zeros_like(like)
    if not isinstance(x, Tensor) or x.shape != like.shape:
        raise ValueError(f"`{name}` doit être un tenseur de forme {tuple(like.shape)}.")
    return x.to(like.dtype)


def discount_weights(n_steps: int, gamma: float) -> Tensor:
    """Les poids ``γ^t`` pour ``t = 0 … T−1`` : le facteur ``I`` des algorithmes épisodiques.

    >>> discount_weights(3, 0.5)
    tensor([1.0000, 0.5000, 0.2500])
    """
    gamma = _check_gamma("gamma", gamma)
    return gamma ** torch.arange(int(n_steps), dtype=torch.float32)


def discounted_return(rewards: Tensor, gamma: float) -> Tensor:
    """Le retour ``G_0 = Σ_t γ^t R_{t+1}`` d'une trajectoire entière (équation ``pg-eq-retour``).

    C'est le premier choix de ``Ψ_t`` (retour total de la trajectoire).

    >>> discounted_return(torch.tensor([1.0, 1.0, 1.0]), 0.5)
    tensor(1.7500)
    """
    rewards = _check_rewards(rewards)
    w = discount_weights(rewards.shape[0], gamma).to(rewards.dtype)
    return torch.tensordot(w, rewards, dims=([0], [0]))


def returns_to_go(rewards: Tensor, gamma: float, dones: Tensor | None = None,
                  last_value: Tensor | float = 0.0) -> Tensor:
    """Les retours ``G_t = R_{t+1} + γ G_{t+1}`` après chaque pas (équation ``pg-eq-retour``).

    ``G_t`` repart de zéro après un pas où ``dones`` vaut 1 ; ``last_value`` est la valeur
    ajoutée après le dernier pas (0 pour un épisode complet).

    >>> returns_to_go(torch.tensor([1.0, 1.0, 1.0]), 0.5)
    tensor([1.7500, 1.5000, 1.0000])
    >>> returns_to_go(torch.tensor([1.0, 1.0, 1.0]), 0.5, dones=torch.tensor([0.0, 1.0, 0.0]))
    tensor([1.5000, 1.0000, 1.0000])
    """
    rewards = _check_rewards(rewards)
    gamma = _check_gamma("gamma", gamma)
    if rewards.requires_grad:
        raise ValueError("`rewards` ne doit pas exiger de gradient : les retours sont des cibles (`.detach()`).")
    # La récurrence à rebours se fait en numpy : des milliers de petites opérations torch coûteraient
    # dix fois plus cher qu'elles ne calculent.
    r = rewards.cpu().numpy()
    not_done = 1.0 - _as_mask("dones", dones, rewards).cpu().numpy()
    out = np.empty_like(r)
    g = np.broadcast_to(np.asarray(torch.as_tensor(last_value), dtype=r.dtype), r.shape[1:]).copy()
    for t in range(r.shape[0] - 1, -1, -1):
        g = r[t] + gamma * not_done[t] * g
        out[t] = g
    return torch.from_numpy(out).to(rewards.device)


def advantages(returns: Tensor, baseline: Tensor) -> Tensor:
    """L'avantage estimé ``G_t − b(S_t)`` (équation ``pg-eq-baseline``).

    >>> advantages(torch.tensor([3.0, 2.0, 1.0]), torch.tensor([2.0, 2.0, 2.0]))
    tensor([ 1.,  0., -1.])
    """
    if not isinstance(returns, Tensor) or not isinstance(baseline, Tensor):
        raise TypeError("`returns` et `baseline` doivent être des tenseurs torch.")
    if returns.shape != baseline.shape:
        raise ValueError(
            f"`baseline` doit avoir la forme de `returns` : {tuple(returns.shape)} attendu, "
            f"{tuple(baseline.shape)} reçu."
        )
    return returns - baseline


def td_residuals(rewards: Tensor, values: Tensor, next_values: Tensor, gamma: float,
                 terminated: Tensor | None = None) -> Tensor:
    """Les résidus TD ``δ_t = R_{t+1} + γ v(S_{t+1}) − v(S_t)`` (équation ``pg-eq-td``).

    ``v(S_{t+1})`` compte pour 0 quand ``S_{t+1}`` est terminal (``terminated`` vaut 1) ; un
    épisode seulement tronqué par une limite de temps garde sa valeur.

    >>> td_residuals(torch.tensor([1.0, 1.0, 1.0]), torch.tensor([2.0, 2.0, 2.0]),
    ...              torch.tensor([2.0, 2.0, 2.0]), 0.5, terminated=torch.tensor([0.0, 0.0, 1.0]))
    tensor([ 0.,  0., -1.])
    """
    rewards = _check_rewards(rewards)
    gamma = _check_gamma("gamma", gamma)
    for name, x in (("values", values), ("next_values", next_values)):
        if not isinstance(x, Tensor) or x.shape != rewards.shape:
            raise ValueError(f"`{name}` doit être un tenseur de forme {tuple(rewards.shape)}.")
    not_term = 1.0 - _as_mask("terminated", terminated, rewards)
    return rewards + gamma * not_term * next_values - values


def gae_advantages(deltas: Tensor, gamma: float, lam: float, dones: Tensor | None = None) -> Tensor:
    """L'estimateur GAE(λ) : ``Â_t = Σ_l (γλ)^l δ_{t+l}`` (équation ``pg-eq-gae``).

    Calculé à rebours par ``Â_t = δ_t + γλ Â_{t+1}``, en coupant après un pas où ``dones`` vaut 1.
    ``λ = 0`` donne le résidu TD, ``λ = 1`` le retour moins la valeur.

    >>> gae_advantages(torch.tensor([1.0, 1.0, 1.0]), 0.5, 1.0)
    tensor([1.7500, 1.5000, 1.0000])
    >>> gae_advantages(torch.tensor([1.0, 1.0, 1.0]), 0.5, 0.0)
    tensor([1., 1., 1.])
    """
    deltas = _check_rewards(deltas)
    gamma = _check_gamma("gamma", gamma)
    lam = _check_gamma("lam", lam)
    return returns_to_go(deltas, gamma * lam, dones)
