"""Trajectoires d'optimisation (chapitre « Optimisation ») : une boucle bornée qui applique une
règle pure à une :class:`~profond.optim.objectives.Objective` et renvoie un historique.
"""

from __future__ import annotations

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
    1 par pas pour la descente de gradient, 1/(nombre de minibatchs) par pas pour la SGD.
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
    estimé sur des minibatchs tirés avec ou sans remise (algorithme ``optim-algo-sgd``), avec un
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
