"""Figures du chapitre « Normalisation par lots » et de son TP.

Chaque fonction ne fait que lire le résultat d'une expérience de :mod:`profond.nn.experiments` et
renvoie la figure matplotlib (titres et axes en français).
"""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np

from profond.nn.experiments import (
    ICSResult,
    LandscapeResult,
    LeNetRun,
    LRSweep,
    PlacementResult,
    PopulationStats,
    ShiftResult,
    TrainingRun,
)

__all__ = [
    "plot_ioffe",
    "plot_lr_sweep",
    "plot_variants",
    "plot_batch_noise",
    "plot_population",
    "plot_shift",
    "plot_ics",
    "plot_landscape",
    "plot_lenet",
]

COLORS = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown"]


def plot_ioffe(runs: Mapping[str, TrainingRun]):
    """Précision de validation au fil des pas, puis, pour chaque réseau, les 15e, 50e et 85e
    centiles de l'entrée d'un neurone de la dernière couche cachée (Ioffe et Szegedy, figure 1)."""
    fig, axes = plt.subplots(1, 1 + len(runs), figsize=(4.2 * (1 + len(runs)), 3.4), dpi=90)
    for (label, run), color in zip(runs.items(), COLORS):
        axes[0].plot(run.steps, run.val_accuracy, color=color, label=label)
    axes[0].set(xlabel="pas d'entraînement", ylabel="précision de validation", ylim=(0, 1), title="Précision")
    axes[0].legend()
    lo = min(min(p) for run in runs.values() for p in run.percentiles)
    hi = max(max(p) for run in runs.values() for p in run.percentiles)
    for ax, (label, run), color in zip(axes[1:], runs.items(), COLORS):
        q = np.asarray(run.percentiles)
        ax.fill_between(run.steps, q[:, 0], q[:, 2], color=color, alpha=0.25, label="15e – 85e centile")
        ax.plot(run.steps, q[:, 1], color=color, label="médiane")
        ax.set(xlabel="pas d'entraînement", ylabel="entrée de la sigmoïde", ylim=(lo - 0.2, hi + 0.2),
               title=f"Un neurone, {label}")
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_lr_sweep(sweep: LRSweep):
    """À gauche, la précision finale de chaque réseau à ×1, ×5, ×30 le meilleur pas sans BN ; à
    droite, la précision au fil des pas pour chaque réseau et chaque multiple."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), dpi=90)
    x = np.arange(len(sweep.multipliers))
    width = 0.8 / len(sweep.labels)
    for i, (label, color) in enumerate(zip(sweep.labels, COLORS)):
        axes[0].bar(x + (i - (len(sweep.labels) - 1) / 2) * width, sweep.accuracy[label], width, color=color, label=label)
    axes[0].set_xticks(x, [f"×{m:g}\n(pas {m * sweep.best_lr:g})" for m in sweep.multipliers])
    axes[0].set(ylabel="précision de validation finale", ylim=(0, 1),
                title=f"Même budget, pas multiplié (×1 = {sweep.best_lr:g})")
    axes[0].legend(fontsize=8, loc="upper right")
    styles = ["-", "--", ":"]
    for label, color in zip(sweep.labels, COLORS):
        for curve, mult, style in zip(sweep.curves[label], sweep.multipliers, styles):
            axes[1].plot(sweep.steps, curve, style, color=color, label=f"{label}, ×{mult:g}")
    axes[1].set(xlabel="pas d'entraînement", ylabel="précision de validation", ylim=(0, 1), title="Au fil de l'entraînement")
    axes[1].legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    return fig


def plot_variants(result: PlacementResult, title: str):
    """Précisions finales d'entraînement et de validation de chaque variante (moyenne sur les
    graines, et chaque graine en point), et précision de validation au fil des pas."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), dpi=90)
    x = np.arange(len(result.labels))
    for offset, (what, values, color) in zip((-0.2, 0.2), (("entraînement", result.train_accuracy, "tab:gray"),
                                                          ("validation", result.val_accuracy, "tab:blue"))):
        means = [np.mean(values[label]) for label in result.labels]
        axes[0].bar(x + offset, means, 0.4, color=color, alpha=0.7, label=what)
        for xi, label in zip(x, result.labels):
            axes[0].plot([xi + offset] * len(values[label]), values[label], "k.", ms=4)
    lows = [min(result.val_accuracy[label]) for label in result.labels]
    axes[0].set_xticks(x, result.labels, fontsize=8)
    axes[0].set(ylabel="précision finale", ylim=(max(0.0, min(lows) - 0.1), 1.005), title=title)
    axes[0].legend(fontsize=8, loc="lower right")
    for label, color in zip(result.labels, COLORS):
        curves = np.asarray(result.curves[label])
        axes[1].plot(result.steps[label], curves.mean(0), color=color, label=label)
    axes[1].set(xlabel="pas d'entraînement", ylabel="précision de validation (moyenne)", ylim=(0, 1),
                title="Au fil de l'entraînement")
    axes[1].legend(fontsize=8, loc="lower right")
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
    """μ_pop et σ²_pop mémorisés contre les statistiques exactes, puis la précision quand on
    normalise avec des lots de validation de différentes tailles."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=90)
    for ax, (name, running, exact) in zip(axes[:2], (("moyenne", stats.running_mean, stats.exact_mean),
                                                      ("variance", stats.running_var, stats.exact_var))):
        ax.scatter(exact, running, s=10)
        lims = [min(min(exact), min(running)), max(max(exact), max(running))]
        ax.plot(lims, lims, "k--", lw=1, label="y = x")
        ax.set(xlabel=f"{name} exacte (tout l'entraînement)", ylabel=f"{name} mémorisée (moyenne mobile)",
               title=f"Première BN : {name} de population")
        ax.legend(fontsize=8)
    sizes = sorted(stats.batch_mode_accuracy)
    axes[2].bar([str(b) for b in sizes], [stats.batch_mode_accuracy[b] for b in sizes], color="tab:orange",
                label="statistiques du lot de test")
    axes[2].axhline(stats.eval_accuracy, color="tab:blue", label="statistiques de population (.eval())")
    axes[2].set(xlabel="taille du lot de test", ylabel="précision de validation", ylim=(0, 1),
                title="Évaluer avec le lot ou la population")
    axes[2].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_shift(result: ShiftResult):
    """Précision en fonction du décalage δ ajouté à toutes les entrées de test."""
    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=90)
    for (label, acc), color in zip(result.accuracy.items(), COLORS):
        ax.plot(result.shifts, acc, marker="o", color=color, label=label, ls="--" if "recalcul" in label else "-")
    ax.set(xlabel="décalage δ des entrées de test (en écarts types)", ylabel="précision", ylim=(0, 1),
           title="Données de test décalées")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_ics(result: ICSResult):
    """‖G − G'‖ et cos(G, G') au fil de l'entraînement, avec et sans BN."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), dpi=90)
    for (label, l2), color in zip(result.l2.items(), COLORS):
        axes[0].plot(result.steps, l2, color=color, label=label)
        axes[1].plot(result.steps, result.cosine[label], color=color, label=label)
    axes[0].set(xlabel="pas d'entraînement", ylabel="‖G − G′‖", title=f"Couche linéaire n° {result.layer + 1} : écart des gradients")
    axes[1].set(xlabel="pas d'entraînement", ylabel="cos(G, G′)", ylim=(-0.05, 1.05), title="Cosinus des gradients")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_landscape(result: LandscapeResult):
    """Perte le long de la direction du gradient (bande min–max sur les pas η) et plus grande
    variation du gradient, au fil de l'entraînement."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), dpi=90)
    for label, color in zip(result.losses, COLORS):
        losses = np.asarray(result.losses[label])
        axes[0].fill_between(result.steps, losses.min(1), losses.max(1), color=color, alpha=0.35, label=label)
        axes[1].plot(result.steps, result.max_grad_change(label), color=color, label=label)
        axes[2].plot(result.steps, result.beta_smoothness(label), color=color, label=label)
    axes[0].set(xlabel="pas d'entraînement", ylabel="perte", yscale="log",
                title=f"Perte le long du gradient (η de {min(result.etas):g} à {max(result.etas):g})")
    axes[1].set(xlabel="pas d'entraînement", ylabel=r"max$_\eta$ ‖∇L(w − ηg) − ∇L(w)‖", title="Variation du gradient")
    axes[2].set(xlabel="pas d'entraînement", ylabel="variation / distance", title="« β-régularité » effective")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_lenet(runs: Mapping[str, LeNetRun]):
    """Précision de validation par époque des deux LeNet, puis γ et β appris par la première BN."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), dpi=90)
    for (label, run), color, style in zip(runs.items(), COLORS, ("-", "--")):
        axes[0].plot(run.history.epoch, run.history.metrics["val_accuracy"], style, color=color, label=label)
    axes[0].set(xlabel="époque", ylabel="précision de validation", title="LeNet 8×8 avec BN")
    axes[0].legend(fontsize=8)
    width = 0.8 / len(runs)
    for i, ((label, run), color) in enumerate(zip(runs.items(), COLORS)):
        channels = np.arange(len(run.gamma))
        axes[1].bar(channels + (i - (len(runs) - 1) / 2) * width, run.gamma, width, color=color, label=label)
        axes[2].bar(channels + (i - (len(runs) - 1) / 2) * width, run.beta, width, color=color, label=label)
    axes[1].axhline(1.0, color="k", lw=0.8, ls=":")
    axes[1].set(xlabel="canal", ylabel="γ", title="Première BN : γ appris (initialisé à 1)")
    axes[2].axhline(0.0, color="k", lw=0.8, ls=":")
    axes[2].set(xlabel="canal", ylabel="β", title="Première BN : β appris (initialisé à 0)")
    for ax in axes[1:]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
