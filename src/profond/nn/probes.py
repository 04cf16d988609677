"""Sondes d'optimisation de Santurkar et al. (2018) (chapitre « Normalisation par lots », sections
`bn-sec-ics` et `bn-sec-lissage`).

Pendant un entraînement ordinaire (:func:`profond.training.fit`), tous les ``every`` pas, on
copie le réseau et, sur un lot fixe :

- **décalage de covariable interne au sens de l'optimisation** : gradient G des poids d'une couche
  avant, et G' après, la mise à jour des seules couches qui la précèdent ; on note ‖G − G'‖,
  ‖G − G'‖ / ‖G‖ (la BN change l'échelle des gradients, d'où la version relative) et cos(G, G') ;
- **paysage le long du gradient** : pour des pas η, la perte L(w − η g) et la variation du
  gradient ‖∇L(w − η g) − ∇L(w)‖, ainsi que la perte L(w) elle-même, pour comparer deux réseaux
  **à perte égale** et non au même pas d'entraînement.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from profond.nn.batchnorm import BatchNorm1d
from profond.nn.models import MLPConfig, digits_loaders, make_normalized_mlp
from profond.training import Callback, accuracy, fit
from profond.utils import check_positive, check_positive_int, seed_everything

__all__ = ["ProbeRun", "optimisation_probes"]


def _loss_and_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, list[torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss.item(), [p.grad.detach().clone() for p in model.parameters()]


def _norm(tensors: Sequence[torch.Tensor]) -> float:
    return torch.sqrt(sum((t ** 2).sum() for t in tensors)).item()


def _preceding_parameters(model: nn.Module, target: nn.Module) -> list[nn.Parameter]:
    """Paramètres des couches linéaires et BN situées avant ``target`` dans le réseau."""
    order = list(model.modules())
    stop = order.index(target)
    return [p for m in order[:stop] if isinstance(m, (nn.Linear, BatchNorm1d, nn.BatchNorm1d))
            for p in m.parameters(recurse=False)]


class _ProbeCallback(Callback):
    def __init__(self, x, y, layer: int, lr: float, etas: Sequence[float], every: int):
        self.x, self.y, self.layer, self.lr, self.etas, self.every = x, y, layer, lr, list(etas), every
        self.steps: list[int] = []
        self.loss: list[float] = []
        self.ics_l2: list[float] = []
        self.ics_rel: list[float] = []
        self.ics_cos: list[float] = []
        self.losses: list[list[float]] = []
        self.grad_change: list[list[float]] = []
        self.grad_norm: list[float] = []

    def on_batch_end(self, step, model, loss):
        if step % self.every:
            return
        twin = copy.deepcopy(model).train()
        params = list(twin.parameters())
        start = [p.detach().clone() for p in params]
        loss0, g0 = _loss_and_grads(twin, self.x, self.y)
        # Paysage le long du gradient.
        losses, changes = [], []
        for eta in self.etas:
            with torch.no_grad():
                for p, w, g in zip(params, start, g0):
                    p.copy_(w - eta * g)
            value, g = _loss_and_grads(twin, self.x, self.y)
            losses.append(value)
            changes.append(_norm([a - b for a, b in zip(g, g0)]))
        # Décalage de covariable interne : on ne met à jour que les couches précédentes.
        with torch.no_grad():
            for p, w in zip(params, start):
                p.copy_(w)
        target = [m for m in twin.modules() if isinstance(m, nn.Linear)][self.layer]
        index = {id(p): i for i, p in enumerate(params)}
        g_before = g0[index[id(target.weight)]]
        with torch.no_grad():
            for p in _preceding_parameters(twin, target):
                p -= self.lr * g0[index[id(p)]]
        _, g1 = _loss_and_grads(twin, self.x, self.y)
        g_after = g1[index[id(target.weight)]]
        diff = (g_before - g_after).norm().item()
        self.steps.append(step)
        self.loss.append(loss0)
        self.grad_norm.append(_norm(g0))
        self.losses.append(losses)
        self.grad_change.append(changes)
        self.ics_l2.append(diff)
        self.ics_rel.append(diff / max(g_before.norm().item(), 1e-12))
        self.ics_cos.append(nn.functional.cosine_similarity(g_before.flatten(), g_after.flatten(), dim=0).item())


@dataclass
class ProbeRun:
    """Les sondes d'un entraînement, une valeur (ou une liste sur les η) par pas mesuré."""

    steps: list[int]
    etas: list[float]
    loss: list[float]
    """Perte L(w) sur le lot fixe."""
    ics_l2: list[float]
    """‖G − G'‖."""
    ics_rel: list[float]
    """‖G − G'‖ / ‖G‖."""
    ics_cos: list[float]
    """cos(G, G')."""
    losses: list[list[float]]
    """L(w − η g) pour chaque η."""
    grad_change: list[list[float]]
    """‖∇L(w − η g) − ∇L(w)‖ pour chaque η."""
    grad_norm: list[float]
    """‖g‖ = ‖∇L(w)‖."""
    final_accuracy: float

    def loss_range(self) -> np.ndarray:
        """Écart max − min de la perte le long de la direction du gradient, à chaque pas mesuré."""
        a = np.asarray(self.losses)
        return a.max(axis=1) - a.min(axis=1)

    def beta_smoothness(self) -> np.ndarray:
        """« β-régularité effective » (Santurkar et al.) : plus grande variation du gradient rapportée
        à la distance parcourue, max_η ‖∇L(w − η g) − ∇L(w)‖ / (η ‖g‖), à chaque pas mesuré."""
        distance = np.outer(np.asarray(self.grad_norm), np.asarray(self.etas))
        return (np.asarray(self.grad_change) / distance).max(axis=1)

    def band_mean(self, values: Sequence[float], low: float, high: float) -> float:
        """Moyenne de ``values`` (une valeur par pas mesuré) sur les mesures dont la perte L(w)
        est comprise entre ``low`` et ``high`` : pour comparer deux réseaux **à perte égale**.
        NaN si aucune mesure n'y tombe."""
        if not 0 < low < high:
            raise ValueError(f"Il faut 0 < low < high, reçu low={low}, high={high}.")
        loss, values = np.asarray(self.loss), np.asarray(values, dtype=float)
        if values.shape != loss.shape:
            raise ValueError(f"`values` doit avoir une valeur par pas mesuré ({loss.shape}), reçu {values.shape}.")
        mask = (loss >= low) & (loss <= high)
        return float(values[mask].mean()) if mask.any() else float("nan")

    def at_loss(self, level: float, tolerance: float = 1.5) -> int | None:
        """Indice de la mesure dont la perte L(w) est la plus proche de ``level`` (en échelle
        logarithmique), ou ``None`` si aucune n'est à moins d'un facteur ``tolerance``."""
        check_positive("level", level, strict=True)
        gaps = np.abs(np.log(np.asarray(self.loss) / level))
        i = int(np.argmin(gaps))
        return i if gaps[i] <= np.log(tolerance) else None


def optimisation_probes(
    config: MLPConfig,
    lr: float = 0.1,
    etas: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.4),
    layer: int = 2,
    epochs: int = 4,
    batch_size: int = 64,
    seed: int = 0,
    every: int = 10,
    progress: bool = True,
) -> ProbeRun:
    """Entraîne ``make_normalized_mlp(config)`` par SGD (taux ``lr``) et, tous les ``every`` pas,
    mesure sur un lot fixe de 256 images le décalage de covariable interne de la couche linéaire
    numéro ``layer`` (0 = la première) et le paysage le long du gradient (pas ``etas``)."""
    lr = check_positive("lr", lr, strict=True)
    every = check_positive_int("every", every)
    if not etas or min(etas) <= 0:
        raise ValueError(f"`etas` doit contenir des pas strictement positifs, reçu {etas}.")
    seed_everything(seed)
    model = make_normalized_mlp(config)
    n_linear = sum(isinstance(m, nn.Linear) for m in model.modules())
    if not 0 < layer < n_linear:
        raise ValueError(f"`layer` doit être entre 1 et {n_linear - 1} (une couche précédée d'une autre), reçu {layer}.")
    train_loader, val_loader = digits_loaders(batch_size, seed)
    x_tr, y_tr = train_loader.dataset.tensors
    cb = _ProbeCallback(x_tr[:256], y_tr[:256], layer, lr, etas, every)
    history = fit(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=lr), train_loader,
                  val_loader, epochs=epochs, callbacks=[cb], device="cpu", metrics={"accuracy": accuracy},
                  progress=progress)
    return ProbeRun(cb.steps, [float(e) for e in etas], cb.loss, cb.ics_l2, cb.ics_rel, cb.ics_cos, cb.losses,
                    cb.grad_change, cb.grad_norm, history.metrics["val_accuracy"][-1])
