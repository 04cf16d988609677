"""Figures du chapitre « Normalisation par lots » et de son TP.

Chaque fonction ne fait que lire des résultats (:class:`profond.compare.Comparison`,
:class:`~profond.nn.runs.TrainingRun`, :class:`~profond.nn.probes.ProbeRun`...) et renvoie la
figure matplotlib (titres et axes en français, au plus deux panneaux par ligne).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from profond import fr
from profond.compare import Comparison, plot_grid
from profond.nn.probes import ProbeRun
from profond.nn.runs import LeNetRun, TrainingRun
from profond.nn.statistics import PopulationStats, ShiftResult

__all__ = [
    "plot_ioffe",
    "plot_lr_grids",
    "plot_variants",
    "plot_movement",
    "plot_batch_noise",
    "plot_population",
    "plot_shift",
    "plot_ics",
    "plot_landscape",
    "plot_lenet",
]

COLORS = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown"]


def _curves(ax, runs: Mapping[str, Sequence[TrainingRun]]):
    """Exactitude de validation au fil des pas : une courbe fine par graine, la moyenne en gras."""
    for (label, seeds), color in zip(runs.items(), COLORS):
        for run in seeds:
            ax.plot(run.steps, run.val_accuracy, color=color, lw=0.7, alpha=0.5)
        n = min(len(r.val_accuracy) for r in seeds)
        ax.plot(seeds[0].steps[:n], np.mean([r.val_accuracy[:n] for r in seeds], axis=0), color=color, lw=2,
                label=label)
    ax.set(xlabel="pas d'entraînement", ylabel="exactitude de validation", ylim=(0, 1))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")


def plot_ioffe(runs: Mapping[str, Sequence[TrainingRun]]):
    """En haut à gauche, l'exactitude de validation au fil des pas (une courbe par graine) ; puis,
    pour chaque réseau, les 15e, 50e et 85e centiles de l'entrée d'un neurone de la dernière
    couche cachée, pour la première graine (Ioffe et Szegedy, figure 1). Deux panneaux par ligne."""
    n = 1 + len(runs)
    rows = (n + 1) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(8, 3.2 * rows), dpi=90, squeeze=False)
    axes = axes.ravel()
    _curves(axes[0], runs)
    axes[0].set_title("Exactitude")
    first = {label: seeds[0] for label, seeds in runs.items()}
    lo = min(min(p) for run in first.values() for p in run.percentiles)
    hi = max(max(p) for run in first.values() for p in run.percentiles)
    for ax, (label, run), color in zip(axes[1:], first.items(), COLORS):
        q = np.asarray(run.percentiles)
        ax.fill_between(run.steps, q[:, 0], q[:, 2], color=color, alpha=0.25, label="15e – 85e centile")
        ax.plot(run.steps, q[:, 1], color=color, label="médiane")
        ax.set(xlabel="pas d'entraînement", ylabel="entrée de la sigmoïde", ylim=(lo - 0.2, hi + 0.2),
               title=f"Un neurone, {label}")
        ax.legend(loc="lower right", fontsize=8)
    for ax in axes[n:]:
        ax.remove()
    fig.tight_layout()
    return fig


def plot_lr_grids(comparisons: Mapping[str, Comparison]):
    """Pour chaque comparaison (un panneau, deux par ligne), l'exactitude finale en fonction du
    taux d'apprentissage α : moyenne, bande min–max sur les graines, étoile au taux retenu."""
    n = len(comparisons)
    rows = (n + 1) // 2
    fig, axes = plt.subplots(rows, min(n, 2), figsize=(8, 3.4 * rows), dpi=90, squeeze=False)
    axes = axes.ravel()
    for ax, (title, cmp) in zip(axes, comparisons.items()):
        plot_grid(cmp, "lr", ax=ax, xlabel="taux d'apprentissage α", ylabel="exactitude de validation finale")
        ax.set(ylim=(0, 1), title=title)
    for ax in axes[n:]:
        ax.remove()
    fig.tight_layout()
    return fig


