"""Les expériences du chapitre « Normalisation par lots » et de son TP, sur les chiffres manuscrits
8×8 de scikit-learn (1 797 images, aucun téléchargement).

Chaque expérience est bornée (un nombre d'époques ou de pas), prend une graine, entraîne avec
:func:`profond.training.fit` et renvoie une *dataclass* de nombres ; les figures
(:mod:`profond.nn.plots`) ne font que lire ces résultats.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from profond.data import load_split
from profond.nn.batchnorm import BatchNorm1d, BatchNorm2d, NoisyBatchNorm1d
from profond.training import Callback, History, accuracy, fit
from profond.utils import check_positive, check_positive_int, seed_everything

__all__ = [
    "MLPConfig",
    "make_mlp",
    "make_lenet",
    "digits_tensors",
    "TensorLoader",
    "digits_loaders",
    "TrainingRun",
    "train_mlp",
    "LRSweep",
    "lr_sweep",
    "PlacementResult",
    "compare_variants",
    "batch_noise",
    "PopulationStats",
    "population_statistics",
    "ShiftResult",
    "shift_robustness",
    "ICSResult",
    "internal_covariate_shift",
    "LandscapeResult",
    "loss_landscape",
    "LeNetRun",
    "train_lenet",
]

NORMS = ("none", "bn", "bn_after", "noisy_bn", "dropout", "bn_dropout")
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}


# --------------------------------------------------------------------------------------------
# Modèles et données
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MLPConfig:
    """Un perceptron multicouche pour les chiffres 8×8 (64 entrées, 10 classes)."""

    hidden: tuple[int, ...] = (100, 100, 100)
    """Largeur des couches cachées (Ioffe et Szegedy : trois couches de 100)."""
    activation: str = "sigmoid"
    """``"sigmoid"`` ou ``"relu"``."""
    norm: str = "none"
    """``"none"``, ``"bn"`` (BN avant l'activation), ``"bn_after"`` (BN après l'activation),
    ``"noisy_bn"`` (BN suivie d'un bruit, Santurkar et al.), ``"dropout"``, ``"bn_dropout"``."""
    dropout: float = 0.2
    """Probabilité d'abandon pour ``"dropout"`` et ``"bn_dropout"``."""
    noise_std: float = 0.5
    """Écart type du bruit (log-échelle et décalage) de ``"noisy_bn"``."""

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"`norm` doit être l'un de {NORMS}, reçu {self.norm!r}.")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"`activation` doit être l'un de {tuple(ACTIVATIONS)}, reçu {self.activation!r}.")
        if not self.hidden or any(int(h) <= 0 for h in self.hidden):
            raise ValueError(f"`hidden` doit contenir au moins une largeur > 0, reçu {self.hidden}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"`dropout` doit appartenir à [0, 1), reçu {self.dropout}.")


def make_mlp(config: MLPConfig, n_in: int = 64, n_out: int = 10, noise_generator: torch.Generator | None = None) -> nn.Sequential:
    """Construit le réseau décrit par ``config`` (avec nos couches :class:`BatchNorm1d`).

    Chaque couche cachée est ``Linear → [BN] → activation → [BN] → [Dropout]`` selon ``norm``.
    """
    act = ACTIVATIONS[config.activation]
    layers: list[nn.Module] = []
    width = n_in
    for h in config.hidden:
        layers.append(nn.Linear(width, h))
        if config.norm in ("bn", "bn_dropout"):
            layers.append(BatchNorm1d(h))
        elif config.norm == "noisy_bn":
            layers.append(NoisyBatchNorm1d(h, config.noise_std, config.noise_std, generator=noise_generator))
        layers.append(act())
        if config.norm == "bn_after":
            layers.append(BatchNorm1d(h))
        if config.norm in ("dropout", "bn_dropout"):
            layers.append(nn.Dropout(config.dropout))
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def make_lenet(bn2d: type[nn.Module] = BatchNorm2d, bn1d: type[nn.Module] = BatchNorm1d) -> nn.Sequential:
    """Un LeNet adapté aux images 8×8 : deux convolutions 3×3 (6 puis 16 canaux) suivies chacune
    d'une BN, d'une sigmoïde et d'un sous-échantillonnage 2×2, puis trois couches denses
    (120, 84, 10) avec BN. ``bn2d`` et ``bn1d`` choisissent l'implémentation (la nôtre ou celle de
    PyTorch) ; comme elles ne tirent aucun nombre aléatoire, une même graine donne les mêmes poids.
    """
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 6, kernel_size=3, padding=1), bn2d(6), nn.Sigmoid(), nn.AvgPool2d(2),  # 6×4×4
        nn.Conv2d(6, 16, kernel_size=3, padding=1), bn2d(16), nn.Sigmoid(), nn.AvgPool2d(2),  # 16×2×2
        nn.Flatten(),
        nn.Linear(64, 120), bn1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), bn1d(84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )


def digits_tensors(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x_train, y_train, x_val, y_val)`` des chiffres, standardisés (même découpage que
    :func:`profond.data.make_loaders` avec la même graine)."""
    split = load_split("digits", seed=seed)
    as_x = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    as_y = lambda a: torch.as_tensor(a, dtype=torch.long)  # noqa: E731
    return as_x(split.x_train), as_y(split.y_train), as_x(split.x_val), as_y(split.y_val)


class TensorLoader:
    """Chargeur minimal pour :func:`profond.training.fit` : des lots ``(x[idx], y[idx])`` tirés
    d'une permutation aléatoire à chaque époque (générateur dédié, donc reproductible).

    Il remplace ``torch.utils.data.DataLoader`` quand les données tiennent dans deux tenseurs : il
    découpe les tenseurs au lieu d'assembler les exemples un à un, ce qui divise le coût d'un pas
    par plusieurs sur un petit réseau. Avec ``drop_last=True`` (le défaut), le dernier lot
    incomplet est abandonné : un lot de 3 exemples en fin d'époque donnerait à la BN des
    statistiques très bruitées, et la moyenne mobile les mémoriserait.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = True):
        if len(x) != len(y):
            raise ValueError(f"`x` et `y` doivent avoir le même nombre d'exemples, reçu {len(x)} et {len(y)}.")
        self.x, self.y = x, y
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def _bounds(self) -> list[tuple[int, int]]:
        n, b = len(self.x), self.batch_size
        last = n - n % b if self.drop_last else n
        return [(s, min(s + b, n)) for s in range(0, last, b)]

    def __len__(self) -> int:
        return len(self._bounds())

    def __iter__(self):
        order = torch.randperm(len(self.x), generator=self.generator) if self.shuffle else torch.arange(len(self.x))
        for start, stop in self._bounds():
            idx = order[start:stop]
            yield self.x[idx], self.y[idx]


def digits_loaders(batch_size: int = 64, seed: int = 0) -> tuple[TensorLoader, TensorLoader]:
    """Chargeurs d'entraînement (mélangé) et de validation des chiffres, comme
    :func:`profond.data.make_loaders` (même découpage, même standardisation) mais avec
    :class:`TensorLoader`."""
    x_tr, y_tr, x_val, y_val = digits_tensors(seed)
    return TensorLoader(x_tr, y_tr, batch_size, True, seed), TensorLoader(x_val, y_val, 512, False, drop_last=False)


def _activation_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Sigmoid, nn.ReLU))]


# --------------------------------------------------------------------------------------------
# Rappels (callbacks) qui mesurent pendant l'entraînement
# --------------------------------------------------------------------------------------------
class ProbeCallback(Callback):
    """Tous les ``every`` pas : précision sur (``x_val``, ``y_val``) en mode évaluation, et les
    15e, 50e et 85e centiles de l'entrée d'un neurone de la dernière couche cachée (l'entrée de sa
    non-linéarité) sur le lot d'entraînement qui vient de passer."""

    def __init__(self, model: nn.Module, x_val: torch.Tensor, y_val: torch.Tensor, every: int, unit: int = 0):
        self.x_val, self.y_val, self.every, self.unit = x_val, y_val, every, unit
        self.steps: list[int] = []
        self.accuracy: list[float] = []
        self.percentiles: list[list[float]] = []
        self._last_input: torch.Tensor | None = None
        self._handle = _activation_modules(model)[-1].register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        if module.training:
            self._last_input = inputs[0][:, self.unit].detach()

    def on_batch_end(self, step, model, loss):
        if step % self.every:
            return
        model.eval()
        with torch.no_grad():
            acc = accuracy(model(self.x_val), self.y_val)
        model.train()
        q = torch.quantile(self._last_input.double(), torch.tensor([0.15, 0.5, 0.85], dtype=torch.float64))
        self.steps.append(step)
        self.accuracy.append(acc)
        self.percentiles.append(q.tolist())

    def close(self) -> None:
        self._handle.remove()


# --------------------------------------------------------------------------------------------
# Expérience 1 : Ioffe et Szegedy sur les chiffres ; variantes d'un même MLP
# --------------------------------------------------------------------------------------------
@dataclass
class TrainingRun:
    """Un entraînement d'un MLP, mesuré tous les ``every`` pas."""

    config: MLPConfig
    lr: float
    batch_size: int
    steps: list[int]
    """Pas (lots vus) auxquels on a mesuré."""
    val_accuracy: list[float]
    """Précision de validation (mode évaluation) à ces pas."""
    percentiles: list[list[float]]
    """(15e, 50e, 85e) centiles de l'entrée d'un neurone de la dernière couche cachée."""
    history: History
    """L'historique renvoyé par :func:`profond.training.fit` (une entrée par époque)."""
    train_accuracy: float
    """Précision finale sur l'ensemble d'entraînement (mode évaluation)."""
    final_accuracy: float
    """Précision finale de validation (mode évaluation)."""
    model: nn.Module = field(repr=False)
    """Le réseau entraîné (pour les expériences qui le réutilisent)."""


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
    """Entraîne ``make_mlp(config)`` par SGD (pas ``lr``) sur les chiffres pendant ``epochs``
    époques, avec :func:`profond.training.fit`, et mesure tous les ``every`` pas la précision de
    validation et les centiles de l'entrée d'un neurone de la dernière couche cachée.

    C'est l'expérience MNIST d'Ioffe et Szegedy (2015), transposée aux chiffres 8×8.
    """
    lr = check_positive("lr", lr, strict=True)
    epochs = check_positive_int("epochs", epochs)
    every = check_positive_int("every", every)
    generator = seed_everything(seed)
    model = make_mlp(config, noise_generator=generator)
    train_loader, val_loader = digits_loaders(batch_size, seed)
    x_tr, y_tr, x_val, y_val = digits_tensors(seed)
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
    return TrainingRun(config, lr, batch_size, probe.steps, probe.accuracy, probe.percentiles, history,
                       train_acc, final_acc, model)


# --------------------------------------------------------------------------------------------
# Expérience 2 : robustesse au pas d'apprentissage
# --------------------------------------------------------------------------------------------
@dataclass
class LRSweep:
    """Précision après un budget fixe, pour plusieurs pas d'apprentissage et plusieurs réseaux."""

    base_lrs: list[float]
    """Pas essayés pour trouver le meilleur pas sans BN."""
    base_accuracy: list[float]
    """Précision finale sans BN pour chacun de ces pas."""
    best_lr: float
    """Le meilleur pas sans BN (référence ×1)."""
    multipliers: list[float]
    labels: list[str]
    """Nom de chaque réseau comparé."""
    accuracy: dict[str, list[float]]
    """Pour chaque réseau, la précision finale à chaque multiple du meilleur pas."""
    curves: dict[str, list[list[float]]]
    """Pour chaque réseau et chaque multiple, la précision de validation au fil des pas."""
    steps: list[int]


def lr_sweep(
    base_lrs: Sequence[float] = (0.03, 0.1, 0.3, 1.0),
    multipliers: Sequence[float] = (1, 5, 30),
    variants: Sequence[tuple[str, MLPConfig]] = (
        ("sans BN, ReLU", MLPConfig(norm="none", activation="relu")),
        ("sans BN, sigmoïde", MLPConfig(norm="none", activation="sigmoid")),
        ("BN, ReLU", MLPConfig(norm="bn", activation="relu")),
        ("BN, sigmoïde", MLPConfig(norm="bn", activation="sigmoid")),
    ),
    epochs: int = 8,
    batch_size: int = 64,
    seed: int = 0,
    every: int = 10,
    progress: bool = True,
) -> LRSweep:
    """Cherche le meilleur pas sans BN parmi ``base_lrs`` (premier réseau de ``variants``), puis
    entraîne chaque réseau à ×1, ×5, ×30 ce pas, même budget (``epochs`` époques) et même graine.

    C'est la comparaison d'Ioffe et Szegedy (Inception avec BN à ×1, ×5, ×30 le pas de référence)
    transposée aux chiffres.
    """
    if not base_lrs or not multipliers or not variants:
        raise ValueError("`base_lrs`, `multipliers` et `variants` ne peuvent pas être vides.")
    reference = variants[0][1]
    base_runs = [train_mlp(reference, lr, epochs, batch_size, seed, every, progress=progress) for lr in base_lrs]
    base_acc = [r.final_accuracy for r in base_runs]
    best = float(base_lrs[int(np.argmax(base_acc))])
    accuracy_: dict[str, list[float]] = {}
    curves: dict[str, list[list[float]]] = {}
    steps: list[int] = []
    for label, config in variants:
        accuracy_[label], curves[label] = [], []
        for mult in multipliers:
            if config == reference and mult == 1:
                run = base_runs[int(np.argmax(base_acc))]
            else:
                run = train_mlp(config, best * mult, epochs, batch_size, seed, every, progress=progress)
            accuracy_[label].append(run.final_accuracy)
            curves[label].append(run.val_accuracy)
            steps = run.steps
    return LRSweep([float(v) for v in base_lrs], base_acc, best, [float(m) for m in multipliers],
                   [v[0] for v in variants], accuracy_, curves, steps)


# --------------------------------------------------------------------------------------------
# Expérience 3 : placement de la BN, taille du lot, dropout contre BN
# --------------------------------------------------------------------------------------------
@dataclass
class PlacementResult:
    """Plusieurs variantes d'un MLP, plusieurs graines : précisions finales."""

    labels: list[str]
    seeds: list[int]
    train_accuracy: dict[str, list[float]]
    """Par variante, la précision finale d'entraînement pour chaque graine."""
    val_accuracy: dict[str, list[float]]
    """Par variante, la précision finale de validation pour chaque graine."""
    curves: dict[str, list[list[float]]]
    """Par variante et par graine, la précision de validation au fil des pas."""
    steps: dict[str, list[int]]
    """Par variante, les pas auxquels la précision a été mesurée."""
    batch_sizes: dict[str, int]

    def mean(self, label: str) -> float:
        """Précision de validation moyenne sur les graines."""
        return float(np.mean(self.val_accuracy[label]))

    def gap(self, label: str) -> float:
        """Écart moyen entre précision d'entraînement et de validation (sur-apprentissage)."""
        return float(np.mean(self.train_accuracy[label]) - np.mean(self.val_accuracy[label]))


def compare_variants(
    variants: Sequence[tuple[str, MLPConfig]] | Sequence[tuple[str, MLPConfig, int]],
    lr: float,
    epochs: int = 15,
    batch_size: int = 64,
    seeds: Sequence[int] = (0, 1, 2),
    every: int = 10,
    weight_decay: float = 0.0,
    progress: bool = True,
) -> PlacementResult:
    """Entraîne chaque variante ``(nom, config)`` — ou ``(nom, config, taille_de_lot)`` — avec
    chaque graine, même pas, même budget en époques."""
    labels, bs = [], {}
    train_acc, val_acc, curves, steps = {}, {}, {}, {}
    for variant in variants:
        label, config = variant[0], variant[1]
        b = variant[2] if len(variant) > 2 else batch_size
        labels.append(label)
        bs[label] = b
        train_acc[label], val_acc[label], curves[label] = [], [], []
        for seed in seeds:
            run = train_mlp(config, lr, epochs, b, seed, every, weight_decay=weight_decay, progress=progress)
            train_acc[label].append(run.train_accuracy)
            val_acc[label].append(run.final_accuracy)
            curves[label].append(run.val_accuracy)
            steps[label] = run.steps
    return PlacementResult(labels, list(seeds), train_acc, val_acc, curves, steps, bs)


def batch_noise(
    model: nn.Module,
    x_pool: torch.Tensor,
    batch_sizes: Sequence[int] = (4, 16, 64, 256),
    draws: int = 50,
    seed: int = 0,
) -> dict[int, float]:
    """Bruit que la BN ajoute en entraînement : pour un exemple fixe, on le place dans ``draws``
    lots tirés au hasard dans ``x_pool`` et on mesure l'écart type (moyen sur les sorties) des
    logits qu'il reçoit, en mode entraînement (statistiques du lot). Le modèle n'est pas modifié
    (on travaille sur une copie)."""
    draws = check_positive_int("draws", draws)
    model = copy.deepcopy(model).train()
    g = torch.Generator().manual_seed(seed)
    x0 = x_pool[:1]
    out: dict[int, float] = {}
    with torch.no_grad():
        for b in batch_sizes:
            b = check_positive_int("batch_size", b)
            if b < 2 or b > len(x_pool):
                raise ValueError(f"Chaque taille de lot doit être dans [2, {len(x_pool)}], reçu {b}.")
            logits = []
            for _ in range(draws):
                idx = torch.randperm(len(x_pool) - 1, generator=g)[: b - 1] + 1
                logits.append(model(torch.cat([x0, x_pool[idx]]))[0])
            out[int(b)] = torch.stack(logits).std(dim=0).mean().item()
    return out


# --------------------------------------------------------------------------------------------
# Expérience 4 : entraînement contre évaluation
# --------------------------------------------------------------------------------------------
@dataclass
class PopulationStats:
    """Statistiques de population mémorisées par une couche BN, comparées aux statistiques exactes
    de son entrée sur tout l'ensemble d'entraînement (réseau figé en fin d'entraînement)."""

    running_mean: list[float]
    running_var: list[float]
    exact_mean: list[float]
    exact_var: list[float]
    """Variance non biaisée de l'entrée de la couche sur tout l'ensemble d'entraînement."""
    batch_mode_accuracy: dict[int, float]
    """Précision de validation en normalisant avec les statistiques de lots de cette taille."""
    eval_accuracy: float
    """Précision de validation en mode évaluation (statistiques de population)."""


def population_statistics(model: nn.Module, seed: int = 0, batch_sizes: Sequence[int] = (2, 8, 32, 450)) -> PopulationStats:
    """Compare μ_pop, σ²_pop de la première BN de ``model`` avec la moyenne et la variance exactes
    de son entrée sur l'ensemble d'entraînement, puis mesure la précision de validation quand on
    normalise avec les statistiques de lots de validation de taille ``batch_sizes`` (mode
    entraînement, sur une copie) au lieu des statistiques de population."""
    bns = [m for m in model.modules() if isinstance(m, (BatchNorm1d, nn.BatchNorm1d))]
    if not bns:
        raise ValueError("`model` ne contient aucune couche BatchNorm1d.")
    bn = bns[0]
    x_tr, _, x_val, y_val = digits_tensors(seed)
    captured: list[torch.Tensor] = []
    handle = bn.register_forward_hook(lambda m, i, o: captured.append(i[0].detach()))
    model.eval()
    try:
        with torch.no_grad():
            model(x_tr)
            eval_acc = accuracy(model(x_val), y_val)
    finally:
        handle.remove()
    z = captured[0]
    batch_acc: dict[int, float] = {}
    g = torch.Generator().manual_seed(seed)
    for b in batch_sizes:
        b = check_positive_int("batch_size", b)
        twin = copy.deepcopy(model).train()  # normalise avec le lot ; la copie absorbe les mises à jour
        perm = torch.randperm(len(x_val), generator=g)
        correct = 0
        with torch.no_grad():
            for start in range(0, len(x_val) - b + 1, b):
                idx = perm[start:start + b]
                correct += (twin(x_val[idx]).argmax(1) == y_val[idx]).sum().item()
        batch_acc[int(b)] = correct / (len(x_val) // b * b)
    return PopulationStats(bn.running_mean.tolist(), bn.running_var.tolist(), z.mean(0).tolist(),
                           z.var(0, unbiased=True).tolist(), batch_acc, eval_acc)


@dataclass
class ShiftResult:
    """Précision de validation quand les images de test sont décalées (même constante ajoutée à
    tous les pixels standardisés), pour plusieurs réseaux et deux façons d'évaluer."""

    shifts: list[float]
    accuracy: dict[str, list[float]]


def _recalibrate(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Copie de ``model`` dont les statistiques de population sont recalculées sur ``x``
    (moyenne cumulée sur un passage, en mode entraînement sans gradient)."""
    twin = copy.deepcopy(model)
    for m in twin.modules():
        if isinstance(m, (BatchNorm1d, BatchNorm2d, nn.BatchNorm1d, nn.BatchNorm2d)):
            m.reset_running_stats()
            m.momentum = None
    twin.train()
    with torch.no_grad():
        for start in range(0, len(x), 64):
            if len(x) - start > 1:
                twin(x[start:start + 64])
    return twin.eval()


def shift_robustness(models: dict[str, nn.Module], shifts: Sequence[float] = (0.0, 0.5, 1.0, 1.5, 2.0), seed: int = 0) -> ShiftResult:
    """Pour chaque réseau et chaque décalage δ : précision sur ``x_val + δ`` en mode évaluation ;
    pour les réseaux avec BN, aussi après avoir recalculé les statistiques de population sur les
    données décalées (« recalibrées »)."""
    _, _, x_val, y_val = digits_tensors(seed)
    acc: dict[str, list[float]] = {}
    for name, model in models.items():
        model.eval()
        has_bn = any(isinstance(m, (BatchNorm1d, nn.BatchNorm1d)) for m in model.modules())
        acc[name] = []
        if has_bn:
            acc[name + " (statistiques recalculées)"] = []
        for delta in shifts:
            x = x_val + float(delta)
            with torch.no_grad():
                acc[name].append(accuracy(model(x), y_val))
                if has_bn:
                    acc[name + " (statistiques recalculées)"].append(accuracy(_recalibrate(model, x)(x), y_val))
    return ShiftResult([float(s) for s in shifts], acc)


# --------------------------------------------------------------------------------------------
# Expérience 5 : Santurkar et al. (2018)
# --------------------------------------------------------------------------------------------
def _loss_and_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, list[torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss.item(), [p.grad.detach().clone() for p in model.parameters()]


class _ICSCallback(Callback):
    """Décalage de covariable interne « au sens de l'optimisation » (Santurkar et al.) : pour la
    couche ``layer``, le gradient G de ses poids avant et G' après la mise à jour (SGD, pas ``lr``)
    des seules couches qui la précèdent, sur un même lot ; on mesure ‖G − G'‖ et cos(G, G')."""

    def __init__(self, x, y, layer: int, lr: float, every: int):
        self.x, self.y, self.layer, self.lr, self.every = x, y, layer, lr, every
        self.steps: list[int] = []
        self.l2: list[float] = []
        self.cosine: list[float] = []

    def on_batch_end(self, step, model, loss):
        if step % self.every:
            return
        twin = copy.deepcopy(model).train()
        linears = [m for m in twin.modules() if isinstance(m, nn.Linear)]
        target = linears[self.layer].weight
        before = [p for m in linears[: self.layer] for p in m.parameters()]
        before += [p for m in twin.modules() if isinstance(m, (BatchNorm1d, nn.BatchNorm1d))
                   for p in m.parameters() if _precedes(twin, m, linears[self.layer])]
        _, grads = _loss_and_grads(twin, self.x, self.y)
        named = dict(zip([id(p) for p in twin.parameters()], grads))
        g_before = named[id(target)]
        with torch.no_grad():
            for p in before:
                p -= self.lr * named[id(p)]
        _, grads_after = _loss_and_grads(twin, self.x, self.y)
        g_after = dict(zip([id(p) for p in twin.parameters()], grads_after))[id(target)]
        self.steps.append(step)
        self.l2.append((g_before - g_after).norm().item())
        self.cosine.append(nn.functional.cosine_similarity(g_before.flatten(), g_after.flatten(), dim=0).item())


def _precedes(model: nn.Module, a: nn.Module, b: nn.Module) -> bool:
    order = list(model.modules())
    return order.index(a) < order.index(b)


@dataclass
class ICSResult:
    """Décalage de covariable interne mesuré au fil de l'entraînement, avec et sans BN."""

    steps: list[int]
    l2: dict[str, list[float]]
    cosine: dict[str, list[float]]
    val_accuracy: dict[str, list[float]]
    layer: int


def internal_covariate_shift(
    variants: Sequence[tuple[str, MLPConfig]] = (
        ("sans BN", MLPConfig(norm="none", activation="relu")),
        ("avec BN", MLPConfig(norm="bn", activation="relu")),
    ),
    lr: float = 0.1,
    layer: int = 2,
    epochs: int = 4,
    batch_size: int = 64,
    seed: int = 0,
    every: int = 10,
    progress: bool = True,
) -> ICSResult:
    """Entraîne chaque réseau avec :func:`fit` ; tous les ``every`` pas, mesure ‖G − G'‖ et
    cos(G, G') pour les poids de la couche linéaire numéro ``layer`` (0 = la première)."""
    x_tr, y_tr, _, _ = digits_tensors(seed)
    probe_x, probe_y = x_tr[:256], y_tr[:256]
    l2, cos, val = {}, {}, {}
    steps: list[int] = []
    for label, config in variants:
        seed_everything(seed)
        model = make_mlp(config)
        train_loader, val_loader = digits_loaders(batch_size, seed)
        cb = _ICSCallback(probe_x, probe_y, layer, lr, every)
        history = fit(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=lr), train_loader,
                      val_loader, epochs=epochs, callbacks=[cb], device="cpu", metrics={"accuracy": accuracy},
                      progress=progress)
        l2[label], cos[label], val[label] = cb.l2, cb.cosine, history.metrics["val_accuracy"]
        steps = cb.steps
    return ICSResult(steps, l2, cos, val, layer)


class _LandscapeCallback(Callback):
    """Le long de la direction du gradient (Santurkar et al.) : pour des pas η, perte
    L(w − η g) et variation du gradient ‖∇L(w − η g) − ∇L(w)‖ sur un même lot."""

    def __init__(self, x, y, etas: Sequence[float], every: int):
        self.x, self.y, self.etas, self.every = x, y, list(etas), every
        self.steps: list[int] = []
        self.losses: list[list[float]] = []
        self.grad_change: list[list[float]] = []
        self.grad_norm: list[float] = []

    def on_batch_end(self, step, model, loss):
        if step % self.every:
            return
        twin = copy.deepcopy(model).train()
        start = [p.detach().clone() for p in twin.parameters()]
        _, g0 = _loss_and_grads(twin, self.x, self.y)
        self.grad_norm.append(torch.sqrt(sum((g ** 2).sum() for g in g0)).item())
        losses, changes = [], []
        for eta in self.etas:
            with torch.no_grad():
                for p, w, g in zip(twin.parameters(), start, g0):
                    p.copy_(w - eta * g)
            value, g = _loss_and_grads(twin, self.x, self.y)
            losses.append(value)
            changes.append(torch.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(g, g0))).item())
        self.steps.append(step)
        self.losses.append(losses)
        self.grad_change.append(changes)


@dataclass
class LandscapeResult:
    """Perte et variation du gradient le long de la direction du gradient, au fil de l'entraînement."""

    steps: list[int]
    etas: list[float]
    losses: dict[str, list[list[float]]]
    """Par réseau, pour chaque pas mesuré, la perte à chaque η."""
    grad_change: dict[str, list[list[float]]]
    """Par réseau, pour chaque pas mesuré, ‖∇L(w − η g) − ∇L(w)‖ à chaque η."""
    grad_norm: dict[str, list[float]]
    """Par réseau, ‖g‖ = ‖∇L(w)‖ à chaque pas mesuré."""
    val_accuracy: dict[str, list[float]]

    def loss_range(self, label: str) -> np.ndarray:
        """Écart max − min de la perte le long de la direction, à chaque pas mesuré."""
        a = np.asarray(self.losses[label])
        return a.max(axis=1) - a.min(axis=1)

    def max_grad_change(self, label: str) -> np.ndarray:
        """Plus grande variation du gradient le long de la direction, à chaque pas mesuré."""
        return np.asarray(self.grad_change[label]).max(axis=1)

    def beta_smoothness(self, label: str) -> np.ndarray:
        """« β-régularité effective » (Santurkar et al.) : la plus grande variation du gradient
        rapportée à la distance parcourue, max_η ‖∇L(w − η g) − ∇L(w)‖ / (η ‖g‖), à chaque pas."""
        change = np.asarray(self.grad_change[label])
        distance = np.outer(np.asarray(self.grad_norm[label]), np.asarray(self.etas))
        return (change / distance).max(axis=1)


def loss_landscape(
    variants: Sequence[tuple[str, MLPConfig]] = (
        ("sans BN", MLPConfig(norm="none", activation="relu")),
        ("avec BN", MLPConfig(norm="bn", activation="relu")),
    ),
    lr: float = 0.1,
    etas: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.4),
    epochs: int = 4,
    batch_size: int = 64,
    seed: int = 0,
    every: int = 10,
    progress: bool = True,
) -> LandscapeResult:
    """Entraîne chaque réseau avec :func:`fit` et, tous les ``every`` pas, explore la perte et le
    gradient le long de la direction du gradient (pas ``etas``), sur un lot fixe."""
    x_tr, y_tr, _, _ = digits_tensors(seed)
    probe_x, probe_y = x_tr[:256], y_tr[:256]
    losses, changes, norms, val = {}, {}, {}, {}
    steps: list[int] = []
    for label, config in variants:
        seed_everything(seed)
        model = make_mlp(config)
        train_loader, val_loader = digits_loaders(batch_size, seed)
        cb = _LandscapeCallback(probe_x, probe_y, etas, every)
        history = fit(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=lr), train_loader,
                      val_loader, epochs=epochs, callbacks=[cb], device="cpu", metrics={"accuracy": accuracy},
                      progress=progress)
        losses[label], changes[label], val[label] = cb.losses, cb.grad_change, history.metrics["val_accuracy"]
        norms[label] = cb.grad_norm
        steps = cb.steps
    return LandscapeResult(steps, [float(e) for e in etas], losses, changes, norms, val)


# --------------------------------------------------------------------------------------------
# Expérience 6 : LeNet avec notre BatchNorm2d et avec celle de PyTorch
# --------------------------------------------------------------------------------------------
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
