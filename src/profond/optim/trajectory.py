"""Trajectoires d'optimisation (chapitre « Optimisation ») : une boucle bornée qui applique une
règle pure à une :class:`~profond.optim.objectives.Objective` et renvoie un historique.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from profond.optim.objectives import Objective
from profond.optim.rules import minibatch_indices
from profond.utils import check_positive_int

Rule = Callable[[torch.Tensor, torch.Tensor, object], tuple[torch.Tensor, object]]


@dataclass(frozen=True)
class Trajectory:
    """Historique d'une optimisation : une ligne par pas (la ligne 0 est le point de départ).

    ``epoch[k]`` est le nombre d'époques (passages sur les données) consommées après le pas k :
    1 par pas pour la descente de gradient, 1/(nombre de lots) par pas pour la SGD.
    """

    name: str
    params: np.ndarray  # (T + 1, d)
    loss: np.ndarray  # (T + 1,)
    epoch: np.ndarray  # (T + 1,)

    @property
    def n_steps(self) -> int:
        return len(self.loss) - 1


def run_trajectory(
    objective: Objective,
    rule: Rule,
    init,
    epochs: int,
    batch_size: int | None = None,
    replacement: bool = False,
    seed: int = 0,
    name: str = "",
    callback: Callable[[int, torch.Tensor, float], bool | None] | None = None,
) -> Trajectory:
    """Optimise ``objective`` depuis ``init`` pendant ``epochs`` époques avec la règle ``rule``
    (par exemple ``functools.partial(adam_step, lr=0.1)``).

    ``batch_size=None`` : gradient exact, un pas par époque (descente de gradient). Sinon, gradient
    estimé sur des lots tirés avec ou sans remise (algorithme ``optim-algo-sgd``), avec un
    générateur dédié de graine ``seed``. ``callback(step, param, loss)`` peut renvoyer ``True``
    pour arrêter avant la fin.
    """
    epochs = check_positive_int("epochs", epochs)
    param = torch.as_tensor(init, dtype=torch.float64).clone()
    if param.ndim != 1:
        raise ValueError(f"`init` doit être un vecteur, reçu la forme {tuple(param.shape)}.")
    if batch_size is not None and objective.n_samples is None:
        raise ValueError(f"`batch_size` n'a pas de sens pour « {objective.name} », qui n'est pas une moyenne sur des données.")
    generator = torch.Generator().manual_seed(seed)
    params, losses, epoch_marks = [param.numpy().copy()], [objective.loss(param).item()], [0.0]
    state, step, stopped = None, 0, False
    for epoch in range(epochs):
        batches = [None] if batch_size is None else minibatch_indices(objective.n_samples, batch_size, generator, replacement)
        for k, idx in enumerate(batches):
            param, state = rule(param, objective.grad(param, idx), state)
            step += 1
            loss = objective.loss(param).item()
            params.append(param.numpy().copy())
            losses.append(loss)
            epoch_marks.append(epoch + (k + 1) / len(batches))
            # On s'arrête si le coût diverge ou si le rappel le demande.
            stopped = not np.isfinite(loss) or (callback is not None and bool(callback(step, param, loss)))
            if stopped:
                break
        if stopped:
            break
    return Trajectory(name=name, params=np.array(params), loss=np.array(losses), epoch=np.array(epoch_marks))


def start_on_circle(center, radius: float, seed: int) -> torch.Tensor:
    """Un point de départ à distance ``radius`` de ``center``, dans une direction tirée avec la
    graine ``seed`` : sur un problème déterministe, c'est la graine qui fait varier l'essai."""
    if radius <= 0:
        raise ValueError(f"`radius` doit être strictement positif, reçu {radius}.")
    center = torch.as_tensor(center, dtype=torch.float64)
    if center.shape != (2,):
        raise ValueError(f"`center` doit être un point du plan, reçu la forme {tuple(center.shape)}.")
    angle = 2 * np.pi * torch.rand((), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return center + radius * torch.stack([torch.cos(angle), torch.sin(angle)])


def run_from_circle(objective: Objective, rule: Rule, seed: int, *, lr: float, epochs: int,
                    radius: float = 2.5, batch_size: int | None = None, **hyper) -> Trajectory:
    """Un bras de :func:`profond.compare.compare` sur un problème du plan : la règle ``rule``
    (par exemple :func:`~profond.optim.rules.momentum_step`) de taux ``lr`` part d'un point tiré
    par :func:`start_on_circle` autour du minimum ; la même graine ordonne les lots si
    ``batch_size`` est donné."""
    if objective.minimum is None:
        raise ValueError(f"« {objective.name} » n'a pas de minimum connu autour duquel partir.")
    init = start_on_circle(objective.minimum, radius, seed)
    step = functools.partial(rule, lr=lr, **hyper)
    return run_trajectory(objective, step, init, epochs, batch_size=batch_size, seed=seed, name=rule.__name__)


def optimality_gap(objective: Objective, trajectory: Trajectory) -> float:
    """L(w) − L(w*) au dernier point de la trajectoire (infini si elle a divergé)."""
    if objective.minimum is None:
        raise ValueError(f"« {objective.name} » n'a pas de minimum connu.")
    gap = float(trajectory.loss[-1] - objective.loss(objective.minimum).item())
    return gap if np.isfinite(gap) else float("inf")


def nesterov_forms(objective: Objective, init, lrs, momentum: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Les deux écritures de Nesterov pas à pas, avec le taux ``lrs[t]`` au pas t (section
    ``optim-sec-nesterov``) : renvoie les itérés θ de la forme de PyTorch
    (:func:`~profond.optim.rules.nesterov_step`) et les points « en avant » θ + μ u de la forme de
    Sutskever (:func:`~profond.optim.rules.nesterov_sutskever_step`), tous deux de forme (T + 1, d).
    À taux constant, les deux suites sont égales ; sinon, elles se séparent."""
    from profond.optim.rules import nesterov_lookahead, nesterov_step, nesterov_sutskever_step

    lrs = [float(a) for a in lrs]
    if not lrs:
        raise ValueError("`lrs` doit contenir au moins un taux.")
    theta_p = torch.as_tensor(init, dtype=torch.float64).clone()
    theta_s, state_p, state_s = theta_p.clone(), None, None
    pytorch, sutskever = [theta_p.numpy().copy()], [theta_s.numpy().copy()]
    for lr in lrs:
        theta_p, state_p = nesterov_step(theta_p, objective.grad(theta_p), state_p, lr=lr, momentum=momentum)
        ahead = nesterov_lookahead(theta_s, state_s, momentum)
        theta_s, state_s = nesterov_sutskever_step(theta_s, objective.grad(ahead), state_s, lr=lr, momentum=momentum)
        pytorch.append(theta_p.numpy().copy())
        sutskever.append(nesterov_lookahead(theta_s, state_s, momentum).numpy().copy())
    return np.array(pytorch), np.array(sutskever)
