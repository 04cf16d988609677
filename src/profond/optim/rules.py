"""Règles de mise à jour, en fonctions pures (chapitre « Optimisation »).

Chaque règle a la même signature : ``step(param, grad, state, **hyper) -> (param, state)``.
Elle ne modifie rien en place : elle reçoit l'état (``None`` au premier pas) et renvoie le nouvel
état. Les optimiseurs de :mod:`profond.optim.optimizers` sont de minces enveloppes autour d'elles ;
l'ordre des opérations suit ``torch.optim`` pour que les résultats coïncident en float64.

Chaque fonction cite l'équation du chapitre qu'elle code (étiquettes ``optim-eq-…``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from profond.utils import check_in_unit_interval, check_positive

Tensor = torch.Tensor


def _check_shapes(param: Tensor, grad: Tensor) -> None:
    if not isinstance(param, Tensor) or not isinstance(grad, Tensor):
        raise TypeError(
            "`param` et `grad` doivent être des tenseurs torch, reçu "
            f"{type(param).__name__} et {type(grad).__name__}."
        )
    if param.shape != grad.shape:
        raise ValueError(
            f"`grad` doit avoir la forme de `param` : {tuple(param.shape)} attendu, "
            f"{tuple(grad.shape)} reçu."
        )


def _with_l2_penalty(grad: Tensor, param: Tensor, weight_decay: float) -> Tensor:
    """Le gradient de L + λ/2 ‖θ‖² : g + λθ (« weight_decay » de ``torch.optim``, couplé)."""
    check_positive("weight_decay", weight_decay)
    return grad + weight_decay * param if weight_decay else grad


def _check_betas(betas) -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"`betas` doit être un couple (β₁, β₂), reçu {betas!r}.")
    return check_in_unit_interval("betas[0]", betas[0]), check_in_unit_interval("betas[1]", betas[1])


# --- Descente de gradient ---------------------------------------------------------------------


def gd_step(param: Tensor, grad: Tensor, state=None, *, lr: float) -> tuple[Tensor, None]:
    """Un pas de descente de gradient : θ ← θ − α ∇θL (équation ``optim-eq-gd``).

    Sert aussi à la SGD : il suffit de lui passer le gradient d'un lot.

    >>> gd_step(torch.tensor([1.0, 2.0]), torch.tensor([0.5, -1.0]), lr=0.1)[0]
    tensor([0.9500, 2.1000])
    """
    _check_shapes(param, grad)
    lr = check_positive("lr", lr)
    return param - lr * grad, None


def minibatch_indices(
    n_samples: int, batch_size: int, generator: torch.Generator, replacement: bool = False
) -> list[Tensor]:
    """Les lots d'une époque (algorithme ``optim-algo-sgd``).

    Sans remise : une permutation des ``n_samples`` indices découpée en ``n_samples // batch_size``
    paquets (les derniers indices sont laissés pour cette époque). Avec remise : autant de paquets,
    chacun tiré uniformément et indépendamment.
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples <= 0:
        raise ValueError(f"`n_samples` doit être un entier strictement positif, reçu {n_samples!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= n_samples:
        raise ValueError(
            f"`batch_size` doit être un entier entre 1 et n_samples={n_samples}, reçu {batch_size!r}."
        )
    n_batches = n_samples // batch_size
    if replacement:
        return [torch.randint(n_samples, (batch_size,), generator=generator) for _ in range(n_batches)]
    perm = torch.randperm(n_samples, generator=generator)
    return [perm[i * batch_size : (i + 1) * batch_size] for i in range(n_batches)]


# --- Momentum (boule pesante) et Nesterov -------------------------------------------------------


class MomentumState(NamedTuple):
    """Le tampon de vitesse ``v`` du momentum (``None`` avant le premier pas)."""

    velocity: Tensor


def velocity(previous: Tensor | None, grad: Tensor, momentum: float, dampening: float = 0.0) -> Tensor:
    """La vitesse du momentum : v ← μ v + (1 − d) g, et v = g au premier pas (équation
    ``optim-eq-momentum``, convention de ``torch.optim.SGD``).

    >>> velocity(torch.tensor([1.0]), torch.tensor([2.0]), momentum=0.9)
    tensor([2.9000])
    """
    if previous is None:
        return grad.clone()
    return previous * momentum + (1.0 - dampening) * grad


def momentum_step(
    param: Tensor,
    grad: Tensor,
    state: MomentumState | None = None,
    *,
    lr: float,
    momentum: float = 0.9,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
) -> tuple[Tensor, MomentumState]:
    """Un pas de momentum « boule pesante » (Polyak) : θ ← θ − α v (équation ``optim-eq-momentum``).

    ``weight_decay`` ajoute λθ au gradient (pénalité L2), comme ``torch.optim.SGD``.
    """
    _check_shapes(param, grad)
    lr = check_positive("lr", lr)
    check_positive("momentum", momentum)
    grad = _with_l2_penalty(grad, param, weight_decay)
    v = velocity(state.velocity if state is not None else None, grad, momentum, dampening)
    return param - lr * v, MomentumState(v)


def nesterov_step(
    param: Tensor,
    grad: Tensor,
    state: MomentumState | None = None,
    *,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
) -> tuple[Tensor, MomentumState]:
    """Un pas de Nesterov sous la forme de PyTorch : v ← μ v + g, θ ← θ − α (g + μ v), avec la même
    vitesse v que le momentum (équation ``optim-eq-nesterov-pytorch``). Le taux α multiplie toute
    la vitesse : cette forme ne coïncide avec celle de Sutskever et al. (2013),
    :func:`nesterov_sutskever_step`, qu'à taux constant.
    """
    _check_shapes(param, grad)
    lr = check_positive("lr", lr)
    check_positive("momentum", momentum, strict=True)
    grad = _with_l2_penalty(grad, param, weight_decay)
    v = velocity(state.velocity if state is not None else None, grad, momentum, 0.0)
    return param - lr * (grad + momentum * v), MomentumState(v)


def effective_learning_rate(lr: float, momentum: float) -> float:
    """Le taux effectif du momentum, α/(1 − μ) (équation ``optim-eq-taux-effectif``) : sous un
    gradient constant g, la vitesse tend vers g/(1 − μ) et chaque pas vers α g/(1 − μ), le pas de la
    descente de gradient simple de taux α/(1 − μ).

    >>> round(effective_learning_rate(0.02, 0.9), 12)
    0.2
    """
    lr = check_positive("lr", lr)
    momentum = check_positive("momentum", momentum)
    if momentum >= 1:
        raise ValueError(f"`momentum` doit être dans [0, 1[, reçu {momentum}.")
    return lr / (1.0 - momentum)


def nesterov_lookahead(param: Tensor, state: MomentumState | None, momentum: float) -> Tensor:
    """Le point « en avant » θ + μ u où la forme de Sutskever évalue le gradient
    (équation ``optim-eq-nesterov-sutskever`` ; u = 0 avant le premier pas)."""
    if state is None:
        return param.clone()
    return param + momentum * state.velocity


def nesterov_sutskever_step(
    param: Tensor, grad: Tensor, state: MomentumState | None = None, *, lr: float, momentum: float = 0.9
) -> tuple[Tensor, MomentumState]:
    """Un pas de Nesterov sous la forme de Sutskever et al. (2013) : u ← μ u − α ∇L(θ + μ u),
    θ ← θ + u (équation ``optim-eq-nesterov-sutskever``). ``grad`` doit être le gradient au point
    :func:`nesterov_lookahead`. Ici le taux α est *dans* la vitesse u : chaque gradient garde le
    taux de son pas. À taux constant, θ + μ u suit exactement les itérés de
    :func:`nesterov_step` (forme de PyTorch) ; avec un taux qui change, non.
    """
    _check_shapes(param, grad)
    lr = check_positive("lr", lr)
    check_positive("momentum", momentum, strict=True)
    previous = state.velocity if state is not None else torch.zeros_like(param)
    u = momentum * previous - lr * grad
    return param + u, MomentumState(u)


def sgd_step(
    param: Tensor,
    grad: Tensor,
    state: MomentumState | None = None,
    *,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> tuple[Tensor, MomentumState | None]:
    """La règle complète de ``torch.optim.SGD`` : pas simple, momentum ou Nesterov selon les
    hyper-paramètres (c'est elle que :class:`profond.optim.SGD` appelle)."""
    if nesterov:
        if momentum <= 0 or dampening != 0:
            raise ValueError("Nesterov demande `momentum` > 0 et `dampening` = 0.")
        return nesterov_step(param, grad, state, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if momentum:
        return momentum_step(
            param, grad, state, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay
        )
    return gd_step(param, _with_l2_penalty(grad, param, weight_decay), lr=lr)


# --- RMSProp ------------------------------------------------------------------------------------


class RMSpropState(NamedTuple):
    square_avg: Tensor
    grad_avg: Tensor | None
    momentum_buffer: Tensor | None


def rmsprop_step(
    param: Tensor,
    grad: Tensor,
    state: RMSpropState | None = None,
    *,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> tuple[Tensor, RMSpropState]:
    """Un pas de RMSProp : s ← β s + (1 − β) g², θ ← θ − α g / (√s + ε) (équation
    ``optim-eq-rmsprop`` ; Tieleman et Hinton, 2012). Le taux d'apprentissage α est ``lr`` ; le
    coefficient de la moyenne mobile, noté β dans le chapitre, s'appelle ``alpha`` dans
    ``torch.optim.RMSprop`` (on garde ce nom d'argument pour rester son jumeau). Avec ``centered``,
    s est remplacé par s − ḡ², la variance estimée du gradient."""
    _check_shapes(param, grad)
    lr = check_positive("lr", lr)
    check_in_unit_interval("alpha", alpha)
    check_positive("eps", eps)
    check_positive("momentum", momentum)
    grad = _with_l2_penalty(grad, param, weight_decay)
    if state is None:
        zeros = torch.zeros_like(param)
        state = RMSpropState(zeros, zeros.clone() if centered else None, zeros.clone() if momentum > 0 else None)
    square_avg = state.square_avg * alpha + (1 - alpha) * grad * grad
    grad_avg = None
    if centered:
        grad_avg = state.grad_avg * alpha + (1 - alpha) * grad
        avg = (square_avg - grad_avg * grad_avg).sqrt() + eps
    else:
        avg = square_avg.sqrt() + eps
    if momentum > 0:
        buf = state.momentum_buffer * momentum + grad / avg
        return param - lr * buf, RMSpropState(square_avg, grad_avg, buf)
    return param - lr * (grad / avg), RMSpropState(square_avg, grad_avg, None)


# --- Adam et AdamW ------------------------------------------------------------------------------


class AdamState(NamedTuple):
    """État d'Adam : nombre de pas t, moments biaisés m et v, et max de v (AMSGrad)."""

    step: int
    exp_avg: Tensor
    exp_avg_sq: Tensor
    max_exp_avg_sq: Tensor | None


def first_moment(m: Tensor, grad: Tensor, beta1: float) -> Tensor:
    """Moyenne mobile (biaisée) du gradient : m_t = β₁ m_{t−1} + (1 − β₁) g_t
    (équation ``optim-eq-adam-m``)."""
    return m * beta1 + (1 - beta1) * grad


def second_moment(v: Tensor, grad: Tensor, beta2: float) -> Tensor:
    """Moyenne mobile (biaisée) du carré du gradient : v_t = β₂ v_{t−1} + (1 − β₂) g_t²
    (équation ``optim-eq-adam-v``)."""
    return v * beta2 + (1 - beta2) * grad * grad


def bias_correction(beta: float, step: int) -> float:
    """Le facteur 1 − β^t qui corrige le biais vers 0 des moments initialisés à 0
    (équation ``optim-eq-adam-hat``).

    >>> round(bias_correction(0.9, 1), 6), round(bias_correction(0.9, 100), 6)
    (0.1, 0.999973)
    """
    return 1 - beta**step


def adam_step(
    param: Tensor,
    grad: Tensor,
    state: AdamState | None = None,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    decoupled: bool = False,
) -> tuple[Tensor, AdamState]:
    """Un pas d'Adam (Kingma et Ba, 2015 ; équation ``optim-eq-adam-update``) :

    θ ← θ − α · m̂_t / (√v̂_t + ε),  avec m̂_t = m_t / (1 − β₁^t) et v̂_t = v_t / (1 − β₂^t).

    Les moments m_t, v_t restent biaisés dans l'état : la correction n'intervient qu'à
    l'utilisation, et ε s'ajoute *après* la racine. ``weight_decay`` est une pénalité L2 ajoutée au
    gradient (Adam) ou, si ``decoupled``, une décroissance des poids découplée (AdamW).
    """
    _check_shapes(param, grad)
    lr = check_positive("lr", lr)
    beta1, beta2 = _check_betas(betas)
    check_positive("eps", eps)
    check_positive("weight_decay", weight_decay)
    if state is None:
        zeros = torch.zeros_like(param)
        state = AdamState(0, zeros, zeros.clone(), zeros.clone() if amsgrad else None)
    if weight_decay:
        if decoupled:
            param = param * (1 - lr * weight_decay)
        else:
            grad = _with_l2_penalty(grad, param, weight_decay)
    step = state.step + 1
    m = first_moment(state.exp_avg, grad, beta1)
    v = second_moment(state.exp_avg_sq, grad, beta2)
    bias_correction1 = bias_correction(beta1, step)
    bias_correction2_sqrt = math.sqrt(bias_correction(beta2, step))
    max_v = None
    if amsgrad:
        max_v = torch.maximum(state.max_exp_avg_sq, v)
        denom = max_v.sqrt() / bias_correction2_sqrt + eps
    else:
        denom = v.sqrt() / bias_correction2_sqrt + eps
    step_size = lr / bias_correction1
    return param - step_size * (m / denom), AdamState(step, m, v, max_v)


def adamw_step(
    param: Tensor,
    grad: Tensor,
    state: AdamState | None = None,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
) -> tuple[Tensor, AdamState]:
    """Un pas d'AdamW (Loshchilov et Hutter, 2019 ; équation ``optim-eq-adamw``) : θ est d'abord
    multiplié par 1 − αλ, puis le pas d'Adam est appliqué sans pénalité dans le gradient."""
    return adam_step(
        param, grad, state, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, decoupled=True
    )
