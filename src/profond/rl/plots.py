"""Figures du chapitre « Gradient de la politique » : elles ne lisent que des ``History`` ou des
tableaux déjà calculés, et n'entraînent rien."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation

from profond.rl.history import History


def _band(ax, x, curves, label, color):
    curves = np.asarray(curves, dtype=float)
    ax.plot(x, curves.mean(axis=0), color=color, label=label)
    ax.fill_between(x, curves.min(axis=0), curves.max(axis=0), color=color, alpha=0.2)


def moving_average(values, window: int) -> np.ndarray:
    """Moyenne glissante sur les ``window`` dernières valeurs (fenêtre tronquée au début).

    >>> moving_average([1.0, 2.0, 3.0], 2)
    array([1. , 1.5, 2.5])
    """
    v = np.asarray(values, dtype=float)
    c = np.concatenate([[0.0], np.cumsum(v)])
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def plot_objective_curves(runs: dict[str, list[History]], ax=None, optimum: float | None = None,
                          optimum_label: str = "optimum J*", x: str = "updates",
                          references: dict[str, float] | None = None):
    """``J(θ)`` exact au fil de l'entraînement : moyenne (trait) et min–max sur les graines (bande).

    ``x="updates"`` : une abscisse par évaluation (un épisode pour REINFORCE à un environnement) ;
    ``x="steps"`` : pas d'environnement. ``references`` : droites horizontales ``{légende: valeur}``.
    """
    if x not in ("updates", "steps"):
        raise ValueError(f"`x` doit valoir \"updates\" ou \"steps\", reçu {x!r}.")
    ax = ax or plt.gca()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (label, hists), color in zip(runs.items(), colors):
        n = min(len(h.objective) for h in hists)
        xs = np.arange(n) if x == "updates" else np.asarray(hists[0].objective_steps[:n])
        _band(ax, xs, [h.objective[:n] for h in hists], label, color)
    for (label, value), ls in zip((references or {}).items(), ["-.", ":", "-"]):
        ax.axhline(value, color="tab:red", ls=ls, lw=1.2, label=label)
    if optimum is not None:
        ax.axhline(optimum, color="k", ls="--", lw=1, label=optimum_label)
    ax.set_xlabel("épisode" if x == "updates" else "pas d'environnement")
    ax.set_ylabel("J(θ) exact")
    ax.legend()
    return ax


def plot_return_curves(runs: dict[str, list[History]], ax=None, window: int = 100, x: str = "steps",
                       n_points: int = 200, target: float | None = None):
    """Retour moyen des ``window`` derniers épisodes en fonction des pas (``x="steps"``) ou du temps
    (``x="seconds"``) ; moyenne et min–max sur les graines. La grille commence quand toutes les
    courses ont fini un épisode ; après la fin d'une course, sa dernière valeur est prolongée."""
    if x not in ("steps", "seconds"):
        raise ValueError(f"`x` doit valoir \"steps\" ou \"seconds\", reçu {x!r}.")
    ax = ax or plt.gca()
    for (label, hists), color in zip(runs.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        xs = [np.asarray(h.episode_steps if x == "steps" else h.episode_times, dtype=float) for h in hists]
        grid = np.linspace(max(v[0] for v in xs), max(v[-1] for v in xs), n_points)
        curves = [np.interp(grid, xv, moving_average(h.episode_returns, window)) for xv, h in zip(xs, hists)]
        _band(ax, grid, curves, label, color)
    if target is not None:
        ax.axhline(target, color="k", ls="--", lw=1, label=f"seuil « résolu » ({target:g})")
    ax.set_xlabel("pas d'environnement" if x == "steps" else "secondes")
    ax.set_ylabel(f"retour moyen ({window} derniers épisodes)")
    ax.legend()
    return ax


def plot_estimator_errors(errors: dict[str, np.ndarray], sizes, ax=None):
    """Erreur ``‖ĝ_n − ∇J‖`` en fonction du nombre d'épisodes ``n`` (échelles log) : moyenne et
    min–max sur les répétitions, avec une pente ``1/√n`` pour repère."""
    ax = ax or plt.gca()
    sizes = np.asarray(sizes, dtype=float)
    for (label, err), color in zip(errors.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        _band(ax, sizes, err, label, color)
    first = np.mean([np.mean(e[:, 0]) for e in errors.values()])
    ax.plot(sizes, first * np.sqrt(sizes[0] / sizes), "k:", lw=1, label="pente 1/√n")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("nombre d'épisodes n")
    ax.set_ylabel("erreur ‖moyenne des ĝ − ∇J(θ)‖")
    ax.legend()
    return ax


def frames_animation(frames: np.ndarray, steps, figsize=(4.5, 3.0), dpi: int = 72, interval: int = 80):
    """Animation matplotlib des images ``frames`` (rendues par l'environnement), titrées par le
    numéro de pas ; à passer à :func:`profond.animation.animation_html`."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) != len(steps):
        raise ValueError("`frames` doit être de forme (k, H, W, 3) avec autant d'images que de `steps`.")
    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    fig.subplots_adjust(0, 0, 1, 0.9)
    ax.axis("off")
    image = ax.imshow(frames[0])
    title = ax.set_title(f"pas {steps[0]}", fontsize=9)

    def frame(i):
        image.set_data(frames[i])
        title.set_text(f"pas {steps[i]}")
        return image, title

    return animation.FuncAnimation(fig, frame, frames=len(frames), interval=interval)
