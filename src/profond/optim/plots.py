"""Figures et animations du chapitre « Optimisation ». Ces fonctions ne calculent rien d'autre que
les courbes de niveau : elles lisent des :class:`~profond.optim.trajectory.Trajectory`."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import animation

from profond import fr
from profond.animation import animation_html  # noqa: F401  (réexporté pour le chapitre)
from profond.optim.objectives import Objective
from profond.optim.trajectory import Trajectory

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown")


def plot_limits(trajectories: Sequence[Trajectory], objective: Objective, margin: float = 0.5):
    """Une fenêtre carrée qui contient toutes les trajectoires et le minimum."""
    pts = [t.params[np.isfinite(t.params).all(axis=1)] for t in trajectories]
    if objective.minimum is not None:
        pts.append(objective.minimum.numpy()[None, :])
    allp = np.concatenate(pts)
    lo, hi = allp.min(axis=0) - margin, allp.max(axis=0) + margin
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2
    return (centre[0] - half, centre[0] + half), (centre[1] - half, centre[1] + half)


def loss_grid(objective: Objective, xlim, ylim, n: int = 60):
    """La fonction de coût évaluée sur une grille n × n (pour les lignes de niveau)."""
    xs, ys = np.linspace(*xlim, n), np.linspace(*ylim, n)
    zs = np.array([[objective.loss(torch.tensor([a, b], dtype=torch.float64)).item() for a in xs] for b in ys])
    return xs, ys, zs


def _draw_background(ax, objective, xs, ys, zs, log_levels: bool):
    if log_levels:
        # Niveaux espacés géométriquement au-dessus du minimum de la grille (vallées étroites).
        gap = zs - zs.min()
        levels = zs.min() + np.geomspace(max(gap[gap > 0].min(), 1e-6), gap.max(), 14)
    else:
        # Niveaux aux quantiles des valeurs : des lignes partout, même si le coût varie beaucoup.
        levels = np.unique(np.quantile(zs, np.linspace(0.02, 0.98, 14)))
    ax.contour(xs, ys, zs, levels=levels, cmap="Greys", linewidths=0.8, alpha=0.7)
    if objective.minimum is not None:
        m = objective.minimum.numpy()
        ax.plot(m[0], m[1], "r+", markersize=14, markeredgewidth=2, label="optimum")
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    ax.set_aspect("equal")


def _panels(n: int, figsize, dpi=None, panel=(3.9, 3.7)):
    """Une grille d'au plus deux panneaux par ligne (lisible sur un téléphone) ; les cases en trop
    sont masquées. Renvoie la figure et la liste des ``n`` axes utilisés."""
    ncols = min(n, 2)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize or (panel[0] * ncols, panel[1] * nrows), dpi=dpi,
                             squeeze=False)
    axes = list(axes.ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def plot_trajectories(trajectories: Sequence[Trajectory], objective: Objective, titles=None, log_levels=False,
                      figsize=None, xlim=None, ylim=None):
    """Les trajectoires finales, un panneau chacune (deux par ligne), sur les lignes de niveau du coût."""
    if xlim is None or ylim is None:
        xlim, ylim = plot_limits(trajectories, objective)
    xs, ys, zs = loss_grid(objective, xlim, ylim)
    fig, axes = _panels(len(trajectories), figsize)
    for ax, traj, color, title in zip(axes, trajectories, COLORS, titles or [t.name for t in trajectories]):
        _draw_background(ax, objective, xs, ys, zs, log_levels)
        ax.plot(traj.params[:, 0], traj.params[:, 1], "-o", color=color, markersize=3, linewidth=1)
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        ax.set_title(title)
    fig.tight_layout()
    return fig


def animate_trajectories(
    trajectories: Sequence[Trajectory],
    objective: Objective,
    titles: Sequence[str] | None = None,
    n_frames: int = 30,
    log_levels: bool = False,
    figsize=None,
    dpi: int = 72,
    interval: int = 200,
    xlim=None,
    ylim=None,
) -> animation.FuncAnimation:
    """Anime côte à côte (deux panneaux par ligne) des trajectoires sur les lignes de niveau du coût.

    Le temps de l'animation est compté en **époques** (passages sur les données), pas en pas :
    à l'image k, chaque panneau montre les points atteints après ``epoch ≤ t_k``. La descente de
    gradient fait un pas par époque, la SGD plusieurs : on compare à coût de calcul égal.
    """
    if not trajectories:
        raise ValueError("`trajectories` est vide : il faut au moins une trajectoire à animer.")
    if n_frames < 2:
        raise ValueError(f"`n_frames` doit valoir au moins 2, reçu {n_frames}.")
    if xlim is None or ylim is None:
        xlim, ylim = plot_limits(trajectories, objective)
    xs, ys, zs = loss_grid(objective, xlim, ylim)
    fig, axes = _panels(len(trajectories), figsize, dpi=dpi)
    total = max(t.epoch[-1] for t in trajectories)
    times = np.linspace(0, total, n_frames)
    lines, texts = [], []
    for ax, traj, color, title in zip(axes, trajectories, COLORS, titles or [t.name for t in trajectories]):
        _draw_background(ax, objective, xs, ys, zs, log_levels)
        ax.plot(*traj.params[0], "ko", fillstyle="none")
        (line,) = ax.plot([], [], "-o", color=color, markersize=3, linewidth=1.2)
        lines.append(line)
        texts.append(ax.text(0.03, 0.95, "", transform=ax.transAxes, va="top",
                             bbox=dict(facecolor="white", alpha=0.8, edgecolor="none")))
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        ax.set_title(title, fontsize=10)
    fig.tight_layout()

    def draw(k):
        t = times[k]
        for line, text, traj in zip(lines, texts, trajectories):
            shown = traj.params[traj.epoch <= t + 1e-9]
            line.set_data(shown[:, 0], shown[:, 1])
            text.set_text(f"époque {int(np.floor(t + 1e-9))}\n{len(shown) - 1} pas")
        return lines + texts

    return animation.FuncAnimation(fig, draw, frames=n_frames, interval=interval, blit=False)


def plot_losses(trajectories: Sequence[Trajectory], objective: Objective | None = None, ax=None, by="epoch"):
    """Coût (moins le minimum s'il est connu) au fil des époques ou des pas, en échelle log."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    best = objective.loss(objective.minimum).item() if objective is not None and objective.minimum is not None else None
    for traj, color in zip(trajectories, COLORS):
        xs = traj.epoch if by == "epoch" else np.arange(len(traj.loss))
        ys = traj.loss - best if best is not None else traj.loss
        ax.semilogy(xs, np.maximum(ys, 1e-16), color=color, label=traj.name)
    ax.set_xlabel("époque" if by == "epoch" else "pas")
    ax.set_ylabel("$L(w) - L(w^*)$" if best is not None else "$L(w)$")
    ax.grid(True, which="major", alpha=0.4)
    ax.legend()
    return ax


def plot_mlp_slice(ws: np.ndarray, losses: np.ndarray, minima: Sequence[int], ax=None):
    """La perte du MLP en fonction d'un seul poids ; ``minima`` (indices, par exemple ceux de
    :func:`~profond.optim.objectives.slice_minima`) sont marqués."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    minima = np.asarray(minima, dtype=int)
    ax.plot(ws, losses)
    ax.plot(ws[minima], losses[minima], "rv", label="minimum de la tranche")
    ax.set_xlabel("valeur du poids $w$")
    ax.set_ylabel(r"$\mathcal{L}(w)$")
    ax.grid(True, alpha=0.4)
    ax.legend()
    return ax


def plot_activation_derivatives(x: torch.Tensor, derivatives: dict[str, torch.Tensor]):
    """Un panneau par fonction d'activation (deux par ligne) : sa dérivée sur ``x``."""
    fig, axes = _panels(len(derivatives), None, panel=(3.9, 3.0))
    for ax, (name, d) in zip(axes, derivatives.items()):
        ax.plot(x.numpy(), d.numpy())
        ax.set_title(f"dérivée de {name}")
        ax.set_xlabel("$x$")
        ax.set_ylim(-0.1, 1.1)
        ax.grid(True, alpha=0.4)
    fig.tight_layout()
    return fig


def plot_effective_rate(comparison, momenta: dict[str, float], ax=None, param: str = "lr"):
    """Score de la recherche en fonction du taux **effectif** α/(1 − μ) (équation
    ``optim-eq-taux-effectif``) : un trait par bras de ``momenta`` (nom du bras → μ, 0 pour la
    SGD simple), moyenne et bande min–max sur les graines. Ne fait que lire la comparaison."""
    from profond.optim.rules import effective_learning_rate

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.4))
    for i, (arm, mu) in enumerate(momenta.items()):
        settings, scores = comparison.grid_scores(arm)
        x = np.array([effective_learning_rate(p[param], mu) for p in settings])
        label = arm if mu == 0 else f"{arm} (μ = {fr.number(mu, 1)})"
        ax.plot(x, scores.mean(axis=1), "o-" if i == 0 else "s--", color=f"C{comparison.arms.index(arm)}",
                label=label, ms=4 if i == 0 else 6, mfc="none" if i else None)
        ax.fill_between(x, scores.min(axis=1), scores.max(axis=1), alpha=0.15,
                        color=f"C{comparison.arms.index(arm)}")
    ax.set_xscale("log")
    ax.set_xlabel(r"taux effectif $\alpha / (1 - \mu)$")
    ax.set_ylabel(comparison.score_name)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_gradient_noise(noise: dict, ax=None):
    """E‖g_B − ∇L‖² en fonction de la taille de lot b (log-log), avec la pente −1 de référence."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    bs = np.array(sorted(noise))
    vals = np.array([noise[b] for b in bs])
    ax.loglog(bs, vals, "o-", label="mesuré")
    ax.loglog(bs, vals[0] * bs[0] / bs, "k--", label="pente $-1$ (théorie)")
    ax.set_xlabel("taille de lot $b$")
    ax.set_ylabel(r"$\mathbb{E}\,\|g_B - \nabla L\|^2$")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax
