"""Diagnostiquer un entraînement (TP « Diagnostiquer un entraînement », section `diag-sec-sondes`),
d'après la « recette » de Karpathy (2019) : sur-apprendre un seul lot d'abord, puis surveiller, couche
par couche, l'échelle des activations, la part de ReLU mortes, et le rapport entre la taille d'une
mise à jour et celle des poids (autour de 10⁻³ quand le taux est bien réglé). Et choisir le taux
d'apprentissage par un test de plage (Smith, 2017).

Les sondes sont des rappels (:class:`profond.training.Callback`) de :func:`profond.training.fit` ;
elles notent des nombres, que les figures lisent ensuite.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from profond.training import Callback
from profond.utils import check_positive, check_positive_int

__all__ = ["TrainingProbe", "overfit_one_batch", "LRRangeResult", "lr_range_test", "lab_network", "probed_run",
           "plot_probes"]


@dataclass
class TrainingProbe(Callback):
    """Rappel de :func:`profond.training.fit` qui note, tous les ``every`` lots et pour chaque couche
    ``nn.Linear`` (ou ``nn.ReLU``) de ``model`` :

    * ``act_std`` : l'écart-type de la sortie de la couche linéaire (la pré-activation) ;
    * ``dead_relu`` : la part des neurones d'une ReLU nuls sur **tout** le lot (morts pour ce lot) ;
    * ``update_ratio`` : :math:`\\lVert \\Delta W \\rVert / \\lVert W \\rVert` sur le dernier pas
      (équation `diag-eq-rapport`) ;
    * ``grad_std`` : l'écart-type du gradient des poids.

    Avec ``log_dir``, les histogrammes des activations et des gradients vont aussi dans TensorBoard.
    Appeler :meth:`close` à la fin (ou utiliser :meth:`attach` dans un ``with``).
    """

    model: nn.Module
    every: int = 10
    log_dir: str | None = None
    steps: list[int] = field(default_factory=list)
    act_std: list[list[float]] = field(default_factory=list)
    dead_relu: list[list[float]] = field(default_factory=list)
    update_ratio: list[list[float]] = field(default_factory=list)
    grad_std: list[list[float]] = field(default_factory=list)

    def __post_init__(self):
        self.every = check_positive_int("every", self.every)
        self._linears = [m for m in self.model.modules() if isinstance(m, nn.Linear)]
        self._relus = [m for m in self.model.modules() if isinstance(m, nn.ReLU)]
        if not self._linears:
            raise ValueError("`model` ne contient aucune couche nn.Linear à surveiller.")
        self._outputs: dict[int, torch.Tensor] = {}
        self._handles = [m.register_forward_hook(self._keep(i)) for i, m in enumerate(self._linears + self._relus)]
        self._previous = [m.weight.detach().clone() for m in self._linears]
        self._writer = None
        if self.log_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.log_dir))

    def _keep(self, i):
        def hook(_module, _inputs, out):
            self._outputs[i] = out.detach()
        return hook

    def on_batch_end(self, step, model, loss):
        weights = [m.weight.detach() for m in self._linears]
        if step % self.every == 0:
            n_lin = len(self._linears)
            self.steps.append(step)
            acts = [self._outputs[i] for i in range(n_lin)]
            self.act_std.append([a.std().item() for a in acts])
            self.dead_relu.append([(self._outputs[n_lin + j] <= 0).all(dim=0).float().mean().item()
                                   for j in range(len(self._relus))])
            self.update_ratio.append([((w - p).norm() / w.norm()).item() for w, p in zip(weights, self._previous)])
            self.grad_std.append([m.weight.grad.std().item() for m in self._linears])
            if self._writer is not None:
                for k, (a, m) in enumerate(zip(acts, self._linears)):
                    self._writer.add_histogram(f"activations/couche_{k}", a, step)
                    self._writer.add_histogram(f"gradients/couche_{k}", m.weight.grad, step)
                    self._writer.add_scalar(f"rapport_maj/couche_{k}", self.update_ratio[-1][k], step)
        self._previous = [w.clone() for w in weights]

    def close(self) -> None:
        """Retire les crochets et ferme le journal TensorBoard."""
        for h in self._handles:
            h.remove()
        self._handles = []
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def overfit_one_batch(model: nn.Module, loss: nn.Module, optimizer: torch.optim.Optimizer,
                      x: torch.Tensor, y: torch.Tensor, steps: int = 200) -> list[float]:
    """Première vérification de la recette : entraîner sur **un seul lot** jusqu'à une perte
    presque nulle. Si le réseau n'y arrive pas, le problème est dans le code (données, perte,
    sortie), pas dans les hyper-paramètres. Renvoie la perte avant chaque pas."""
    steps = check_positive_int("steps", steps)
    model.train()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        value = loss(model(x), y)
        losses.append(value.item())
        value.backward()
        optimizer.step()
    return losses


@dataclass(frozen=True)
class LRRangeResult:
    """Résultat d'un test de plage : taux essayés, perte lissée à chaque taux, et la suggestion
    (un dixième du taux où la perte lissée est minimale, la règle de fast.ai)."""

    lrs: np.ndarray
    losses: np.ndarray
    suggestion: float


def lr_range_test(model: nn.Module, loss: nn.Module, optimizer: torch.optim.Optimizer, loader,
                  start: float = 1e-5, end: float = 10.0, steps: int = 100, smooth: float = 0.9,
                  divergence: float = 4.0) -> LRRangeResult:
    """Test de plage du taux d'apprentissage (Smith, 2017 ; ``lr_find`` de fast.ai, équation
    `diag-eq-plage`) : le taux croît géométriquement de ``start`` à ``end`` en ``steps`` lots, on
    note la perte de chaque lot (lissée exponentiellement), et l'on s'arrête quand elle dépasse
    ``divergence`` fois son minimum. ``model`` et ``optimizer`` sont modifiés : en faire des copies."""
    start, end = check_positive("start", start, strict=True), check_positive("end", end, strict=True)
    if end <= start:
        raise ValueError(f"`end` doit être plus grand que `start`, reçu {start} et {end}.")
    steps = check_positive_int("steps", steps)
    factor = (end / start) ** (1.0 / max(steps - 1, 1))
    lrs, losses = [], []
    avg, best = 0.0, math.inf
    model.train()
    batches = iter(loader)
    for k in range(steps):
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(loader)
            x, y = next(batches)
        lr = start * factor**k
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad()
        value = loss(model(x), y)
        value.backward()
        optimizer.step()
        avg = smooth * avg + (1 - smooth) * value.item()
        smoothed = avg / (1 - smooth ** (k + 1))  # correction du biais de départ, comme Adam
        if not math.isfinite(smoothed) or smoothed > divergence * best:
            break
        best = min(best, smoothed)
        lrs.append(lr)
        losses.append(smoothed)
    lrs_a, losses_a = np.array(lrs), np.array(losses)
    return LRRangeResult(lrs_a, losses_a, float(lrs_a[int(np.argmin(losses_a))] / 10))


def lab_network(init: str = "He", seed: int = 0, depth: int = 6, width: int = 64) -> nn.Module:
    """Le réseau des diagnostics : un MLP ReLU de ``depth`` couches linéaires (64 entrées, 10
    classes), initialisé par ``init`` (l'un de :data:`profond.init.INIT_SCHEMES`)."""
    from profond.intro import make_mlp
    from profond.utils import seed_everything

    g = seed_everything(seed)
    return make_mlp([64] + [width] * (depth - 1) + [10], "relu", init=init, generator=g)


def probed_run(init: str, lr: float, seed: int = 0, epochs: int = 3, every: int = 10, log_dir=None):
    """Entraîne :func:`lab_network` sur les chiffres (SGD de taux ``lr``, lots de 32) avec une
    :class:`TrainingProbe` ; renvoie ``(historique, sonde)``."""
    from profond.data import make_loaders
    from profond.training import accuracy, fit

    train, val = make_loaders("digits", batch_size=32, seed=0)
    model = lab_network(init, seed)
    with TrainingProbe(model, every=every, log_dir=log_dir) as probe:
        history = fit(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=lr), train, val,
                      epochs=epochs, metrics={"accuracy": accuracy}, callbacks=[probe], device="cpu",
                      progress=False)
    return history, probe


def plot_probes(probes: dict, figsize=(5.6, 8.4)):
    """Trois panneaux empilés qui lisent des :class:`TrainingProbe` (une par réseau) : écart-type
    des pré-activations par couche au premier relevé, part moyenne de ReLU mortes, et rapport
    médian mise à jour / poids (avec la cible 10⁻³), au fil des pas. Renvoie la figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=figsize)
    for i, (name, p) in enumerate(probes.items()):
        color = f"C{i}"
        axes[0].plot(range(1, len(p.act_std[0]) + 1), p.act_std[0], "o-", color=color, label=name)
        axes[1].plot(p.steps, np.mean(p.dead_relu, axis=1), color=color, label=name)
        with warnings.catch_warnings():  # une ligne toute en NaN (course divergée) : pas de point
            warnings.simplefilter("ignore", RuntimeWarning)
            ratio = np.nanmedian(np.where(np.isfinite(p.update_ratio), p.update_ratio, np.nan), axis=1)
        axes[2].plot(p.steps[1:], ratio[1:], color=color, label=name)
    axes[0].set_xlabel("couche linéaire")
    axes[0].set_ylabel("écart-type\ndes pré-activations")
    axes[0].set_yscale("log")
    axes[1].set_ylabel("part de ReLU mortes")
    axes[1].set_xlabel("pas")
    axes[2].axhline(1e-3, color="k", ls=":", lw=1, label="repère 10⁻³")
    axes[2].set_yscale("log")
    axes[2].set_ylabel("‖ΔW‖ / ‖W‖\n(médiane des couches)")
    axes[2].set_xlabel("pas")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize="x-small")
    axes[2].legend(fontsize="x-small")
    fig.tight_layout()
    return fig
