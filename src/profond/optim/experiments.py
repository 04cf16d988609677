"""Expériences d'entraînement du chapitre « Optimisation » et de son TP.

Toutes passent par :func:`profond.training.fit`, sont bornées (un nombre d'époques), prennent une
graine et renvoient des historiques ; les figures sont faites à part, à partir de ces résultats.
Les comparaisons (balayage du taux d'apprentissage, graines) passent par :mod:`profond.compare` :
:func:`train_classifier` y sert de bras.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from profond.data import load_split, to_dataset
from profond.intro import make_mlp
from profond.training import History, accuracy, fit
from profond.utils import check_positive_int, seed_everything


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
    activation: str = "relu",
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
    model = make_mlp([split.x_train.shape[1], *hidden, n_classes], activation)
    opt = make_optimizer(optimizer, model.parameters(), lr, implementation)
    return fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=epochs, metrics={"accuracy": accuracy},
               device="cpu", progress=progress)


def minibatch_gradient_noise(batch_sizes: Sequence[int], n_draws: int = 200, seed: int = 0,
                             hidden: Sequence[int] = (64,)) -> dict[int, float]:
    """Bruit du gradient stochastique : E‖g_B − ∇L‖² (moyenne sur ``n_draws`` lots tirés
    avec remise) pour chaque taille de lot, sur digits, à l'initialisation d'un MLP.

    Pour des tirages avec remise, la théorie donne une décroissance en 1/b."""
    g = seed_everything(seed)
    split = load_split("digits", seed=0)
    x = torch.as_tensor(split.x_train, dtype=torch.float64)
    y = torch.as_tensor(split.y_train, dtype=torch.long)
    model = make_mlp([x.shape[1], *hidden, 10], "relu").double()
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
