"""Figures et animations du chapitre « Optimisation ». Ces fonctions ne calculent rien d'autre que
les courbes de niveau : elles lisent des :class:`~profond.optim.trajectory.Trajectory`."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import animation

from profond.animation import animation_html  # noqa: F401  (réexporté pour le chapitre)
from profond.plots import history_values
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


def plot_trajectories(trajectories: Sequence[Trajectory], objective: Objective, titles=None, log_levels=False,
                      figsize=None, xlim=None, ylim=None):
    """Les trajectoires finales, un panneau chacune, sur les lignes de niveau du coût."""
    if xlim is None or ylim is None:
        xlim, ylim = plot_limits(trajectories, objective)
    xs, ys, zs = loss_grid(objective, xlim, ylim)
    n = len(trajectories)
    fig, axes = plt.subplots(1, n, figsize=figsize or (4.2 * n, 4), squeeze=False)
    for ax, traj, color, title in zip(axes[0], trajectories, COLORS, titles or [t.name for t in trajectories]):
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
    """Anime côte à côte des trajectoires sur les lignes de niveau du coût.

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
    n = len(trajectories)
    fig, axes = plt.subplots(1, n, figsize=figsize or (3.6 * n, 3.7), dpi=dpi, squeeze=False)
    axes = axes[0]
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


def plot_mlp_slice(ws: np.ndarray, losses: np.ndarray, ax=None):
    """La perte du MLP en fonction d'un seul poids, minima locaux marqués."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(ws, losses)
    inner = (losses[1:-1] < losses[:-2]) & (losses[1:-1] < losses[2:])
    ax.plot(ws[1:-1][inner], losses[1:-1][inner], "rv", label="minimum local")
    ax.set_xlabel("valeur du poids $w$")
    ax.set_ylabel(r"$\mathcal{L}(w)$")
    ax.grid(True, alpha=0.4)
    ax.legend()
    return ax


def plot_activation_derivatives(x: torch.Tensor, derivatives: dict[str, torch.Tensor]):
    """Un panneau par fonction d'activation : sa dérivée sur ``x``."""
    fig, axes = plt.subplots(1, len(derivatives), figsize=(4 * len(derivatives), 3), sharey=True)
    for ax, (name, d) in zip(np.atleast_1d(axes), derivatives.items()):
        ax.plot(x.numpy(), d.numpy())
        ax.set_title(f"dérivée de {name}")
        ax.set_xlabel("$x$")
        ax.set_ylim(-0.1, 1.1)
        ax.grid(True, alpha=0.4)
    fig.tight_layout()
    return fig


def plot_band(ax, histories, key: str, label: str, color=None):
    """Moyenne ± écart-type sur les graines d'une quantité par époque (``train_loss``, ``val_loss``
    ou une métrique comme ``val_accuracy``)."""
    values = np.array([history_values(h, key) for h in histories])
    epochs = np.asarray(histories[0].epoch)
    mean, std = values.mean(axis=0), values.std(axis=0)
    ax.plot(epochs, mean, label=label, color=color)
    ax.fill_between(epochs, mean - std, mean + std, alpha=0.25, color=color)
    return ax


def plot_seed_bands(groups: dict, keys=("train_loss", "val_accuracy"), ylabels=None, log_first=True):
    """Courbes par époque de plusieurs groupes d'entraînements (une liste d'historiques par
    étiquette, une par graine) : moyenne et bande ± écart-type sur les graines. Pour un seul
    historique par étiquette, voir :func:`profond.plots.plot_histories`."""
    ylabels = ylabels or {"train_loss": "perte d'entraînement", "val_loss": "perte de validation",
                          "val_accuracy": "précision en validation"}
    fig, axes = plt.subplots(1, len(keys), figsize=(6 * len(keys), 3.6))
    for ax, key in zip(np.atleast_1d(axes), keys):
        for (label, hs), color in zip(groups.items(), COLORS):
            plot_band(ax, hs if isinstance(hs, list) else [hs], key, label, color)
        ax.set_xlabel("époque")
        ax.set_ylabel(ylabels.get(key, key))
        ax.grid(True, alpha=0.4)
        if log_first and key.endswith("loss"):
            ax.set_yscale("log")
    np.atleast_1d(axes)[0].legend()
    fig.tight_layout()
    return fig


def plot_lr_sweep(result, ax=None):
    """Précision de validation finale en fonction du taux d'apprentissage (moyenne et extrêmes)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    lrs = np.asarray(result.settings, dtype=float)
    acc = result.final_val_accuracy
    ax.semilogx(lrs, acc.mean(axis=1), "o-", label="moyenne sur les graines")
    ax.fill_between(lrs, acc.min(axis=1), acc.max(axis=1), alpha=0.25, label="min – max")
    ax.set_xlabel("taux d'apprentissage $\\rho$")
    ax.set_ylabel("précision en validation")
    ax.grid(True, alpha=0.4)
    ax.legend()
    return ax


def plot_gradient_noise(noise: dict, ax=None):
    """E‖g_B − ∇L‖² en fonction de la taille de lot b (log-log), avec la pente −1 de référence."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    bs = np.array(sorted(noise))
    vals = np.array([noise[b] for b in bs])
    ax.loglog(bs, vals, "o-", label="mesuré")
    ax.loglog(bs, vals[0] * bs[0] / bs, "k--", label="pente $-1$ (théorie)")
    ax.set_xlabel("taille du minibatch $b$")
    ax.set_ylabel(r"$\mathbb{E}\,\|g_B - \nabla L\|^2$")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return ax
