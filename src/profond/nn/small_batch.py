"""Normaliser avec de petits lots : BN, GroupNorm et LayerNorm de Wu et He (2018) sur les chiffres
8×8 (TP « Petits lots et réseaux résiduels », section `moderne-sec-petits-lots`).

- :func:`two_example_normalised` : ce que la BN fait d'un lot de deux exemples (équation
  `moderne-eq-lot2`) ;
- :func:`make_small_batch_mlp` : un perceptron dont chaque couche cachée est suivie d'une
  normalisation au choix (aucune, BN, GN, LN), avec les couches écrites à la main du cours ;
- :func:`train_small_batch` : un entraînement borné (nombre d'exemples vus), avec graine, par
  :func:`profond.training.fit` ; :func:`small_batch_arm` en fait un bras de
  :func:`profond.compare.compare` ;
- :func:`batch_statistics_accuracy` : l'exactitude quand la BN normalise avec les statistiques
  des lots de validation (mode entraînement) plutôt qu'avec ses statistiques de population ;
- :func:`plot_scores_by_batch` : la figure, qui ne fait que lire les comparaisons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from profond.compare import Arm, Comparison
from profond.data import digits_tensors, tensor_loader
from profond.nn.batchnorm import BatchNorm1d
from profond.nn.layernorm import LayerNorm
from profond.nn.other_norms import GroupNorm
from profond.training import History, accuracy, fit
from profond.utils import check_positive, check_positive_int, seed_everything

__all__ = ["SMALL_BATCH_NORMS", "two_example_normalised", "norm_layer", "make_small_batch_mlp",
           "SmallBatchRun", "train_small_batch", "small_batch_arm", "batch_statistics_accuracy",
           "plot_scores_by_batch"]

SMALL_BATCH_NORMS = ("none", "bn", "gn", "ln")
"""Les normalisations comparées : aucune, par lots, par groupes, par couche."""


def two_example_normalised(x1: torch.Tensor, x2: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    r"""Sortie normalisée :math:`\hat x_1` de la BN en entraînement pour un lot de **deux** exemples
    (équation `moderne-eq-lot2`) :

    .. math:: \hat x_1 = \frac{x_1 - x_2}{\sqrt{(x_1 - x_2)^2 + 4\varepsilon}} ,
       \qquad \hat x_2 = -\hat x_1 .

    Dès que :math:`|x_1 - x_2| \gg \sqrt\varepsilon`, c'est le signe de :math:`x_1 - x_2` : la
    couche suivante ne reçoit plus que ±1 (puis γ et β), quelle que soit la valeur des entrées.

    >>> two_example_normalised(torch.tensor([3.0, 0.0]), torch.tensor([1.0, 5.0]), eps=0.0)
    tensor([ 1., -1.])
    """
    if not isinstance(x1, torch.Tensor) or not isinstance(x2, torch.Tensor):
        raise TypeError("`x1` et `x2` doivent être des tenseurs.")
    if x1.shape != x2.shape:
        raise ValueError(f"`x1` et `x2` doivent avoir la même forme, reçu {tuple(x1.shape)} et {tuple(x2.shape)}.")
    d = x1 - x2
    return d / torch.sqrt(d * d + 4 * check_positive("eps", eps))


def norm_layer(norm: str, width: int, groups: int = 8) -> nn.Module:
    """La couche de normalisation ``norm`` pour ``width`` caractéristiques : ``"bn"``
    (:class:`profond.nn.BatchNorm1d`), ``"gn"`` (:class:`profond.nn.other_norms.GroupNorm` à
    ``groups`` groupes, équation `norm-eq-groupnorm`), ``"ln"`` (:class:`profond.nn.LayerNorm`) ou
    ``"none"`` (l'identité)."""
    width = check_positive_int("width", width)
    if norm == "bn":
        return BatchNorm1d(width)
    if norm == "gn":
        return GroupNorm(check_positive_int("groups", groups), width)
    if norm == "ln":
        return LayerNorm(width)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"`norm` doit être l'une de {SMALL_BATCH_NORMS}, reçu {norm!r}.")


def make_small_batch_mlp(norm: str, hidden: Sequence[int] = (64, 64), groups: int = 8,
                         n_in: int = 64, n_out: int = 10) -> nn.Sequential:
    """Perceptron ``Linear → norm → ReLU`` par couche cachée, puis une couche linéaire de sortie
    (initialisation de PyTorch).

    >>> [type(m).__name__ for m in make_small_batch_mlp("gn", hidden=(16,))]
    ['Linear', 'GroupNorm', 'ReLU', 'Linear']
    """
    if not hidden:
        raise ValueError("`hidden` doit contenir au moins une largeur.")
    layers: list[nn.Module] = []
    width = check_positive_int("n_in", n_in)
    for h in hidden:
        h = check_positive_int("hidden", h)
        layers += [nn.Linear(width, h), norm_layer(norm, h, groups), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, check_positive_int("n_out", n_out)))
    return nn.Sequential(*[m for m in layers if not isinstance(m, nn.Identity)])


@dataclass
class SmallBatchRun:
    """Un entraînement de :func:`train_small_batch`."""

    norm: str
    lr: float
    batch_size: int
    steps: int
    """Nombre de pas faits (lots vus)."""
    history: History
    """Historique de :func:`profond.training.fit` (une entrée par époque)."""
    val_accuracy: float
    """Exactitude de validation finale, en mode évaluation (la BN utilise ses statistiques de
    population) : le score des comparaisons."""
    model: nn.Module = field(repr=False)


def train_small_batch(norm: str, lr: float, batch_size: int, examples: int = 256, n_train: int = 256,
                      hidden: Sequence[int] = (128, 128), groups: int = 8, seed: int = 0,
                      progress: bool = False) -> SmallBatchRun:
    """Entraîne :func:`make_small_batch_mlp` par SGD (taux ``lr``, lots de ``batch_size``) sur les
    ``n_train`` premiers chiffres d'entraînement, jusqu'à avoir vu ``examples`` exemples (arrondi à
    l'époque entière supérieure ; le dernier lot incomplet d'une époque est abandonné), puis mesure
    l'exactitude de validation en mode évaluation.

    Le budget est donc le nombre d'exemples vus : à ``examples`` égal, un lot de 2 fait 32 fois
    plus de pas qu'un lot de 64.
    """
    if norm not in SMALL_BATCH_NORMS:
        raise ValueError(f"`norm` doit être l'une de {SMALL_BATCH_NORMS}, reçu {norm!r}.")
    lr = check_positive("lr", lr, strict=True)
    batch_size = check_positive_int("batch_size", batch_size)
    n_train = check_positive_int("n_train", n_train)
    if batch_size > n_train:
        raise ValueError(f"`batch_size` ({batch_size}) ne peut dépasser `n_train` ({n_train}).")
    per_epoch = (n_train // batch_size) * batch_size
    epochs = math.ceil(check_positive_int("examples", examples) / per_epoch)
    generator = seed_everything(seed)
    x, y, x_val, y_val = digits_tensors(n_train, seed=0)
    model = make_small_batch_mlp(norm, hidden, groups)
    train = tensor_loader(x, y, batch_size, generator=generator, drop_last=True)
    val = tensor_loader(x_val, y_val, len(x_val), shuffle=False)
    history = fit(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=lr), train, val,
                  epochs=epochs, device="cpu", metrics={"accuracy": accuracy}, progress=progress)
    return SmallBatchRun(norm, lr, batch_size, len(history.batch_loss), history,
                         history.metrics["val_accuracy"][-1], model)


def small_batch_arm(name: str, norm: str, lrs: Sequence[float], batch_size: int, **fixed) -> Arm:
    """Un bras de :func:`profond.compare.compare` : :func:`train_small_batch` avec la
    normalisation ``norm`` et les lots de ``batch_size``, balayant les taux ``lrs`` ; ``fixed``
    (``examples``, ``n_train``...) est passé tel quel."""
    lrs = [check_positive("lr", lr, strict=True) for lr in lrs]
    if not lrs:
        raise ValueError("`lrs` ne peut pas être vide.")
    return Arm(name, train_small_batch, grid={"lr": lrs},
               fixed={"norm": norm, "batch_size": check_positive_int("batch_size", batch_size), **fixed})


def batch_statistics_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    """Exactitude de ``model`` sur (``x``, ``y``) découpés en lots consécutifs de ``batch_size``
    (le dernier lot incomplet est laissé de côté), **en mode entraînement** : chaque BN normalise
    avec la moyenne et la variance du lot, comme pendant l'apprentissage, au lieu de ses
    statistiques de population. Les statistiques de population sont sauvegardées puis remises :
    le modèle en sort inchangé, et remis dans son mode d'origine."""
    batch_size = check_positive_int("batch_size", batch_size)
    n = (len(x) // batch_size) * batch_size
    if n == 0:
        raise ValueError(f"Il faut au moins {batch_size} exemples, reçu {len(x)}.")
    was_training = model.training
    buffers = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith(("weight", "bias"))}
    model.train()
    try:
        with torch.no_grad():
            out = torch.cat([model(x[i:i + batch_size]) for i in range(0, n, batch_size)])
    finally:
        model.load_state_dict(buffers, strict=False)
        model.train(was_training)
    return accuracy(out, y[:n])


def plot_scores_by_batch(comparisons: Mapping[int, Comparison], ax=None, ylabel: str = "exactitude de validation"):
    """Score du réglage retenu en fonction de la taille du lot, un trait par bras (moyenne sur
    les graines) et un point par graine. ``comparisons`` associe à chaque taille de lot sa
    comparaison (mêmes bras partout). Renvoie l'axe."""
    import matplotlib.pyplot as plt

    if not comparisons:
        raise ValueError("`comparisons` est vide.")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.4, 3.6))
    sizes = sorted(comparisons)
    arms = comparisons[sizes[0]].arms
    for i, arm in enumerate(arms):
        scores = [comparisons[b].best_scores(arm) for b in sizes]
        jitter = 1 + 0.04 * (i - (len(arms) - 1) / 2)
        for b, s in zip(sizes, scores):
            ax.plot(np.full(len(s), b * jitter), s, "o", color=f"C{i}", ms=3.5, alpha=0.6)
        ax.plot([b * jitter for b in sizes], [s.mean() for s in scores], "-", color=f"C{i}", lw=1.8, label=arm)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(b) for b in sizes])
    ax.minorticks_off()
    ax.set_xlabel("taille du lot")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax
