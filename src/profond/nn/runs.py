"""Entraînements mesurés de la partie 3 (chapitre « Normalisation par lots », `chap-normalisation`).

Chaque entraînement est borné (un nombre d'époques), prend une graine, passe par
:func:`profond.training.fit` et renvoie une *dataclass* de nombres. :func:`mlp_arm` en fait un bras
de :func:`profond.compare.compare` : les comparaisons du chapitre et du TP passent toutes par là.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn

from profond.compare import Arm, Comparison
from profond.nn.batchnorm import BatchNorm1d, BatchNorm2d
from profond.nn.models import MLPConfig, digits_loaders, make_lenet, make_normalized_mlp
from profond.training import Callback, History, accuracy, fit
from profond.utils import check_positive, check_positive_int, seed_everything

__all__ = ["ProbeCallback", "TrainingRun", "train_mlp", "mlp_arm", "usable_rates", "mean_movement", "LeNetRun", "train_lenet"]


def activation_modules(model: nn.Module) -> list[nn.Module]:
    """Les non-linéarités (sigmoïdes, ReLU) du réseau, dans l'ordre."""
    return [m for m in model.modules() if isinstance(m, (nn.Sigmoid, nn.ReLU))]


class ProbeCallback(Callback):
    """Mesures pendant l'entraînement, sur l'entrée de la non-linéarité numéro ``layer`` (par
    défaut la dernière couche cachée) :

    - à **chaque** pas d'entraînement, la moyenne et l'écart type de chaque neurone sur le lot, et
      leur déplacement depuis le pas précédent (moyenne sur les neurones de |Δμ| et |Δσ|) : de
      combien la distribution vue par la non-linéarité bouge d'un pas à l'autre ;
    - tous les ``every`` pas, l'exactitude sur (``x_val``, ``y_val``) en mode évaluation et les
      15e, 50e et 85e centiles de l'entrée du neurone ``unit`` sur le lot qui vient de passer.
    """

    def __init__(self, model: nn.Module, x_val: torch.Tensor, y_val: torch.Tensor, every: int,
                 unit: int = 0, layer: int = -1):
        self.x_val, self.y_val, self.every, self.unit = x_val, y_val, every, unit
        self.steps: list[int] = []
        self.accuracy: list[float] = []
        self.percentiles: list[list[float]] = []
        self.move_mean: list[float] = []
        self.move_std: list[float] = []
        self._last: torch.Tensor | None = None
        self._stats: tuple[torch.Tensor, torch.Tensor] | None = None
        self._handle = activation_modules(model)[layer].register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        if not module.training:
            return
        z = inputs[0].detach()  # (N, C)
        self._last = z[:, self.unit]
        std, mean = torch.std_mean(z, dim=0, unbiased=False)
        if self._stats is not None:
            self.move_mean.append((mean - self._stats[0]).abs().mean().item())
            self.move_std.append((std - self._stats[1]).abs().mean().item())
        self._stats = (mean, std)

    def on_batch_end(self, step, model, loss):
        if step % self.every:
            return
        model.eval()
        with torch.no_grad():
            acc = accuracy(model(self.x_val), self.y_val)
        model.train()
        q = torch.quantile(self._last.double(), torch.tensor([0.15, 0.5, 0.85], dtype=torch.float64))
        self.steps.append(step)
        self.accuracy.append(acc)
        self.percentiles.append(q.tolist())

    def close(self) -> None:
        self._handle.remove()


@dataclass
class TrainingRun:
    """Un entraînement d'un MLP, mesuré tous les ``every`` pas."""

    config: MLPConfig
    lr: float
    batch_size: int
    steps: list[int]
    """Pas (lots vus) auxquels on a mesuré."""
    val_accuracy: list[float]
    """Exactitude de validation (mode évaluation) à ces pas."""
    percentiles: list[list[float]]
    """(15e, 50e, 85e) centiles de l'entrée d'un neurone de la dernière couche cachée."""
    move_mean: list[float]
    """À chaque pas, déplacement moyen |Δμ| des moyennes par neurone de l'entrée de la dernière
    non-linéarité depuis le pas précédent."""
    move_std: list[float]
    """Idem pour les écarts types par neurone, |Δσ|."""
    history: History
    """L'historique renvoyé par :func:`profond.training.fit` (une entrée par époque)."""
    train_accuracy: float
    """Exactitude finale sur l'ensemble d'entraînement (mode évaluation)."""
    final_accuracy: float
    """Exactitude finale de validation (mode évaluation)."""
    model: nn.Module = field(repr=False)
    """Le réseau entraîné (pour les expériences qui le réutilisent)."""

    def steps_to(self, level: float) -> float:
        """Premier pas mesuré où l'exactitude de validation atteint ``level`` (∞ si jamais)."""
        return next((float(s) for s, a in zip(self.steps, self.val_accuracy) if a >= level), float("inf"))

    def gap(self) -> float:
        """Écart entre exactitude d'entraînement et de validation (sur-apprentissage)."""
        return self.train_accuracy - self.final_accuracy


