"""Ce qu'un entraînement par renforcement a mesuré, et les bornes qui l'arrêtent.

Les pages bornent leurs courses en épisodes ou en pas : même graine, mêmes nombres, sur n'importe
quelle machine. Une borne de durée (``max_seconds``) n'existe que pour les bancs d'essai ; quand elle
arrête une course, :class:`TimeLimitReached` est levée (jamais d'arrêt silencieux).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np


@dataclass
class History:
    """Une entrée par épisode terminé (``episode_*``), par mise à jour (``*_loss``) ou par évaluation
    exacte de la politique (``objective``, sur les PDM tabulaires seulement)."""

    episode_returns: list[float] = field(default_factory=list)
    episode_lengths: list[int] = field(default_factory=list)
    episode_steps: list[int] = field(default_factory=list)
    """Nombre total de pas d'environnement simulés quand l'épisode s'est terminé."""
    episode_times: list[float] = field(default_factory=list)
    """Secondes écoulées depuis le début de l'entraînement quand l'épisode s'est terminé."""
    objective: list[float] = field(default_factory=list)
    """``J(θ)`` exact de la politique courante (PDM tabulaires)."""
    objective_steps: list[int] = field(default_factory=list)
    policy_loss: list[float] = field(default_factory=list)
    value_loss: list[float] = field(default_factory=list)
    entropy: list[float] = field(default_factory=list)
    """Entropie moyenne de la politique sur les états du lot, avant chaque mise à jour (équation
    ``pgr-eq-entropie`` ; acteur-critique seulement)."""
    kl: list[float] = field(default_factory=list)
    """Divergence KL moyenne entre la politique avant et après chaque mise à jour, sur les états du
    lot (équation ``pgr-eq-kl`` ; acteur-critique seulement)."""
    update_steps: list[int] = field(default_factory=list)
    """Nombre total de pas d'environnement au moment de chaque mise à jour (abscisse de ``entropy``
    et ``kl``)."""
    env_steps: int = 0
    wall_time: float = 0.0
    solved_step: int | None = None
    """Pas d'environnement au moment où la moyenne glissante a atteint ``target_return``."""
    solved_time: float | None = None
    diverged: bool = False
    """Vrai si les paramètres sont devenus non finis (la course s'est alors arrêtée)."""
    policy: Any = field(default=None, repr=False, compare=False)
    """La politique apprise (module torch, ou paramètres numpy ``u`` pour Off-PAC)."""
    value: Any = field(default=None, repr=False, compare=False)
    """Le critique appris (module torch), quand l'agent en a un (acteur-critique)."""

    def mean_last(self, n: int = 100) -> float:
        """Retour moyen des ``n`` derniers épisodes (``nan`` s'il n'y en a aucun)."""
        return float(np.mean(self.episode_returns[-n:])) if self.episode_returns else float("nan")

    def as_dict(self) -> dict:
        """Les mesures (sans la politique ni le critique), en types Python simples."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("policy", "value")}


class TimeLimitReached(RuntimeError):
    """La borne de durée ``max_seconds`` a arrêté une course ; ``history`` garde ce qui a été mesuré."""

    def __init__(self, history: History, max_seconds: float):
        super().__init__(
            f"Course arrêtée par la borne de durée `max_seconds` = {max_seconds:g} s après "
            f"{history.env_steps} pas et {len(history.episode_returns)} épisodes : ses résultats "
            "dépendent de la vitesse de la machine. Bornez la course en épisodes ou en pas "
            "(`max_episodes`, `max_steps`) et laissez `max_seconds=None`.")
        self.history = history


def mean_return(history: History) -> float:
    """Score d'une course pour :func:`profond.compare.compare` : le retour moyen de tous ses
    épisodes, c'est-à-dire l'aire sous la courbe d'apprentissage (elle récompense d'apprendre tôt,
    comme les figures 13.1 et 13.2 de Sutton et Barto) ; ``−∞`` si la course a divergé."""
    if not isinstance(history, History):
        raise TypeError(f"`history` doit être un History, reçu {type(history).__name__}.")
    if history.diverged or not history.episode_returns:
        return -np.inf
    return float(np.mean(history.episode_returns))


def parameters_finite(*modules) -> bool:
    """Vrai si tous les paramètres des modules torch donnés sont finis."""
    import torch

    return all(bool(torch.isfinite(p).all()) for m in modules for p in m.parameters())


class Recorder:
    """Remplit un :class:`History` et décide de l'arrêt (épisodes, pas, secondes, cible atteinte)."""

    def __init__(self, config, bar=None):
        self.config = config
        self.history = History()
        self.start = time.perf_counter()
        self.bar = bar

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def add_steps(self, n: int) -> None:
        self.history.env_steps += int(n)

    def episode(self, ret: float, length: int) -> None:
        h, cfg = self.history, self.config
        h.episode_returns.append(float(ret))
        h.episode_lengths.append(int(length))
        h.episode_steps.append(h.env_steps)
        h.episode_times.append(self.elapsed())
        target = getattr(cfg, "target_return", None)
        if (target is not None and h.solved_step is None and len(h.episode_returns) >= cfg.solved_window
                and h.mean_last(cfg.solved_window) >= target):
            h.solved_step, h.solved_time = h.env_steps, self.elapsed()
        if self.bar is not None:
            self.bar.update(1)

    def vector_step(self, ep_ret, ep_len, rew, valid, done) -> None:
        """Un pas de ``n`` environnements joués en parallèle : ajoute récompenses et longueurs aux
        épisodes en cours (``ep_ret``, ``ep_len``, tableaux modifiés en place), compte les pas
        valides et enregistre les épisodes qui finissent (puis remet leurs compteurs à zéro)."""
        ep_ret += np.where(valid, rew, 0.0)
        ep_len += valid
        self.add_steps(int(valid.sum()))
        for i in np.flatnonzero(done & valid):
            self.episode(ep_ret[i], ep_len[i])
            ep_ret[i], ep_len[i] = 0.0, 0

    def objective(self, value: float) -> None:
        self.history.objective.append(float(value))
        self.history.objective_steps.append(self.history.env_steps)

    def done(self) -> bool:
        h, cfg = self.history, self.config
        if getattr(cfg, "target_return", None) is not None and h.solved_step is not None:
            return True
        if h.diverged or len(h.episode_returns) >= cfg.max_episodes or h.env_steps >= cfg.max_steps:
            return True
        if cfg.max_seconds is not None and self.elapsed() >= cfg.max_seconds:
            raise TimeLimitReached(self.close(), cfg.max_seconds)
        return False

    def close(self) -> History:
        self.history.wall_time = self.elapsed()
        if self.bar is not None:
            self.bar.close()
        return self.history


@dataclass(frozen=True)
class RunConfig:
    """Ce que partagent les configurations des agents : l'environnement, la graine, γ et les bornes
    de la course (chaque agent ajoute ses propres hyper-paramètres, documentés champ par champ)."""

    env_id: str = "CartPole-v1"
    """Identifiant gymnasium de l'environnement."""
    seed: int = 0
    """Graine : réseaux, tirages des actions, premier ``reset`` des environnements."""
    gamma: float = 0.99
    """Facteur d'actualisation γ."""
    max_episodes: int = 1000
    """Borne sur le nombre d'épisodes terminés."""
    max_steps: int = 1_000_000
    """Borne sur le nombre de pas d'environnement."""
    max_seconds: float | None = None
    """Borne de durée (secondes), pour les bancs d'essai seulement : l'atteindre lève
    :class:`TimeLimitReached`. ``None`` : aucune (les pages bornent en pas ou en épisodes)."""
    progress: bool = True
    """Afficher une barre de progression tqdm."""

    def __post_init__(self):
        check_run_config(self)


@dataclass(frozen=True)
class PolicyGradientConfig(RunConfig):
    """Les hyper-paramètres communs aux agents à réseaux de politique et de valeur (REINFORCE,
    acteur-critique)."""

    discount_weighting: bool = True
    """Multiplier le terme du pas ``t`` par ``γ^t`` (le facteur ``I`` du livre)."""
    lr_policy: float = 1e-2
    """Pas d'apprentissage α^θ de la politique."""
    lr_value: float = 1e-2
    """Pas d'apprentissage α^w du critique (valeur de référence)."""
    optimizer: str = "adam"
    """``"adam"`` ou ``"sgd"`` (le pas de gradient du livre)."""
    hidden: int = 32
    """Largeur de la couche cachée des réseaux (ignorée sur un PDM tabulaire)."""
    theta_init: tuple[float, ...] | None = None
    """``θ`` initial de la politique softmax linéaire (PDM tabulaire) ; ``None`` : zéro."""
    target_return: float | None = None
    """Arrêter dès que la moyenne des ``solved_window`` derniers retours atteint cette valeur."""
    solved_window: int = 100
    """Nombre d'épisodes de la moyenne glissante qui définit « résolu »."""

    def __post_init__(self):
        super().__post_init__()
        from profond.utils import check_positive

        check_positive("lr_policy", self.lr_policy, strict=True)
        check_positive("lr_value", self.lr_value, strict=True)


def check_run_config(cfg) -> None:
    """Vérifie les champs communs des configurations d'entraînement (messages en français)."""
    from profond.utils import check_positive, check_positive_int

    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int):
        raise TypeError(f"`seed` doit être un entier, reçu {type(cfg.seed).__name__}.")
    check_positive_int("max_episodes", cfg.max_episodes)
    check_positive_int("max_steps", cfg.max_steps)
    if cfg.max_seconds is not None:
        check_positive("max_seconds", cfg.max_seconds, strict=True)
    g = check_positive("gamma", cfg.gamma)
    if g > 1.0:
        raise ValueError(f"`gamma` doit appartenir à [0, 1], reçu {g}.")
    if hasattr(cfg, "n_envs"):
        check_positive_int("n_envs", cfg.n_envs)
    if getattr(cfg, "target_return", None) is not None:
        check_positive_int("solved_window", cfg.solved_window)


def make_optimizer(name: str, groups: list[dict]):
    """``"adam"`` ou ``"sgd"`` sur des groupes de paramètres ``{"params": …, "lr": …}``."""
    import torch

    if name == "adam":
        return torch.optim.Adam(groups)
    if name == "sgd":
        return torch.optim.SGD(groups)
    raise ValueError(f"`optimizer` doit valoir \"adam\" ou \"sgd\", reçu {name!r}.")
