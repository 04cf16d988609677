"""Politiques et critiques (chapitre « Gradient de la politique »).

- tabulaire : politique softmax linéaire ``π(a|s, θ) ∝ exp(θᵀx(s, a))`` et critique linéaire
  ``v̂(s, w) = wᵀx(s)``, sur les caractéristiques fournies par le :class:`~profond.rl.exact.TabularMDP` ;
- CartPole : petits réseaux (MLP) avec une tête catégorielle (un logit par action).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from profond.rl.envs import env_mdp
from profond.utils import check_positive_int

Tensor = torch.Tensor


class LinearSoftmaxPolicy(nn.Module):
    """``π(a|s, θ) ∝ exp(θᵀx(s, a))`` (équation ``pg-eq-softmax``) ; l'entrée est l'indice d'état."""

    def __init__(self, action_features, theta_init=None):
        super().__init__()
        x = torch.as_tensor(np.asarray(action_features), dtype=torch.float32)
        if x.ndim != 3:
            raise ValueError(f"`action_features` doit être de forme (S, A, d), reçu {tuple(x.shape)}.")
        self.register_buffer("features", x)  # (S, A, d)
        theta = torch.zeros(x.shape[2]) if theta_init is None else torch.as_tensor(theta_init, dtype=torch.float32)
        if theta.shape != (x.shape[2],):
            raise ValueError(f"`theta_init` doit être de forme ({x.shape[2]},), reçu {tuple(theta.shape)}.")
        self.theta = nn.Parameter(theta.clone())

    def forward(self, obs: Tensor) -> Tensor:
        return self.features[obs.long()] @ self.theta  # (..., A) logits


class LinearValue(nn.Module):
    """``v̂(s, w) = wᵀx(s)``, initialisé à zéro ; l'entrée est l'indice d'état."""

    def __init__(self, state_features):
        super().__init__()
        x = torch.as_tensor(np.asarray(state_features), dtype=torch.float32)
        self.register_buffer("features", x)  # (S, k)
        self.w = nn.Parameter(torch.zeros(x.shape[1]))

    def forward(self, obs: Tensor) -> Tensor:
        return self.features[obs.long()] @ self.w  # (...)


def mlp(n_in: int, n_out: int, hidden: int) -> nn.Sequential:
    """Un perceptron à une couche cachée ``tanh``."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, n_out))


class MLPPolicy(nn.Module):
    """Réseau de politique à tête catégorielle : l'observation donne un logit par action."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: int):
        super().__init__()
        self.net = mlp(obs_dim, n_actions, hidden)

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs)  # (..., A)


class MLPValue(nn.Module):
    """Critique ``v̂(s, w)`` : un MLP à une sortie."""

    def __init__(self, obs_dim: int, hidden: int):
        super().__init__()
        self.net = mlp(obs_dim, 1, hidden)

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs).squeeze(-1)  # (...)


def log_probs(logits: Tensor, actions: Tensor) -> Tensor:
    """``ln π(a|s)`` des actions choisies, à partir des logits (..., A).

    >>> log_probs(torch.zeros(1, 2), torch.tensor([1])).exp()
    tensor([0.5000])
    """
    return torch.log_softmax(logits, dim=-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


def sample_actions(logits: Tensor, generator: torch.Generator) -> Tensor:
    """Tire ``A ~ π(·|s)`` pour chaque ligne de ``logits`` (N, A) avec le générateur donné.

    On inverse la fonction de répartition : ``A`` est le nombre de probabilités cumulées
    inférieures à un tirage uniforme. C'est bien plus rapide que de construire une
    ``torch.distributions.Categorical`` (ou d'appeler ``torch.multinomial``) à chaque pas.

    >>> g = torch.Generator().manual_seed(0)
    >>> a = sample_actions(torch.log(torch.tensor([[0.2, 0.8]])).expand(10_000, 2), g)
    >>> round(a.float().mean().item(), 1)
    0.8
    """
    cdf = torch.softmax(logits, dim=-1).cumsum(-1)  # (N, A)
    u = torch.rand(cdf.shape[:-1] + (1,), generator=generator, dtype=cdf.dtype)
    return (u > cdf).sum(-1).clamp(max=logits.shape[-1] - 1)


def make_networks(env_id: str, hidden: int, theta_init=None) -> tuple[nn.Module, nn.Module]:
    """La politique et le critique adaptés à ``env_id`` : linéaires sur un PDM tabulaire, MLP sinon."""
    mdp = env_mdp(env_id)
    if mdp is not None:
        return LinearSoftmaxPolicy(mdp.action_features, theta_init), LinearValue(mdp.state_features)
    import gymnasium as gym

    env = gym.make(env_id)
    obs_dim, n_actions = int(np.prod(env.observation_space.shape)), int(env.action_space.n)
    env.close()
    hidden = check_positive_int("hidden", hidden)
    return MLPPolicy(obs_dim, n_actions, hidden), MLPValue(obs_dim, hidden)


def rollout_states(policy: nn.Module, env_id: str, seed: int, max_steps: int,
                   generator: torch.Generator) -> np.ndarray:
    """Joue un épisode avec ``policy`` et renvoie l'état interne de l'environnement à chaque pas.

    Pour CartPole, chaque ligne est ``(x, ẋ, θ, θ̇)`` : de quoi dessiner le chariot et le bâton.
    """
    import gymnasium as gym

    max_steps = check_positive_int("max_steps", max_steps)
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    states = [np.array(env.unwrapped.state, dtype=float)]
    for _ in range(max_steps):
        with torch.inference_mode():
            act = sample_actions(policy(torch.as_tensor(obs)[None]), generator)
        obs, _, term, trunc, _ = env.step(int(act[0]))
        states.append(np.array(env.unwrapped.state, dtype=float))
        if term or trunc:
            break
    env.close()
    return np.stack(states)


def rollout_frames(policy: nn.Module, env_id: str, seed: int, max_steps: int, generator: torch.Generator,
                   n_frames: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Joue un épisode avec ``policy`` puis en renvoie ``n_frames`` images régulièrement espacées,
    rendues par l'environnement lui-même (``render_mode="rgb_array"``, sans écran).

    L'épisode est joué une fois sans rendu en notant les actions, puis rejoué (même graine, mêmes
    actions) en ne rendant que les pas retenus : rendre chaque pas coûterait bien plus cher.
    Renvoie ``(frames, steps)`` : images ``(k, H, W, 3)`` en ``uint8`` et numéros des pas.
    """
    import os

    import gymnasium as gym

    max_steps = check_positive_int("max_steps", max_steps)
    n_frames = check_positive_int("n_frames", n_frames)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # rendu hors écran (pygame)
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    actions = []
    for _ in range(max_steps):
        with torch.inference_mode():
            act = int(sample_actions(policy(torch.as_tensor(obs)[None]), generator)[0])
        actions.append(act)
        obs, _, term, trunc, _ = env.step(act)
        if term or trunc:
            break
    env.close()
    steps = np.unique(np.linspace(0, len(actions), min(n_frames, len(actions) + 1)).round().astype(int))
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=seed)
    frames = [env.render()] if steps[0] == 0 else []
    for t, act in enumerate(actions, start=1):
        env.step(act)
        if t in steps:
            frames.append(env.render())
    env.close()
    return np.stack(frames), steps
