"""Adam en pratique : pénalité L2 ou décroissance découplée (AdamW), et échauffement du taux
(TP « Pièges », sections `piege-sec-adamw` et `piege-sec-echauffement`).

Chaque expérience entraîne le MLP des chiffres de :func:`profond.intro.make_mlp` avec
:func:`profond.training.fit`, bornée en époques et fixée par sa graine ; la page compare les bras
avec :func:`profond.compare.compare`, chacun à son meilleur réglage.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from profond.data import digits_tensors, tensor_loader
from profond.intro import make_mlp
from profond.optim.optimizers import Adam, AdamW
from profond.schedules import linear_warmup
from profond.training import Callback, History, accuracy, fit
from profond.utils import check_positive, check_positive_int, seed_everything

__all__ = ["WEIGHT_DECAY_METHODS", "weight_decay_run", "l2_decay_rates", "UpdateSize", "warmup_run"]

WEIGHT_DECAY_METHODS = ("Adam + L2", "AdamW")
"""Les deux façons de régulariser Adam comparées par :func:`weight_decay_run`."""


def weight_decay_run(method: str, lr: float, weight_decay: float, seed: int = 0, epochs: int = 20,
                     n_train: int = 128, hidden: int = 64, batch_size: int = 32) -> tuple[History, Adam]:
    """Entraîne le MLP 64 → hidden → hidden → 10 (ReLU) sur ``n_train`` chiffres (pixels dans
    [0, 1], validation entière) avec ``profond.optim.Adam(weight_decay=λ)`` (``"Adam + L2"`` :
    λθ ajouté au gradient, puis divisé par √v̂, équation `piege-eq-adam-l2`) ou
    ``profond.optim.AdamW(weight_decay=λ)`` (``"AdamW"`` : θ multiplié par 1 − αλ, équation
    `optim-eq-adamw`). λ s'applique à tous les paramètres dans les deux bras. La graine fixe
    l'initialisation et l'ordre des lots. Renvoie l'historique et l'optimiseur (son état donne v̂)."""
    if method not in WEIGHT_DECAY_METHODS:
        raise ValueError(f"`method` doit être l'une de {WEIGHT_DECAY_METHODS}, reçu {method!r}.")
    check_positive("lr", lr, strict=True)
    check_positive("weight_decay", weight_decay)
    x, y, xv, yv = digits_tensors(check_positive_int("n_train", n_train), 0)
    g = seed_everything(seed)
    model = make_mlp([64, hidden, hidden, 10], "relu")
    optimizer = (Adam if method == "Adam + L2" else AdamW)(model.parameters(), lr=lr, weight_decay=weight_decay)
    history = fit(model, nn.CrossEntropyLoss(), optimizer, tensor_loader(x, y, batch_size, generator=g),
                  tensor_loader(xv, yv, 512, shuffle=False), epochs, device="cpu", metrics={"accuracy": accuracy},
                  progress=False)
    return history, optimizer


def l2_decay_rates(optimizer: Adam) -> np.ndarray:
    """Pour un ``profond.optim.Adam`` avec pénalité L2 (λ = ``weight_decay``), le taux de
    décroissance effectif de chaque coordonnée des matrices de poids au dernier pas,
    :math:`\\lambda / (\\sqrt{\\hat v_t} + \\varepsilon)` (équation `piege-eq-adam-l2`) : le pas
    retire :math:`\\alpha` fois ce taux fois θ, là où AdamW retire :math:`\\alpha\\lambda\\,\\theta`
    pour toutes les coordonnées. Les biais (tenseurs à une dimension) sont exclus."""
    if not isinstance(optimizer, Adam) or isinstance(optimizer, AdamW):
        raise TypeError("`optimizer` doit être un profond.optim.Adam avec pénalité L2 (pas AdamW).")
    rates = []
    for group in optimizer.param_groups:
        lam, eps, beta2 = group["weight_decay"], group["eps"], group["betas"][1]
        for p in group["params"]:
            state = optimizer.state[p].get("rule_state")
            if p.ndim < 2 or state is None:
                continue
            v_hat = state["exp_avg_sq"] / (1 - beta2 ** state["step"])
            rates.append((lam / (v_hat.sqrt() + eps)).flatten())
    if not rates:
        raise ValueError("L'optimiseur n'a encore fait aucun pas : pas d'estimation v̂.")
    return torch.cat(rates).numpy()


class UpdateSize(Callback):
    """Rappel de :func:`profond.training.fit` : après chaque pas, la taille de la mise à jour
    :math:`\\lVert\\theta_t - \\theta_{t-1}\\rVert / \\sqrt{d}` (moyenne quadratique sur les
    :math:`d` paramètres) et le taux α_t du pas, dans ``sizes`` et ``lrs``."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.previous = torch.cat([p.detach().flatten() for p in model.parameters()])
        self.sizes: list[float] = []
        self.lrs: list[float] = []
        self._lr = optimizer.param_groups[0]["lr"]  # taux utilisé par le pas qui vient (avant l'ordonnanceur)

    def on_batch_end(self, step: int, model: nn.Module, loss: float) -> None:
        current = torch.cat([p.detach().flatten() for p in model.parameters()])
        self.sizes.append(((current - self.previous).pow(2).mean().sqrt()).item())
        self.lrs.append(self._lr)
        self.previous = current
        self._lr = self.optimizer.param_groups[0]["lr"]


def warmup_run(lr: float, warmup_steps: int, seed: int = 0, epochs: int = 4, n_train: int = 320, depth: int = 4,
               hidden: int = 64, batch_size: int = 32) -> tuple[History, UpdateSize]:
    """Entraîne un MLP de ``depth`` couches cachées de largeur ``hidden`` (ReLU) sur ``n_train``
    chiffres par ``profond.optim.Adam`` de taux ``lr``, avec un échauffement linéaire sur
    ``warmup_steps`` pas (:func:`profond.schedules.linear_warmup`, équation `piege-eq-echauffement` ;
    0 : taux constant). Renvoie l'historique et le rappel :class:`UpdateSize` (taille de chaque
    mise à jour)."""
    check_positive("lr", lr, strict=True)
    warmup_steps = check_positive_int("warmup_steps", warmup_steps, allow_zero=True)
    x, y, xv, yv = digits_tensors(check_positive_int("n_train", n_train), 0)
    g = seed_everything(seed)
    model = make_mlp([64] + [hidden] * check_positive_int("depth", depth) + [10], "relu")
    optimizer = Adam(model.parameters(), lr=lr)
    scheduler = linear_warmup(optimizer, warmup_steps) if warmup_steps > 1 else None
    sizes = UpdateSize(model, optimizer)
    history = fit(model, nn.CrossEntropyLoss(), optimizer, tensor_loader(x, y, batch_size, generator=g),
                  tensor_loader(xv, yv, 512, shuffle=False), epochs, scheduler=scheduler, scheduler_step="batch",
                  callbacks=[sizes], device="cpu", metrics={"accuracy": accuracy}, progress=False)
    return history, sizes

