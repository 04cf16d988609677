"""Environnements du chapitre « Gradient de la politique », tous des ``gymnasium.Env``.

- :func:`short_corridor_mdp` : le couloir aux actions inversées de Sutton & Barto (exemple 13.1) ;
- :func:`small_mdp` : un petit PDM dont on connaît la matrice de transition ;
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
    """Un petit PDM stochastique : trois états en file, un état terminal, deux actions.

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


class TabularMDPVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies d'un :class:`TabularMDP`, simulées ensemble en numpy.

    Même comportement qu'un ``SyncVectorEnv`` de :class:`TabularMDPEnv` sous ``TimeLimit`` (mode
    de réinitialisation ``NEXT_STEP`` de gymnasium : après une fin d'épisode, l'appel suivant à
    ``step`` réinitialise la copie et renvoie une récompense nulle), sans le coût d'un objet Python
    par copie et par pas.
    """

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(self, mdp: TabularMDP, num_envs: int, max_episode_steps: int | None = None):
        if not isinstance(mdp, TabularMDP):
            raise TypeError(f"`mdp` doit être un TabularMDP, reçu {type(mdp).__name__}.")
        self.mdp = mdp
        self.num_envs = check_positive_int("num_envs", num_envs)
        self.max_episode_steps = None if max_episode_steps is None else check_positive_int(
            "max_episode_steps", max_episode_steps)
        self.single_observation_space = spaces.Discrete(mdp.n_states)
        self.single_action_space = spaces.Discrete(mdp.n_actions)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self._cum_P = np.cumsum(mdp.P, axis=2)  # (S, A, S)
        self._cum_mu0 = np.cumsum(mdp.mu0)
        self._terminal = np.asarray(mdp.terminal, dtype=bool)

    def _draw(self, cum: np.ndarray) -> np.ndarray:
        """Un tirage par ligne de ``cum`` (fonctions de répartition), par inversion."""
        u = self.np_random.random(cum.shape[:-1] + (1,))
        return np.minimum((u > cum).sum(-1), cum.shape[-1] - 1)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._state = self._draw(np.broadcast_to(self._cum_mu0, (self.num_envs, self.mdp.n_states)))
        self._t = np.zeros(self.num_envs, dtype=np.int64)
        self._prev_done = np.zeros(self.num_envs, dtype=bool)
        return self._state.copy(), {}

    def step(self, actions):
        a = np.asarray(actions)
        if a.shape != (self.num_envs,) or a.dtype.kind not in "iu" or a.min() < 0 or a.max() >= self.mdp.n_actions:
            raise ValueError(f"`actions` doit appartenir à {self.action_space}, reçu {actions!r}.")
        s, reset = self._state, self._prev_done
        # les copies dont l'épisode s'est arrêté au pas précédent repartent de μ₀ (pas fictif) ;
        # les autres font une transition (un seul tirage chacune, comme TabularMDPEnv)
        s_next = s.copy()
        if (~reset).any():
            s_next[~reset] = self._draw(self._cum_P[s[~reset], a[~reset]])
        if reset.any():
            s_next[reset] = self._draw(np.broadcast_to(self._cum_mu0, (int(reset.sum()), self.mdp.n_states)))
        reward = np.where(reset, 0.0, self.mdp.R[s, a])
        self._t = np.where(reset, 0, self._t + 1)
        term = self._terminal[s_next] & ~reset
        trunc = ~term & ~reset & (self._t >= (self.max_episode_steps or np.inf))
        self._state = s_next
        self._prev_done = term | trunc
        return s_next.copy(), reward, term, trunc, {}


def make_short_corridor() -> TabularMDPEnv:
    """Point d'entrée de ``profond/ShortCorridor-v0``."""
    return TabularMDPEnv(short_corridor_mdp())


def make_small_mdp() -> TabularMDPEnv:
    """Point d'entrée de ``profond/SmallMDP-v0``."""
    return TabularMDPEnv(small_mdp())


def make_short_corridor_vector(num_envs: int, max_episode_steps: int | None = None) -> TabularMDPVectorEnv:
    """Point d'entrée vectorisé de ``profond/ShortCorridor-v0``."""
    return TabularMDPVectorEnv(short_corridor_mdp(), num_envs, max_episode_steps)


def make_small_mdp_vector(num_envs: int, max_episode_steps: int | None = None) -> TabularMDPVectorEnv:
    """Point d'entrée vectorisé de ``profond/SmallMDP-v0``."""
    return TabularMDPVectorEnv(small_mdp(), num_envs, max_episode_steps)


COURSE_ENVS = ("profond/ShortCorridor-v0", "profond/SmallMDP-v0")
"""Les environnements définis par le cours (CartPole-v1 vient de gymnasium)."""


def register_envs() -> None:
    """Enregistre les environnements du cours auprès de gymnasium (sans effet s'ils le sont déjà)."""
    for env_id, name, steps in zip(COURSE_ENVS, ("short_corridor", "small_mdp"), (1000, 200)):
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=f"profond.rl.envs:make_{name}",
                         vector_entry_point=f"profond.rl.envs:make_{name}_vector", max_episode_steps=steps)


register_envs()


def make_vector_env(env_id: str, n_envs: int) -> gym.vector.VectorEnv:
    """``n_envs`` copies de ``env_id`` en un environnement vectorisé (réinitialisation automatique).

    CartPole-v1 et les environnements du cours utilisent une version vectorisée en numpy (bien plus
    rapide que ``SyncVectorEnv``) ; les autres passent par ``SyncVectorEnv``. Dans tous les cas,
    après la fin d'un épisode, l'appel suivant à ``step`` réinitialise la copie et renvoie une
    récompense nulle (mode ``NEXT_STEP`` de gymnasium) : les entraîneurs ignorent ce pas fictif.
    """
    if not isinstance(env_id, str):
        raise TypeError(f"`env_id` doit être une chaîne, reçu {type(env_id).__name__}.")
    n_envs = check_positive_int("n_envs", n_envs)
    mode = "vector_entry_point" if gym.spec(env_id).vector_entry_point is not None else "sync"
    return gym.make_vec(env_id, num_envs=n_envs, vectorization_mode=mode)


def describe_env(env_id: str) -> dict:
    """Construit ``env_id``, le fait vérifier par le vérificateur de gymnasium s'il est défini par
    le cours, et renvoie ses espaces et sa borne de durée d'épisode.

    CartPole-v1 n'est pas revérifié : gymnasium le teste lui-même, et ses vitesses sont non bornées
    par construction (espace ``Box`` aux bornes infinies), ce que le vérificateur signalerait.
    """
    from gymnasium.utils.env_checker import check_env

    env = gym.make(env_id)
    try:
        if env_id in COURSE_ENVS:
            check_env(env.unwrapped, skip_render_check=True)
        return {"observations": env.observation_space, "actions": env.action_space,
                "max_episode_steps": env.spec.max_episode_steps, "checked": env_id in COURSE_ENVS}
    finally:
        env.close()


def env_mdp(env_id: str) -> TabularMDP | None:
    """Le :class:`TabularMDP` derrière ``env_id`` s'il y en a un (``None`` pour CartPole)."""
    env = gym.make(env_id)
    try:
        return getattr(env.unwrapped, "mdp", None)
    finally:
        env.close()
