"""Politique gaussienne pour les actions continues (TP « Actions continues et PPO », section
``ppo-sec-continu`` ; Sutton & Barto, 2018, §13.7).

La moyenne ``μ(s)`` est un MLP, l'écart-type ``σ = exp(log σ)`` un paramètre qui ne dépend pas de
l'état. Une fonction par équation : ``ln π`` (``ppo-eq-gauss-logp``), son gradient, la fonction
score (``ppo-eq-gauss-score``), et l'entropie (``ppo-eq-gauss-entropie``) ; :class:`GaussianPolicy`
les assemble en ``nn.Module``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from profond.rl.policies import mlp
from profond.utils import check_positive_int

Tensor = torch.Tensor

LOG_2PI = math.log(2.0 * math.pi)


def _check_tensors(**tensors) -> None:
    for name, x in tensors.items():
        if not isinstance(x, Tensor):
            raise TypeError(f"`{name}` doit être un tenseur torch, reçu {type(x).__name__}.")


def gaussian_log_prob(actions: Tensor, mu: Tensor, log_std: Tensor) -> Tensor:
    """``ln π(a|s) = Σ_i [−(a_i − μ_i)² / (2σ_i²) − ln σ_i − ½ ln 2π]`` (équation ``ppo-eq-gauss-logp``).

    Les composantes de l'action sont indépendantes : on somme sur le dernier axe (de taille ``d``).
    ``actions`` et ``mu`` sont de forme (..., d), ``log_std`` de forme (d,) ou (..., d).

    >>> round(gaussian_log_prob(torch.zeros(1), torch.zeros(1), torch.zeros(1)).item(), 4)
    -0.9189
    """
    _check_tensors(actions=actions, mu=mu, log_std=log_std)
    if actions.shape != mu.shape:
        raise ValueError(f"`actions` et `mu` doivent avoir la même forme, reçu {tuple(actions.shape)} "
                         f"et {tuple(mu.shape)}.")
    z = (actions - mu) * torch.exp(-log_std)  # (..., d) (a − μ)/σ
    return (-0.5 * z**2 - log_std - 0.5 * LOG_2PI).sum(-1)


def gaussian_score(actions: Tensor, mu: Tensor, log_std: Tensor) -> tuple[Tensor, Tensor]:
    """La fonction score ``(∇_μ ln π, ∇_{ln σ} ln π) = ((a − μ)/σ², (a − μ)²/σ² − 1)`` (équation
    ``ppo-eq-gauss-score``), composante par composante, de forme (..., d) chacune.

    >>> [s.item() for s in gaussian_score(torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor([0.0]))]
    [2.0, 3.0]
    """
    _check_tensors(actions=actions, mu=mu, log_std=log_std)
    var = torch.exp(2.0 * log_std)
    diff = actions - mu
    return diff / var, diff**2 / var - 1.0


def gaussian_entropy(log_std: Tensor) -> Tensor:
    """``H(π(·|s)) = Σ_i ½ ln(2πe σ_i²) = Σ_i (ln σ_i + ½ ln 2πe)`` (équation ``ppo-eq-gauss-entropie``).

    Elle ne dépend que de ``σ`` : ici, pas de l'état. Somme sur le dernier axe.

    >>> round(gaussian_entropy(torch.zeros(1)).item(), 4)
    1.4189
    """
    _check_tensors(log_std=log_std)
    return (log_std + 0.5 * (LOG_2PI + 1.0)).sum(-1)


def sample_gaussian(mu: Tensor, log_std: Tensor, generator: torch.Generator) -> Tensor:
    """Tire ``A = μ + σ ε`` avec ``ε ~ N(0, I)`` tiré par ``generator`` ; forme de ``mu``."""
    _check_tensors(mu=mu, log_std=log_std)
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    return mu + torch.exp(log_std) * eps


class GaussianPolicy(nn.Module):
    """``π(a|s) = N(a ; μ_θ(s), diag σ²)`` : la moyenne est un MLP, ``log σ`` un paramètre libre.

    ``forward(obs)`` renvoie la moyenne ``μ(s)`` de forme (..., d) ; :meth:`log_prob`,
    :meth:`entropy` et :meth:`sample` donnent le reste. Les actions tirées ne sont **pas** bornées :
    c'est à l'entraîneur de les ramener dans l'espace d'actions de l'environnement.
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: int, log_std_init: float = 0.0):
        super().__init__()
        check_positive_int("obs_dim", obs_dim)
        check_positive_int("act_dim", act_dim)
        check_positive_int("hidden", hidden)
        self.mu = mlp(obs_dim, act_dim, hidden)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(log_std_init)))

    def forward(self, obs: Tensor) -> Tensor:
        return self.mu(obs)  # (..., d) μ(s)

    def log_prob(self, obs: Tensor, actions: Tensor) -> Tensor:
        """``ln π(a|s)``, de forme (...)."""
        return gaussian_log_prob(actions, self(obs), self.log_std)

    def entropy(self, obs: Tensor) -> Tensor:
        """Entropie de ``π(·|s)`` pour chaque observation, de forme (...)."""
        return gaussian_entropy(self.log_std).expand(obs.shape[:-1])

    def sample(self, obs: Tensor, generator: torch.Generator) -> Tensor:
        """Tire une action (non bornée) par observation, de forme (..., d)."""
        return sample_gaussian(self(obs), self.log_std, generator)