def train_mlp(
    config: MLPConfig,
    lr: float,
    epochs: int = 20,
    batch_size: int = 64,
    seed: int = 0,
    every: int = 5,
    weight_decay: float = 0.0,
    progress: bool = True,
) -> TrainingRun:
    """Entraîne ``make_normalized_mlp(config)`` par SGD (taux ``lr``) sur les chiffres pendant
    ``epochs`` époques, avec :func:`profond.training.fit`, et mesure avec :class:`ProbeCallback`.

    C'est l'expérience MNIST d'Ioffe et Szegedy (2015), transposée aux chiffres 8×8.
    """
    lr = check_positive("lr", lr, strict=True)
    epochs = check_positive_int("epochs", epochs)
    every = check_positive_int("every", every)
    generator = seed_everything(seed)
    model = make_normalized_mlp(config, noise_generator=generator)
    train_loader, val_loader = digits_loaders(batch_size, seed)
    x_tr, y_tr = train_loader.dataset.tensors
    x_val, y_val = val_loader.dataset.tensors
    probe = ProbeCallback(model, x_val, y_val, every)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=weight_decay)
    try:
        history = fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, val_loader, epochs=epochs,
                      callbacks=[probe], device="cpu", metrics={"accuracy": accuracy}, progress=progress)
    finally:
        probe.close()
    model.eval()
    with torch.no_grad():
        train_acc = accuracy(model(x_tr), y_tr)
        final_acc = accuracy(model(x_val), y_val)
    return TrainingRun(config, lr, batch_size, probe.steps, probe.accuracy, probe.percentiles,
                       probe.move_mean, probe.move_std, history, train_acc, final_acc, model)


def mlp_arm(name: str, config: MLPConfig, lrs: Sequence[float], **fixed) -> Arm:
    """Un bras de :func:`profond.compare.compare` qui entraîne ``config`` par :func:`train_mlp`,
    avec la grille de taux ``lrs`` (une seule valeur pour une comparaison à réglages fixés) ;
    ``fixed`` est passé tel quel à :func:`train_mlp` (``epochs``, ``batch_size``...)."""
    lrs = [check_positive("lr", lr, strict=True) for lr in lrs]
    if not lrs:
        raise ValueError("`lrs` ne peut pas être vide.")
    fixed.setdefault("progress", False)
    return Arm(name, train_mlp, grid={"lr": lrs}, fixed={"config": config, **fixed})


def usable_rates(comparison: Comparison, arm: str, level: float = 0.8) -> list[float]:
    """Les taux ``lr`` de la grille de ``arm`` pour lesquels **toutes** les graines atteignent un
    score d'au moins ``level`` : la plage des taux utilisables."""
    settings, scores = comparison.grid_scores(arm)
    if not settings or "lr" not in settings[0]:
        raise ValueError(f"La grille de « {arm} » ne balaie pas `lr`.")
    return [float(p["lr"]) for p, s in zip(settings, scores) if np.min(s) >= level]


@dataclass
class LeNetRun:
    """Un entraînement du LeNet 8×8."""

    implementation: str
    history: History
    final_accuracy: float
    gamma: list[float]
    """γ appris par la première couche BN (un par canal)."""
    beta: list[float]
    """β appris par la première couche BN."""


def train_lenet(implementation: str = "profond", lr: float = 0.5, epochs: int = 10, batch_size: int = 64,
                seed: int = 0, progress: bool = True) -> LeNetRun:
    """Entraîne :func:`make_lenet` par SGD avec nos couches (``"profond"``) ou celles de PyTorch
    (``"torch"``), même graine, même initialisation, même ordre des lots."""
    if implementation not in ("profond", "torch"):
        raise ValueError(f"`implementation` doit valoir 'profond' ou 'torch', reçu {implementation!r}.")
    seed_everything(seed)
    layers = (BatchNorm2d, BatchNorm1d) if implementation == "profond" else (nn.BatchNorm2d, nn.BatchNorm1d)
    model = make_lenet(*layers)
    train_loader, val_loader = digits_loaders(batch_size, seed)
    history = fit(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=lr), train_loader, val_loader,
                  epochs=epochs, device="cpu", metrics={"accuracy": accuracy}, progress=progress)
    first_bn = model[2]
    return LeNetRun(implementation, history, history.metrics["val_accuracy"][-1],
                    first_bn.weight.detach().tolist(), first_bn.bias.detach().tolist())


def mean_movement(run: TrainingRun) -> tuple[float, float]:
    """Déplacement moyen par pas (|Δμ|, |Δσ|) sur tout l'entraînement."""
    return float(np.mean(run.move_mean)), float(np.mean(run.move_std))
