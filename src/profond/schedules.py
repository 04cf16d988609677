"""Faire varier le taux d'apprentissage au fil des pas (partie 1, section `intro-sec-ordonnancement`).

Trois façons de piloter le taux α d'une SGD avec momentum pendant un nombre fixé d'époques :
constant, décroissance en cosinus jusqu'à zéro, et le cycle unique de ``OneCycleLR`` (montée
jusqu'à α puis descente bien en dessous). :func:`schedule_run` entraîne une fois ; la page compare
les trois avec :func:`profond.compare.compare`, chacun à son meilleur α. :func:`linear_warmup`
ajoute l'échauffement linéaire des premiers pas (TP « Pièges », section `piege-sec-echauffement`).
"""

from __future__ import annotations

import torch
from torch import nn

from profond.data import digits_tensors, tensor_loader
from profond.intro import make_mlp
from profond.training import History, accuracy, fit
from profond.utils import check_in_unit_interval, check_positive, check_positive_int, seed_everything

SCHEDULES = ("constant", "cosinus", "OneCycleLR")
"""Les ordonnancements connus de :func:`make_scheduler`."""


def make_scheduler(schedule: str, optimizer: torch.optim.Optimizer, total_steps: int):
    """L'ordonnanceur ``schedule`` (l'un de :data:`SCHEDULES`) pour ``total_steps`` pas, à appeler
    après chaque lot ; ``None`` pour le taux constant. Le taux de départ (constant, cosinus) ou
    maximal (``OneCycleLR``) est celui de l'optimiseur. ``OneCycleLR`` garde ici le momentum fixe
    (``cycle_momentum=False``), pour que seul le taux change d'un bras à l'autre.

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    >>> type(make_scheduler("cosinus", opt, 10)).__name__
    'CosineAnnealingLR'
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"`schedule` doit être l'un de {SCHEDULES}, reçu {schedule!r}.")
    total_steps = check_positive_int("total_steps", total_steps)
    if schedule == "constant":
        return None
    if schedule == "cosinus":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    max_lr = optimizer.param_groups[0]["lr"]
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps,
                                               cycle_momentum=False)


def linear_warmup(optimizer: torch.optim.Optimizer, warmup_steps: int):
    """Échauffement linéaire (équation `piege-eq-echauffement`) : au pas :math:`t = 1, 2, \\dots`
    (un appel de ``scheduler.step()`` par lot), le taux vaut
    :math:`\\alpha_t = \\alpha \\min(1, t / T_w)` avec :math:`T_w` = ``warmup_steps``, puis reste
    au taux α de l'optimiseur. C'est ``torch.optim.lr_scheduler.LinearLR`` partant de α/T_w.

    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = linear_warmup(opt, 4)
    >>> lrs = []
    >>> for _ in range(6):
    ...     lrs.append(opt.param_groups[0]["lr"]); opt.step(); sched.step()
    >>> [round(a, 3) for a in lrs]
    [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    """
    warmup_steps = check_positive_int("warmup_steps", warmup_steps)
    if warmup_steps == 1:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0 / warmup_steps, end_factor=1.0,
                                             total_iters=warmup_steps - 1)


def schedule_run(schedule: str, lr: float, seed: int = 0, epochs: int = 8, momentum: float = 0.9,
                 hidden: int = 64, batch_size: int = 32) -> History:
    """Entraîne le MLP 64 → hidden → hidden → 10 (ReLU) sur les chiffres (pixels dans [0, 1],
    découpage fixe) par SGD de momentum ``momentum``, le taux suivant ``schedule`` à partir de
    ``lr`` (:func:`make_scheduler`, un pas d'ordonnanceur par lot). La graine fixe
    l'initialisation et l'ordre des lots. Avec un momentum μ, α déplace les paramètres comme une
    SGD simple de taux α/(1 − μ)."""
    check_positive("lr", lr, strict=True)
    momentum = check_in_unit_interval("momentum", momentum)
    x, y, xv, yv = digits_tensors(None, 0)
    g = seed_everything(seed)
    model = make_mlp([64, hidden, hidden, 10], "relu")
    train_loader = tensor_loader(x, y, batch_size, generator=g)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    scheduler = make_scheduler(schedule, optimizer, check_positive_int("epochs", epochs) * len(train_loader))
    return fit(model, nn.CrossEntropyLoss(), optimizer, train_loader, tensor_loader(xv, yv, 512, shuffle=False),
               epochs, scheduler=scheduler, scheduler_step="batch", device="cpu", metrics={"accuracy": accuracy},
               progress=False)
