"""Figures qui lisent des historiques d'entraînement (:class:`profond.training.History`) ou des
résultats d'expériences ; elles ne calculent rien d'autre que ce qu'elles tracent."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from profond.training import History

_LABELS = {
    "train_loss": "perte d'entraînement",
    "val_loss": "perte de validation",
    "lr": "taux d'apprentissage",
    "val_accuracy": "exactitude (validation)",
}


def history_values(history: History, key: str) -> list[float]:
    """Les valeurs par époque de ``key`` : un champ de l'historique (``train_loss``, ``lr``...)
    ou une métrique (``val_accuracy``...)."""
    if key in ("train_loss", "val_loss", "lr", "batch_loss", "grad_norm"):
        return getattr(history, key)
    if key in history.metrics:
        return history.metrics[key]
    raise ValueError(f"Clé {key!r} absente de l'historique (métriques : {sorted(history.metrics)}).")


def plot_history(history: History, keys: Sequence[str] = ("train_loss", "val_loss"), ax=None, logy: bool = False):
    """Trace, pour un historique, les courbes ``keys`` en fonction de l'époque. Renvoie l'axe."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for key in keys:
        values = history_values(history, key)
        if values:
            ax.plot(history.epoch[: len(values)], values, label=_LABELS.get(key, key))
    ax.set_xlabel("époque")
    if logy:
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_histories(histories: Mapping[str, History], key: str = "val_loss", ax=None, logy: bool = False,
                   ylabel: str | None = None, linestyle: str = "-"):
    """Compare plusieurs historiques (un par nom) sur une même grandeur ``key``. Renvoie l'axe."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for i, (name, h) in enumerate(histories.items()):
        values = history_values(h, key)
        ax.plot(h.epoch[: len(values)], values, linestyle, color=f"C{i}", label=name)
    ax.set_xlabel("époque")
    ax.set_ylabel(ylabel or _LABELS.get(key, key))
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_train_val(histories: Mapping[str, History], logy: bool = True, figsize=(8, 3.4)):
    """Deux panneaux : pertes d'entraînement (tirets) et de validation (traits pleins) de chaque
    historique, puis l'exactitude de validation si elle a été mesurée. Renvoie la figure."""
    has_acc = all("val_accuracy" in h.metrics for h in histories.values())
    fig, axes = plt.subplots(1, 2 if has_acc else 1, figsize=figsize, squeeze=False)
    ax = axes[0, 0]
    for i, (name, h) in enumerate(histories.items()):
        ax.plot(h.epoch, h.train_loss, "--", color=f"C{i}", alpha=0.8)
        ax.plot(h.epoch[: len(h.val_loss)], h.val_loss, "-", color=f"C{i}", label=name)
    ax.set_xlabel("époque")
    ax.set_ylabel("perte (tirets : entraînement ; traits : validation)")
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    if has_acc:
        plot_histories(histories, "val_accuracy", ax=axes[0, 1])
    fig.tight_layout()
    return fig


def plot_batch_losses(histories: Mapping[str, History], ax=None, logy: bool = True, smooth: int = 1):
    """Perte de chaque lot au fil des pas d'optimisation (moyenne glissante sur ``smooth`` lots)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for name, h in histories.items():
        v = np.asarray(h.batch_loss, dtype=float)
        if smooth > 1 and len(v) >= smooth:
            v = np.convolve(v, np.ones(smooth) / smooth, mode="valid")
        ax.plot(np.arange(len(v)), v, label=name)
    ax.set_xlabel("pas d'optimisation (lot)")
    ax.set_ylabel("perte du lot")
    if logy:
        ax.set_yscale("log")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


ACTIVATION_LABELS = {"sigmoid": "sigmoïde", "tanh": "tanh", "relu": "ReLU"}


def plot_layer_stats(results: Mapping[tuple[str, str], Sequence], activations: Sequence[str], schemes: Sequence[str]):
    """Une ligne de deux panneaux par activation : écart-type des pré-activations, puis de
    :math:`\\partial L / \\partial \\mathbf a^k`, couche par couche (échelle logarithmique), un
    trait par schéma d'initialisation et par graine. ``results[(activation, schéma)]`` est une
    liste de :class:`profond.init.LayerStats`. Renvoie la figure."""
    fig, axes = plt.subplots(len(activations), 2, figsize=(8, 2.7 * len(activations)), squeeze=False,
                             sharex=True)
    for row, activation in zip(axes, activations):
        for i, scheme in enumerate(schemes):
            for j, stats in enumerate(results[(activation, scheme)]):
                layers = np.arange(1, len(stats.pre_std) + 1)
                label = scheme if j == 0 else None
                row[0].semilogy(layers, stats.pre_std, "o-", ms=2.5, lw=1, color=f"C{i}", alpha=0.7, label=label)
                row[1].semilogy(layers, stats.delta_std, "o-", ms=2.5, lw=1, color=f"C{i}", alpha=0.7, label=label)
        name = ACTIVATION_LABELS.get(activation, activation)
        row[0].set_title(f"{name} : pré-activations $a^k$")
        row[1].set_title(f"{name} : gradient $\\partial L / \\partial a^k$")
        row[0].set_ylabel("écart-type")
        for ax in row:
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize="small", title="initialisation")
    for ax in axes[-1]:
        ax.set_xlabel("couche (1 = entrée)")
    fig.tight_layout()
    return fig


def plot_seed_values(values: Mapping[str, Sequence[float]], ax=None, ylabel: str | None = None):
    """Une colonne par bras : un point par graine et un trait à la moyenne. ``values`` associe à
    chaque bras ses valeurs (une par graine). Renvoie l'axe."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    for i, (name, v) in enumerate(values.items()):
        v = np.asarray(v, dtype=float)
        ax.plot(np.full(v.shape, i), v, "o", color=f"C{i}", alpha=0.7, ms=5)
        ax.plot([i - 0.3, i + 0.3], [v.mean()] * 2, "-", color=f"C{i}", lw=2)
    ax.set_xticks(range(len(values)), list(values), rotation=30, ha="right")
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    return ax