def plot_variants(cmp: Comparison, title: str):
    """Exactitudes finales d'entraînement et de validation de chaque bras (barre = moyenne, point =
    graine), et exactitude de validation au fil des pas (une courbe fine par graine)."""
    runs = {arm: cmp.best_results(arm) for arm in cmp.arms}
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), dpi=90)
    x = np.arange(len(runs))
    for offset, what, color in ((-0.2, "entraînement", "tab:gray"), (0.2, "validation", "tab:blue")):
        values = [[r.train_accuracy if what == "entraînement" else r.final_accuracy for r in seeds]
                  for seeds in runs.values()]
        axes[0].bar(x + offset, [np.mean(v) for v in values], 0.4, color=color, alpha=0.7, label=what)
        for xi, v in zip(x, values):
            axes[0].plot([xi + offset] * len(v), v, "k.", ms=4)
    lows = [min(r.final_accuracy for r in seeds) for seeds in runs.values()]
    axes[0].set_xticks(x, list(runs), fontsize=8, rotation=20)
    axes[0].set(ylabel="exactitude finale", ylim=(max(0.0, min(lows) - 0.1), 1.005), title=title)
    axes[0].legend(fontsize=8, loc="lower right")
    _curves(axes[1], runs)
    axes[1].set_title("Au fil de l'entraînement")
    fig.tight_layout()
    return fig


def plot_movement(cmp: Comparison):
    """À gauche, de combien la distribution de l'entrée de la dernière non-linéarité bouge d'un pas
    à l'autre (|Δμ| et |Δσ| moyens par neurone ; un point par graine) ; à droite, l'exactitude de
    validation au fil des pas."""
    runs = {arm: cmp.best_results(arm) for arm in cmp.arms}
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), dpi=90)
    x = np.arange(len(runs))
    for offset, attr, label, color in ((-0.2, "move_mean", "|Δμ| par pas", "tab:purple"),
                                       (0.2, "move_std", "|Δσ| par pas", "tab:orange")):
        values = [[float(np.mean(getattr(r, attr))) for r in seeds] for seeds in runs.values()]
        axes[0].bar(x + offset, [np.mean(v) for v in values], 0.4, color=color, alpha=0.7, label=label)
        for xi, v in zip(x, values):
            axes[0].plot([xi + offset] * len(v), v, "k.", ms=4)
    axes[0].set_xticks(x, list(runs), fontsize=8, rotation=20)
    axes[0].set(ylabel="déplacement moyen par pas", title="La distribution bouge-t-elle ?")
    axes[0].legend(fontsize=8)
    _curves(axes[1], runs)
    axes[1].set_title("Exactitude")
    fig.tight_layout()
    return fig


def plot_batch_noise(noise: Mapping[int, float]):
    """Écart type des logits d'un exemple fixe selon le lot qui l'accompagne, en fonction de la
    taille du lot (échelles logarithmiques), avec la pente en 1/√B pour repère."""
    sizes = np.array(sorted(noise))
    values = np.array([noise[b] for b in sizes])
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=90)
    ax.loglog(sizes, values, "o-", label="mesuré")
    ax.loglog(sizes, values[0] * np.sqrt(sizes[0] / sizes), "k--", lw=1, label=r"$\propto 1/\sqrt{B}$")
    ax.set(xlabel="taille du lot B", ylabel="écart type des logits", title="Le bruit de la BN selon le lot")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_population(stats: PopulationStats):
    """En haut, μ_pop et σ²_pop mémorisés contre les statistiques exactes ; en bas, l'exactitude
    quand on normalise avec des lots de validation de différentes tailles."""
    fig = plt.figure(figsize=(8, 6.4), dpi=90)
    axes = [fig.add_subplot(2, 2, 1), fig.add_subplot(2, 2, 2), fig.add_subplot(2, 1, 2)]
    for ax, (name, running, exact) in zip(axes[:2], (("moyenne", stats.running_mean, stats.exact_mean),
                                                      ("variance", stats.running_var, stats.exact_var))):
        ax.scatter(exact, running, s=10)
        lims = [min(min(exact), min(running)), max(max(exact), max(running))]
        ax.plot(lims, lims, "k--", lw=1, label="y = x")
        ax.set(xlabel=f"{name} exacte", ylabel=f"{name} mémorisée", title=f"Première BN : {name}")
        ax.legend(fontsize=8)
    sizes = sorted(stats.batch_mode_accuracy)
    axes[2].bar([str(b) for b in sizes], [stats.batch_mode_accuracy[b] for b in sizes], color="tab:orange",
                label="statistiques du lot de test")
    axes[2].axhline(stats.eval_accuracy, color="tab:blue", label="statistiques de population (.eval())")
    axes[2].set(xlabel="taille du lot de test", ylabel="exactitude de validation", ylim=(0, 1),
                title="Évaluer avec le lot ou la population")
    axes[2].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_shift(result: ShiftResult):
    """Exactitude en fonction du décalage δ ajouté à toutes les entrées de test."""
    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=90)
    for (label, acc), color in zip(result.accuracy.items(), COLORS):
        ax.plot(result.shifts, acc, marker="o", color=color, label=label, ls="--" if "recalcul" in label else "-")
    ax.set(xlabel="décalage δ des entrées de test (en écarts types)", ylabel="exactitude", ylim=(0, 1),
           title="Données de test décalées")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_ics(runs: Mapping[str, Sequence[ProbeRun]], layer: int):
    """‖G − G'‖ / ‖G‖ et cos(G, G') au fil de l'entraînement, une courbe par graine."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), dpi=90)
    for (label, seeds), color in zip(runs.items(), COLORS):
        for i, run in enumerate(seeds):
            kw = {"label": label} if i == 0 else {}
            axes[0].plot(run.steps, run.ics_rel, color=color, lw=1, alpha=0.7, **kw)
            axes[1].plot(run.steps, run.ics_cos, color=color, lw=1, alpha=0.7, **kw)
    axes[0].set(xlabel="pas d'entraînement", ylabel="‖G − G′‖ / ‖G‖", title=f"Couche linéaire n° {layer + 1}")
    axes[1].set(xlabel="pas d'entraînement", ylabel="cos(G, G′)", title="Cosinus des gradients")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_landscape(runs: Mapping[str, Sequence[ProbeRun]]):
    """Paysage le long du gradient **en fonction de la perte atteinte** L(w) (on compare donc les
    réseaux à perte égale, en lisant à la verticale) : écart de perte max − min sur les pas η, et
    « β-régularité » effective. Un point par mesure, une couleur par réseau, toutes graines."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), dpi=90)
    for (label, seeds), color in zip(runs.items(), COLORS):
        for i, run in enumerate(seeds):
            kw = {"label": label} if i == 0 else {}
            axes[0].plot(run.loss, run.loss_range(), ".", color=color, alpha=0.6, **kw)
            axes[1].plot(run.loss, run.beta_smoothness(), ".", color=color, alpha=0.6, **kw)
    etas = next(iter(runs.values()))[0].etas
    axes[0].set(xlabel="perte L(w)", ylabel="max − min de L(w − ηg)", xscale="log", yscale="log",
                title=f"η de {fr.number(min(etas), 2)} à {fr.number(max(etas), 2)}")
    axes[1].set(xlabel="perte L(w)", ylabel="β-régularité effective", xscale="log", yscale="log",
                title="Variation du gradient / distance")
    for ax in axes:
        ax.invert_xaxis()
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_lenet(runs: Mapping[str, LeNetRun]):
    """Exactitude de validation par époque des deux LeNet, puis γ − 1 et β appris par la première
    BN (barres : la première implémentation ; croix : la seconde)."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), dpi=90)
    for (label, run), color, style in zip(runs.items(), COLORS, ("-", "--")):
        axes[0].plot(run.history.epoch, run.history.metrics["val_accuracy"], style, color=color, label=label)
    axes[0].set(xlabel="époque", ylabel="exactitude de validation", title="LeNet 8×8 avec BN")
    axes[0].legend(fontsize=8)
    (first, run), others = next(iter(runs.items())), list(runs.items())[1:]
    channels = np.arange(len(run.gamma))
    axes[1].bar(channels - 0.2, np.asarray(run.gamma) - 1, 0.4, color="tab:blue", label=f"γ − 1 ({first})")
    axes[1].bar(channels + 0.2, run.beta, 0.4, color="tab:orange", label=f"β ({first})")
    for label, other in others:
        axes[1].plot(channels - 0.2, np.asarray(other.gamma) - 1, "kx", label=f"{label}")
        axes[1].plot(channels + 0.2, other.beta, "kx")
    axes[1].axhline(0.0, color="k", lw=0.8, ls=":")
    axes[1].set(xlabel="canal", ylabel="valeur apprise", title="Première BN : γ − 1 et β")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig
