"""Comparaisons loyales : bras × graines × grille d'hyper-paramètres (page « Comment utiliser ce
cours », section `sec-comparaisons-loyales`).

Règle du cours : une page ne dit « A fait mieux que B » que si une cellule l'affirme par
:func:`assert_claim` sur au moins trois graines, chaque bras ayant reçu *ses propres* meilleurs
hyper-paramètres issus de la même recherche, et si la figure montre la dispersion sur les graines.

Le déroulé est toujours le même :

1. chaque bras (:class:`Arm`) est une fonction ``run(seed=..., **params)`` qui entraîne et renvoie
   un résultat (un historique, un nombre...) et une grille de réglages à essayer ;
2. :func:`compare` lance toutes les combinaisons, note chaque course par ``score(résultat)``
   (un score de *validation*), retient pour chaque bras le réglage de meilleur score moyen et,
   si ``report_seeds`` est donné, relance ce réglage sur des graines neuves pour le rapport ;
3. :func:`claim` et :func:`assert_claim` ne valident « A meilleur que B » que si les bandes des
   graines sont séparées (le pire de A bat le meilleur de B) ;
4. :func:`plot_grid` et :func:`plot_best_curves` tracent le balayage et les courbes retenues avec
   leur dispersion.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from profond.utils import progress_bar

__all__ = [
    "Arm", "Run", "Comparison", "Claim", "compare", "claim", "assert_claim", "assert_no_claim",
    "bands_separate", "grid_span", "plot_grid", "plot_best_curves",
]


@dataclass(frozen=True)
class Arm:
    """Un bras d'une comparaison.

    ``run(seed=..., **params)`` entraîne une fois et renvoie un résultat ; ``grid`` associe à
    chaque hyper-paramètre balayé la liste de ses valeurs (produit cartésien) ; ``fixed`` les
    hyper-paramètres communs, passés tels quels à chaque appel.
    """

    name: str
    run: Callable[..., Any]
    grid: Mapping[str, Sequence] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def settings(self) -> list[dict]:
        """Les réglages de la grille, chacun un dictionnaire (un seul, vide, sans grille)."""
        if not self.grid:
            return [{}]
        keys = list(self.grid)
        for k in keys:
            if len(self.grid[k]) == 0:
                raise ValueError(f"La grille de « {self.name} » est vide pour `{k}`.")
        return [dict(zip(keys, values)) for values in itertools.product(*(self.grid[k] for k in keys))]


@dataclass(frozen=True)
class Run:
    """Une course : un bras, un réglage, une graine, son score et son résultat."""

    arm: str
    params: dict
    seed: int
    score: float
    result: Any
    selection: bool = True
    """Vrai pour les courses de la recherche, faux pour les relances du rapport."""


def _finite_or_worst(x: float, higher_is_better: bool) -> float:
    x = float(x)
    if math.isfinite(x):
        return x
    return -math.inf if higher_is_better else math.inf


@dataclass
class Comparison:
    """Résultat rangé de :func:`compare` : toutes les courses, et le réglage retenu par bras."""

    arms: list[str]
    runs: list[Run]
    best: dict[str, dict]
    higher_is_better: bool
    score_name: str = "score"

    def _check_arm(self, arm: str) -> None:
        if arm not in self.arms:
            raise ValueError(f"Bras inconnu : {arm!r} (bras : {self.arms}).")

    def best_params(self, arm: str) -> dict:
        """Le réglage retenu pour ``arm`` (meilleur score moyen sur les graines de la recherche)."""
        self._check_arm(arm)
        return dict(self.best[arm])

    def best_runs(self, arm: str) -> list[Run]:
        """Les courses du réglage retenu : celles du rapport s'il y en a, sinon celles de la recherche."""
        self._check_arm(arm)
        runs = [r for r in self.runs if r.arm == arm and r.params == self.best[arm]]
        report = [r for r in runs if not r.selection]
        return report or runs

    def best_scores(self, arm: str) -> np.ndarray:
        """Les scores, un par graine, du réglage retenu pour ``arm``."""
        return np.array([r.score for r in self.best_runs(arm)], dtype=float)

    def best_results(self, arm: str) -> list:
        """Les résultats (historiques...), un par graine, du réglage retenu pour ``arm``."""
        return [r.result for r in self.best_runs(arm)]

    def grid_scores(self, arm: str) -> tuple[list[dict], np.ndarray]:
        """Réglages de la recherche et scores ``(n_réglages, n_graines)`` de ``arm``."""
        self._check_arm(arm)
        runs = [r for r in self.runs if r.arm == arm and r.selection]
        settings: list[dict] = []
        for r in runs:
            if r.params not in settings:
                settings.append(r.params)
        scores = np.array([[r.score for r in runs if r.params == p] for p in settings], dtype=float)
        return settings, scores

    def summary(self) -> list[dict]:
        """Une ligne par bras : réglage retenu, moyenne, écart-type, minimum et maximum sur les graines."""
        rows = []
        for arm in self.arms:
            s = self.best_scores(arm)
            rows.append({"bras": arm, "réglage": self.best_params(arm), "graines": len(s),
                         "moyenne": float(np.mean(s)), "écart-type": float(np.std(s)),
                         "min": float(np.min(s)), "max": float(np.max(s))})
        return rows


def grid_span(values: Sequence[float]) -> float:
    """Rapport entre la plus grande et la plus petite valeur d'une grille (positive)."""
    v = np.asarray(values, dtype=float)
    if v.size == 0 or np.any(v <= 0):
        raise ValueError("La grille doit contenir des valeurs strictement positives.")
    return float(v.max() / v.min())


def compare(
    arms: Sequence[Arm],
    seeds: Sequence[int],
    score: Callable[[Any], float],
    *,
    higher_is_better: bool = True,
    report_seeds: Sequence[int] | None = None,
    score_name: str = "score",
    progress: bool = True,
) -> Comparison:
    """Lance chaque bras sur chaque réglage de sa grille et chaque graine de ``seeds``.

    Le réglage retenu par bras est celui de meilleur score moyen (une course qui diverge, score
    NaN ou infini, compte comme la pire). Avec ``report_seeds``, le réglage retenu est relancé sur
    ces graines, et ce sont elles qu'on rapporte : le choix et la mesure ne partagent alors aucune
    graine.
    """
    if not arms:
        raise ValueError("Il faut au moins un bras à comparer.")
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise ValueError(f"Les noms des bras doivent être distincts, reçu {names}.")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("Il faut au moins une graine.")
    jobs = [(arm, p, s) for arm in arms for p in arm.settings() for s in seeds]
    runs: list[Run] = []
    for arm, params, seed in progress_bar(jobs, progress, desc="comparaison", leave=False):
        result = arm.run(seed=seed, **arm.fixed, **params)
        runs.append(Run(arm.name, params, seed, float(score(result)), result))
    best = {}
    for arm in arms:
        def mean_score(p, arm=arm):
            vals = [_finite_or_worst(r.score, higher_is_better) for r in runs if r.arm == arm.name and r.params == p]
            return float(np.mean(vals))
        settings = arm.settings()
        means = [mean_score(p) for p in settings]
        i = int(np.argmax(means) if higher_is_better else np.argmin(means))
        best[arm.name] = settings[i]
    if report_seeds is not None:
        report_seeds = [int(s) for s in report_seeds]
        if set(report_seeds) & set(seeds):
            raise ValueError("Les graines du rapport doivent être distinctes de celles de la recherche.")
        jobs = [(arm, s) for arm in arms for s in report_seeds]
        for arm, seed in progress_bar(jobs, progress, desc="rapport", leave=False):
            result = arm.run(seed=seed, **arm.fixed, **best[arm.name])
            runs.append(Run(arm.name, dict(best[arm.name]), seed, float(score(result)), result, selection=False))
    return Comparison(names, runs, best, higher_is_better, score_name)


def bands_separate(a: Sequence[float], b: Sequence[float], higher_is_better: bool = True) -> bool:
    """Vrai si toutes les graines de ``a`` font strictement mieux que toutes celles de ``b``."""
    a = np.array([_finite_or_worst(x, higher_is_better) for x in a])
    b = np.array([_finite_or_worst(x, higher_is_better) for x in b])
    if a.size == 0 or b.size == 0:
        return False
    if higher_is_better:
        return bool(np.min(a) > np.max(b))
    return bool(np.max(a) < np.min(b))


@dataclass(frozen=True)
class Claim:
    """Une affirmation « ``better`` fait mieux que ``worse`` » et ce qui la soutient."""

    better: str
    worse: str
    holds: bool
    better_scores: tuple
    worse_scores: tuple
    gap: float
    """Écart des moyennes, compté positivement dans le sens « meilleur »."""

    def __str__(self) -> str:
        verdict = "établi" if self.holds else "non établi"
        return (f"« {self.better} fait mieux que {self.worse} » : {verdict} "
                f"({len(self.better_scores)} et {len(self.worse_scores)} graines).")


MIN_SEEDS = 3


def claim(comparison: Comparison, better: str, worse: str) -> Claim:
    """Juge « ``better`` fait mieux que ``worse`` » : établi seulement si chaque bras a au moins
    trois graines et si les bandes des graines (min–max) sont séparées."""
    a, b = comparison.best_scores(better), comparison.best_scores(worse)
    sign = 1.0 if comparison.higher_is_better else -1.0
    holds = (len(a) >= MIN_SEEDS and len(b) >= MIN_SEEDS
             and bands_separate(a, b, comparison.higher_is_better))
    gap = sign * float(np.mean(a) - np.mean(b))
    return Claim(better, worse, holds, tuple(a.tolist()), tuple(b.tolist()), gap)


def assert_claim(comparison: Comparison, better: str, worse: str) -> Claim:
    """Comme :func:`claim`, mais lève ``AssertionError`` si l'affirmation n'est pas établie : une
    page qui l'écrit ne se construit plus si la mesure cesse de la soutenir."""
    c = claim(comparison, better, worse)
    if not c.holds:
        raise AssertionError(
            f"{c} Scores de {better} : {list(c.better_scores)} ; de {worse} : {list(c.worse_scores)}."
        )
    return c


def assert_no_claim(comparison: Comparison, a: str, b: str) -> None:
    """Lève ``AssertionError`` si l'un des deux bras bat l'autre : pour une page qui écrit
    « pas de différence mesurable entre A et B »."""
    for x, y in ((a, b), (b, a)):
        c = claim(comparison, x, y)
        if c.holds:
            raise AssertionError(f"{c} La page affirme pourtant qu'on ne les distingue pas.")


# --- Figures : elles ne font que lire une ``Comparison``. ---------------------------------------

def plot_grid(comparison: Comparison, param: str, ax=None, xlabel: str | None = None,
              ylabel: str | None = None, logx: bool = True):
    """Score de la recherche en fonction de l'hyper-paramètre ``param``, un trait par bras
    (moyenne sur les graines, bande min–max, étoile au réglage retenu). Renvoie l'axe."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.4))
    for i, arm in enumerate(comparison.arms):
        settings, scores = comparison.grid_scores(arm)
        if not settings or param not in settings[0]:
            raise ValueError(f"`{param}` n'est pas balayé pour « {arm} ».")
        best = comparison.best_params(arm)
        others = {k: v for k, v in best.items() if k != param}
        keep = [j for j, p in enumerate(settings) if all(p[k] == v for k, v in others.items())]
        x = np.array([settings[j][param] for j in keep], dtype=float)
        s = scores[keep]
        with np.errstate(invalid="ignore"):
            ax.plot(x, np.nanmean(s, axis=1), "o-", color=f"C{i}", label=arm, ms=3)
            ax.fill_between(x, np.nanmin(s, axis=1), np.nanmax(s, axis=1), color=f"C{i}", alpha=0.2)
        xb = best[param]
        ax.plot([xb], [np.nanmean(scores[settings.index(best)])], "*", color=f"C{i}", ms=12, mec="k")
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel or param)
    ax.set_ylabel(ylabel or comparison.score_name)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_best_curves(comparison: Comparison, curve: Callable[[Any], tuple], ax=None,
                     xlabel: str = "époque", ylabel: str | None = None, logy: bool = False):
    """Courbes d'apprentissage du réglage retenu de chaque bras : chaque graine en trait fin, la
    moyenne en trait épais. ``curve(résultat)`` renvoie ``(x, y)``. Renvoie l'axe."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.4))
    for i, arm in enumerate(comparison.arms):
        curves = [tuple(np.asarray(v, dtype=float) for v in curve(r)) for r in comparison.best_results(arm)]
        n = min(len(y) for _, y in curves)
        for x, y in curves:
            ax.plot(x[:n], y[:n], color=f"C{i}", lw=0.8, alpha=0.45)
        ys = np.array([y[:n] for _, y in curves])
        ax.plot(curves[0][0][:n], ys.mean(axis=0), color=f"C{i}", lw=2, label=arm)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax
