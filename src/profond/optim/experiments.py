"""Expériences d'entraînement du chapitre « Optimisation » et de son TP.

Toutes passent par :func:`profond.training.fit`, sont bornées (un nombre d'époques), prennent une
graine et renvoient des historiques ; les figures sont faites à part, à partir de ces résultats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn

from profond.data import load_split, to_dataset
from profond.training import History, accuracy, fit
from profond.utils import check_positive_int, progress_bar, seed_everything


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """Un perceptron multicouche : couches linéaires de tailles ``sizes``, ``activation`` entre elles."""
    if len(sizes) < 2:
        raise ValueError(f"`sizes` doit contenir au moins deux tailles (entrée, sortie), reçu {list(sizes)}.")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


#: Les optimiseurs des expériences : nom -> (classe, arguments en plus du taux d'apprentissage).
OPTIMIZERS: dict[str, tuple[str, dict]] = {
    "SGD": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "Nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "RMSProp": ("RMSprop", {}),
    "Adam": ("Adam", {}),
}


def make_optimizer(name: str, params, lr: float, implementation: str = "profond") -> torch.optim.Optimizer:
    """L'optimiseur ``name`` (clé de ``OPTIMIZERS``), pris dans :mod:`profond.optim` (par défaut) ou
    dans ``torch.optim`` (``implementation="torch"``) : mêmes classes, mêmes arguments."""
    import profond.optim as po

    if name not in OPTIMIZERS:
        raise ValueError(f"`name` doit être l'un de {sorted(OPTIMIZERS)}, reçu {name!r}.")
    if implementation not in ("profond", "torch"):
        raise ValueError(f"`implementation` doit valoir 'profond' ou 'torch', reçu {implementation!r}.")
    module = po if implementation == "profond" else torch.optim
    cls, kwargs = OPTIMIZERS[name]
    return getattr(module, cls)(params, lr=lr, **kwargs)


def train_classifier(
    dataset: str = "digits",
    hidden: Sequence[int] = (64,),
    optimizer: str = "SGD",
    lr: float = 0.1,
    batch_size: int = 32,
    epochs: int = 10,
    seed: int = 0,
    standardize: bool = True,
    activation: type[nn.Module] = nn.ReLU,
    implementation: str = "profond",
    progress: bool = False,
) -> History:
    """Entraîne un MLP sur ``dataset`` (iris ou digits) avec ``fit`` et renvoie l'historique
    (perte d'entraînement et de validation, taux de bonnes classifications en validation).

    ``batch_size=0`` signifie « tout l'ensemble d'entraînement » : descente de gradient pleine."""
    epochs = check_positive_int("epochs", epochs)
    split = load_split(dataset, seed=0, standardize=standardize)
    bs = len(split.x_train) if batch_size == 0 else check_positive_int("batch_size", batch_size)
    g = seed_everything(seed)
    train = torch.utils.data.DataLoader(to_dataset(split.x_train, split.y_train), batch_size=bs, shuffle=True, generator=g)
    val = torch.utils.data.DataLoader(to_dataset(split.x_val, split.y_val), batch_size=512)
    n_classes = int(split.y_train.max()) + 1
    model = mlp([split.x_train.shape[1], *hidden, n_classes], activation)
    opt = make_optimizer(optimizer, model.parameters(), lr, implementation)
    return fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=epochs, metrics={"accuracy": accuracy},
               device="cpu", progress=progress)


@dataclass
class SweepResult:
    """Résultats d'un balayage : ``values[i, s]`` pour le réglage i et la graine s."""

    settings: list
    seeds: list[int]
    final_val_loss: np.ndarray
    final_val_accuracy: np.ndarray
    histories: dict = field(default_factory=dict)  # (réglage, graine) -> History


def learning_rate_sweep(lrs: Sequence[float], seeds: Sequence[int] = (0, 1), optimizer: str = "SGD",
                        epochs: int = 8, batch_size: int = 32) -> SweepResult:
    """Balayage du taux d'apprentissage sur digits : perte et précision de validation finales."""
    loss = np.full((len(lrs), len(seeds)), np.nan)
    acc = np.full((len(lrs), len(seeds)), np.nan)
    histories = {}
    for i, lr in enumerate(progress_bar(lrs, desc="taux d'apprentissage", leave=False)):
        for s, seed in enumerate(seeds):
            h = train_classifier(optimizer=optimizer, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed)
            histories[(lr, seed)] = h
            loss[i, s] = h.val_loss[-1]
            acc[i, s] = h.metrics["val_accuracy"][-1]
    return SweepResult(list(lrs), list(seeds), loss, acc, histories)


def compare_optimizers(configs: dict[str, tuple[str, float, int]], seeds: Sequence[int] = (0, 1, 2),
                       epochs: int = 10, implementation: str = "profond") -> dict[str, list[History]]:
    """Entraîne le même MLP sur digits avec plusieurs optimiseurs ; ``configs`` associe à chaque
    étiquette ``(optimiseur, taux, taille de lot)`` (taille 0 : descente de gradient pleine).
    ``implementation`` choisit les optimiseurs de :mod:`profond.optim` ou de ``torch.optim``."""
    out: dict[str, list[History]] = {}
    for label, (name, lr, bs) in progress_bar(configs.items(), desc="optimiseurs", leave=False):
        out[label] = [train_classifier(optimizer=name, lr=lr, batch_size=bs, epochs=epochs, seed=s,
                                      implementation=implementation) for s in seeds]
    return out


def minibatch_gradient_noise(batch_sizes: Sequence[int], n_draws: int = 200, seed: int = 0,
                             hidden: Sequence[int] = (64,)) -> dict[int, float]:
    """Bruit du gradient stochastique : E‖g_B − ∇L‖² (moyenne sur ``n_draws`` minibatchs tirés
    avec remise) pour chaque taille de lot, sur digits, à l'initialisation d'un MLP.

    Pour des tirages avec remise, la théorie donne une décroissance en 1/b."""
    g = seed_everything(seed)
    split = load_split("digits", seed=0)
    x = torch.as_tensor(split.x_train, dtype=torch.float64)
    y = torch.as_tensor(split.y_train, dtype=torch.long)
    model = mlp([x.shape[1], *hidden, 10]).double()
    loss_fn = nn.CrossEntropyLoss()

    def flat_grad(idx):
        model.zero_grad()
        loss_fn(model(x[idx]), y[idx]).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    full = flat_grad(torch.arange(len(x)))
    noise = {}
    for b in batch_sizes:
        b = check_positive_int("batch_sizes", b)
        errs = [((flat_grad(torch.randint(len(x), (b,), generator=g)) - full) ** 2).sum().item() for _ in range(n_draws)]
        noise[b] = float(np.mean(errs))
    return noise


def standardization_experiment(epochs: int = 100, seed: int = 0, batch_size: int = 30) -> dict[str, History]:
    """L'expérience de prétraitement du chapitre : le même MLP 4 → 256 → 256 → 256 → 3 (ReLU, Adam)
    entraîné sur iris, même graine, avec et sans standardisation des entrées."""
    out = {}
    for label, standardize in (("sans standardisation", False), ("avec standardisation", True)):
        out[label] = train_classifier("iris", hidden=(256, 256, 256), optimizer="Adam", lr=1e-3,
                                      batch_size=batch_size, epochs=epochs, seed=seed, standardize=standardize)
    return out


def activation_derivatives(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Dérivées de tanh, de la sigmoïde et de ReLU en chaque point de ``x``, calculées par
    autograd (section ``optim-sec-profondeur``). Pour ReLU en 0, PyTorch prend la dérivée 0."""
    if not isinstance(x, torch.Tensor) or x.ndim != 1:
        raise ValueError("`x` doit être un tenseur à une dimension.")
    out = {}
    for name, fn in (("tanh", torch.tanh), ("sigmoïde", torch.sigmoid), ("ReLU", torch.relu)):
        xr = x.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(xr).sum(), xr)
        out[name] = grad
    return out
