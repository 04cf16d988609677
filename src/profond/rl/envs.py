"""Environnements du chapitre « Gradient de la politique », tous des ``gymnasium.Env``.

- :func:`short_corridor_mdp` : le couloir aux actions inversées de Sutton & Barto (exemple 13.1) ;
- :func:`small_mdp` : un petit PMD dont on connaît la matrice de transition ;
- CartPole-v1 vient de gymnasium lui-même (jamais réimplémenté).

Les deux premiers sont enregistrés sous ``profond/ShortCorridor-v0`` et ``profond/SmallMDP-v0`` :
``gymnasium.make("profond/ShortCorridor-v0")`` les construit comme n'importe quel environnement.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from profond.rl.exact import TabularMDP
from profond.utils import check_positive_int

LEFT, RIGHT = 0, 1


def short_corridor_mdp() -> TabularMDP:
    """Le couloir court aux actions inversées (Sutton & Barto, 2018, exemple 13.1).

    États 0, 1, 2 et l'état terminal 3 ; actions 0 = gauche, 1 = droite ; récompense −1 par pas.
    Dans l'état 1 les actions sont inversées. Toutes les actions ont les mêmes caractéristiques
    dans tous les états (``x(s, droite) = (1, 0)``, ``x(s, gauche) = (0, 1)``) : la politique ne
    distingue pas les états, d'où l'intérêt d'une politique stochastique.
    """
    S, A = 4, 2
    P = np.zeros((S, A, S))
    P[0, LEFT, 0] = P[0, RIGHT, 1] = 1.0  # mur à gauche
    P[1, LEFT, 2] = P[1, RIGHT, 0] = 1.0  # actions inversées
    P[2, LEFT, 1] = P[2, RIGHT, 3] = 1.0
    P[3, :, 3] = 1.0  # terminal absorbant
    R = -np.ones((S, A))
    R[3] = 0.0
    x = np.zeros((S, A, 2))
    x[:, RIGHT, 0] = 1.0
    x[:, LEFT, 1] = 1.0
    return TabularMDP(P, R, np.eye(S)[0], np.arange(S) == 3, x, np.ones((S, 1)), ("gauche", "droite"))


def short_corridor_value(p_right):
    """``J(p) = v(s₀) = −2(2 − p) / (p(1 − p))`` pour la politique « droite avec probabilité p ».

    Équation ``pg-eq-couloir`` ; le maximum est en ``p* = 2 − √2``.

    >>> round(short_corridor_value(0.5), 6)
    -12.0
    """
    p = np.asarray(p_right, dtype=float)
    if ((p <= 0) | (p >= 1)).any():
        raise ValueError("`p_right` doit appartenir à ]0, 1[ : sinon l'épisode ne se termine jamais.")
    out = -2.0 * (2.0 - p) / (p * (1.0 - p))
    return float(out) if out.ndim == 0 else out


def short_corridor_optimum() -> tuple[float, float]:
    """``(p*, J*)`` : la probabilité optimale d'aller à droite et la valeur optimale ``J*``.

    >>> [round(v, 3) for v in short_corridor_optimum()]
    [0.586, -11.657]
    """
    p = 2.0 - math.sqrt(2.0)
    return p, short_corridor_value(p)


def small_mdp() -> TabularMDP:
    """Un petit PMD stochastique : trois états en file, un état terminal, deux actions.

    - « rester » (0) : récompense +0,1 ; reste sur place avec probabilité 0,9, sinon l'épisode
      s'arrête (on est renvoyé vers l'état terminal) ;
    - « avancer » (1) : récompense −0,5 ; avance d'une case avec probabilité 0,8, sinon recule
      d'une case (ou reste en 0) ; avancer depuis le dernier état atteint le but (+5) et termine.

    Les caractéristiques de la politique sont des indicatrices de ``(s, a)`` (politique softmax
    tabulaire), celles du critique des indicatrices d'état.
    """
    S, A = 4, 2
    P = np.zeros((S, A, S))
    R = np.zeros((S, A))
    for s in range(3):
        P[s, 0, s], P[s, 0, 3] = 0.9, 0.1
        R[s, 0] = 0.1
        back = max(s - 1, 0)
        P[s, 1, s + 1] += 0.8
        P[s, 1, back] += 0.2
        R[s, 1] = -0.5 + (0.8 * 5.0 if s == 2 else 0.0)
    P[3, :, 3] = 1.0
    x = np.eye(S * A).reshape(S, A, S * A)
    return TabularMDP(P, R, np.eye(S)[0], np.arange(S) == 3, x, np.eye(S), ("rester", "avancer"))


class TabularMDPEnv(gym.Env):
    """Un ``gymnasium.Env`` qui simule un :class:`TabularMDP` ; l'observation est l'indice d'état.

    L'attribut ``mdp`` donne accès à la dynamique exacte (pour :mod:`profond.rl.exact`).
    """

    metadata = {"render_modes": []}

    def __init__(self, mdp: TabularMDP):
        if not isinstance(mdp, TabularMDP):
            raise TypeError(f"`mdp` doit être un TabularMDP, reçu {type(mdp).__name__}.")
        self.mdp = mdp
        self.observation_space = spaces.Discrete(mdp.n_states)
        self.action_space = spaces.Discrete(mdp.n_actions)
        self._cum_P = np.cumsum(mdp.P, axis=2)
        self._state = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._state = int(self.np_random.choice(self.mdp.n_states, p=self.mdp.mu0))
        return self._state, {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"`action` doit appartenir à {self.action_space}, reçu {action!r}.")
        s, a = self._state, int(action)
        reward = float(self.mdp.R[s, a])
        u = self.np_random.random()
        s_next = int(min(np.searchsorted(self._cum_P[s, a], u, side="right"), self.mdp.n_states - 1))
        self._state = s_next
        return s_next, reward, bool(self.mdp.terminal[s_next]), False, {}


def make_short_corridor() -> TabularMDPEnv:
    """Point d'entrée de ``profond/ShortCorridor-v0``."""
    return TabularMDPEnv(short_corridor_mdp())


def make_small_mdp() -> TabularMDPEnv:
    """Point d'entrée de ``profond/SmallMDP-v0``."""
    return TabularMDPEnv(small_mdp())


def register_envs() -> None:
    """Enregistre les environnements du cours auprès de gymnasium (sans effet s'ils le sont déjà)."""
    for env_id, entry, steps in (
        ("profond/ShortCorridor-v0", "profond.rl.envs:make_short_corridor", 1000),
        ("profond/SmallMDP-v0", "profond.rl.envs:make_small_mdp", 200),
    ):
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry, max_episode_steps=steps)


register_envs()


def make_vector_env(env_id: str, n_envs: int) -> gym.vector.VectorEnv:
    """``n_envs`` copies de ``env_id`` en un environnement vectorisé (réinitialisation automatique).

    CartPole-v1 utilise la version vectorisée en numpy de gymnasium (bien plus rapide que
    ``SyncVectorEnv``) ; les autres passent par ``SyncVectorEnv``. Dans les deux cas, après la fin
    d'un épisode, l'appel suivant à ``step`` réinitialise la copie et renvoie une récompense nulle
    (mode ``NEXT_STEP`` de gymnasium) : les entraîneurs ignorent ce pas fictif.
    """
    if not isinstance(env_id, str):
        raise TypeError(f"`env_id` doit être une chaîne, reçu {type(env_id).__name__}.")
    n_envs = check_positive_int("n_envs", n_envs)
    if env_id == "CartPole-v1":
        return gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point")
    return gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="sync")


def env_mdp(env_id: str) -> TabularMDP | None:
    """Le :class:`TabularMDP` derrière ``env_id`` s'il y en a un (``None`` pour CartPole)."""
    env = gym.make(env_id)
    try:
        return getattr(env.unwrapped, "mdp", None)
    finally:
        env.close()
