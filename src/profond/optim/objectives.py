"""Fonctions de coût du chapitre « Optimisation », avec leurs gradients exacts.

Chaque fonction de coût et son gradient sont écrits à la main (et vérifiés contre autograd dans
les tests) ; :class:`Objective` les regroupe pour :func:`profond.optim.run_trajectory`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from scipy.signal import find_peaks

Tensor = torch.Tensor


def _as_vector(w, name: str = "w", size: int | None = None) -> Tensor:
    if not isinstance(w, Tensor):
        raise TypeError(f"`{name}` doit être un tenseur torch, reçu {type(w).__name__}.")
    if w.ndim != 1 or (size is not None and w.shape[0] != size):
        attendu = f"({size},)" if size is not None else "(d,)"
        raise ValueError(f"`{name}` doit être un vecteur de forme {attendu}, reçu {tuple(w.shape)}.")
    return w


# --- Régression logistique régularisée ------------------------------------------------------------


def make_logistic_data(n_samples: int = 20, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Le jeu de données jouet du chapitre : x uniforme dans [−1,5 ; 1,5]², y = +1 si x₁ > 0,
    −1 sinon (float64)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_samples, 2, generator=g, dtype=torch.float64) * 3 - 1.5
    y = torch.where(x[:, 0] > 0, 1.0, -1.0).to(torch.float64)
    return x, y


def _check_xy(x: Tensor, y: Tensor, w: Tensor) -> None:
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"`x` doit être de forme (n, d) et `y` de forme (n,), reçu {tuple(x.shape)} et {tuple(y.shape)}."
        )
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"`w` doit avoir {x.shape[1]} composantes (une par colonne de x), reçu {w.shape[0]}.")


def logistic_loss(w: Tensor, x: Tensor, y: Tensor, lambd: float) -> Tensor:
    """Coût logistique régularisé, en moyenne sur les exemples (équation ``optim-eq-logistique``) :

    L(w) = 1/n Σᵢ log(1 + exp(−yᵢ wᵀxᵢ)) + λ/2 ‖w‖².
    """
    w = _as_vector(w)
    _check_xy(x, y, w)
    margins = y * (x @ w)
    return torch.nn.functional.softplus(-margins).mean() + 0.5 * lambd * (w @ w)


def logistic_loss_grad(w: Tensor, x: Tensor, y: Tensor, lambd: float) -> Tensor:
    """Gradient du coût logistique : ∇L(w) = −1/n Σᵢ yᵢ σ(−yᵢ wᵀxᵢ) xᵢ + λ w."""
    w = _as_vector(w)
    _check_xy(x, y, w)
    margins = y * (x @ w)
    return -(x.T @ (y * torch.sigmoid(-margins))) / x.shape[0] + lambd * w


def logistic_loss_hessian(w: Tensor, x: Tensor, y: Tensor, lambd: float) -> Tensor:
    """Hessienne du coût logistique : 1/n Σᵢ σ(mᵢ)σ(−mᵢ) xᵢxᵢᵀ + λ I, avec mᵢ = yᵢ wᵀxᵢ."""
    w = _as_vector(w)
    _check_xy(x, y, w)
    p = torch.sigmoid(y * (x @ w))
    return (x.T * (p * (1 - p))) @ x / x.shape[0] + lambd * torch.eye(w.shape[0], dtype=w.dtype)


def logistic_minimum(x: Tensor, y: Tensor, lambd: float, n_iter: int = 50) -> Tensor:
    """Le minimiseur du coût logistique (strictement convexe si λ > 0), par la méthode de Newton."""
    if lambd <= 0:
        raise ValueError(f"`lambd` doit être strictement positif pour un minimum unique, reçu {lambd}.")
    w = torch.zeros(x.shape[1], dtype=x.dtype)
    for _ in range(n_iter):
        step = torch.linalg.solve(logistic_loss_hessian(w, x, y, lambd), logistic_loss_grad(w, x, y, lambd))
        w = w - step
        if step.abs().max() < 1e-14:
            break
    return w


# --- Quadratique mal conditionnée ------------------------------------------------------------------


def quadratic_loss(w: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Quadratique L(w) = ½ wᵀAw − bᵀw (équation ``optim-eq-quadratique``)."""
    w = _as_vector(w, size=a.shape[0])
    return 0.5 * w @ (a @ w) - b @ w


def quadratic_loss_grad(w: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Gradient de la quadratique : ∇L(w) = Aw − b (A symétrique)."""
    w = _as_vector(w, size=a.shape[0])
    return a @ w - b


def ill_conditioned_quadratic(condition: float = 20.0, angle: float = math.pi / 6) -> tuple[Tensor, Tensor]:
    """A = R diag(1, κ) Rᵀ (R rotation d'angle ``angle``) et b tel que le minimum soit en (1, 1).

    Le conditionnement κ = λ_max / λ_min mesure l'allongement des lignes de niveau."""
    if condition < 1:
        raise ValueError(f"`condition` doit être ≥ 1, reçu {condition}.")
    c, s = math.cos(angle), math.sin(angle)
    r = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    a = r @ torch.diag(torch.tensor([1.0, float(condition)], dtype=torch.float64)) @ r.T
    return a, a @ torch.ones(2, dtype=torch.float64)


# --- Rosenbrock ---------------------------------------------------------------------------------------


def rosenbrock(w: Tensor, a: float = 1.0, b: float = 100.0) -> Tensor:
    """Fonction de Rosenbrock (a − x)² + b (y − x²)², minimum en (a, a²)."""
    x, y = _as_vector(w, size=2)
    return (a - x) ** 2 + b * (y - x**2) ** 2


def rosenbrock_grad(w: Tensor, a: float = 1.0, b: float = 100.0) -> Tensor:
    """Gradient de Rosenbrock : (−2(a − x) − 4bx(y − x²), 2b(y − x²))."""
    x, y = _as_vector(w, size=2)
    return torch.stack([-2 * (a - x) - 4 * b * x * (y - x**2), 2 * b * (y - x**2)])


# --- Tranche à un poids de la perte d'un petit MLP (non convexe) ------------------------------------


@dataclass(frozen=True)
class MLPSlice:
    """Un MLP 6 → 20 → 1 à sigmoïdes, figé sauf un poids ``w0[i, j]`` de la première couche."""

    x: Tensor  # (n, 6)
    y: Tensor  # (n,)
    w0: Tensor  # (6, 20)
    b0: Tensor  # (20,)
    w1: Tensor  # (20,)
    b1: Tensor  # ()
    index: tuple[int, int] = (3, 9)
    weight_decay: float = 0.0


def make_mlp_slice(n_samples: int = 150, seed: int = 3, index: tuple[int, int] = (4, 15),
                   output_scale: float = 3.0) -> MLPSlice:
    """Le réseau et les données de la tranche du chapitre (section ``optim-sec-non-convexe``).

    Entrées gaussiennes x ∈ ℝ⁶ ; étiquettes données par un « professeur » linéaire,
    y = 1 si uᵀx > 0 (u tiré au hasard), donc liées aux entrées ; poids du réseau tirés au hasard
    (ceux de la couche de sortie multipliés par ``output_scale``, pour que chaque neurone caché
    pèse sur la sortie). Le poids étudié est ``w0[index]``."""
    g = torch.Generator().manual_seed(seed)
    randn = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    x = randn(n_samples, 6)
    teacher = randn(6)
    y = (x @ teacher > 0).to(torch.float64)
    return MLPSlice(x=x, y=y, w0=randn(6, 20), b0=randn(20), w1=output_scale * randn(20), b1=randn(()),
                    index=tuple(index))


def slice_minima(losses, min_prominence: float) -> np.ndarray:
    """Indices des minima locaux d'une courbe échantillonnée dont la **proéminence** (de combien il
    faut remonter, au moins, pour en sortir vers un point plus bas) dépasse ``min_prominence`` :
    les rides plus petites ne comptent pas (section ``optim-sec-non-convexe``)."""
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 1 or losses.size < 3:
        raise ValueError("`losses` doit être une courbe à une dimension d'au moins trois points.")
    if min_prominence <= 0:
        raise ValueError(f"`min_prominence` doit être strictement positif, reçu {min_prominence}.")
    peaks, _ = find_peaks(-losses, prominence=min_prominence)
    return peaks


def mlp_slice_network_grad(w: Tensor, mlp: MLPSlice) -> Tensor:
    """Le gradient de la perte par rapport à **tous** les paramètres du réseau (aplati), le poids
    étudié valant ``w`` : nul en un minimum local du réseau, pas forcément en un minimum de la
    tranche (calculé par autograd)."""
    w0 = _mlp_with_weight(w.detach(), mlp).clone().requires_grad_(True)
    params = [w0] + [p.clone().requires_grad_(True) for p in (mlp.b0, mlp.w1, mlp.b1)]
    hidden = torch.sigmoid(mlp.x @ params[0] + params[1])
    out = torch.sigmoid(hidden @ params[2] + params[3])
    loss = ((out - mlp.y) ** 2).mean() + mlp.weight_decay * ((params[0] ** 2).sum() + (params[2] ** 2).sum())
    grads = torch.autograd.grad(loss, params)
    return torch.cat([g.flatten() for g in grads])


def _mlp_with_weight(w: Tensor, mlp: MLPSlice) -> Tensor:
    if not isinstance(w, Tensor) or w.ndim != 0:
        raise ValueError("`w` doit être un tenseur scalaire (la valeur du poids étudié).")
    i, j = mlp.index
    mask = torch.zeros_like(mlp.w0)
    mask[i, j] = 1.0
    return mlp.w0 * (1 - mask) + w * mask


def mlp_slice_loss(w: Tensor, mlp: MLPSlice) -> Tensor:
    """Perte quadratique moyenne du MLP en fonction du seul poids ``w`` (équation ``optim-eq-mlp``),
    plus une pénalité L2 de tous les poids si ``mlp.weight_decay`` > 0 (nulle par défaut)."""
    w0 = _mlp_with_weight(w, mlp)
    hidden = torch.sigmoid(mlp.x @ w0 + mlp.b0)  # (n, 20)
    out = torch.sigmoid(hidden @ mlp.w1 + mlp.b1)  # (n,)
    return ((out - mlp.y) ** 2).mean() + mlp.weight_decay * ((w0**2).sum() + (mlp.w1**2).sum())


def mlp_slice_grad(w: Tensor, mlp: MLPSlice) -> Tensor:
    """Dérivée exacte de :func:`mlp_slice_loss` par rapport à ``w`` (règle de la chaîne)."""
    i, j = mlp.index
    w0 = _mlp_with_weight(w, mlp)
    hidden = torch.sigmoid(mlp.x @ w0 + mlp.b0)
    out = torch.sigmoid(hidden @ mlp.w1 + mlp.b1)
    d_out = 2 * (out - mlp.y) / mlp.y.shape[0] * out * (1 - out)  # ∂L/∂o₂, (n,)
    d_hidden_j = d_out * mlp.w1[j] * hidden[:, j] * (1 - hidden[:, j])  # ∂L/∂o₁ⱼ, (n,)
    return d_hidden_j @ mlp.x[:, i] + 2 * mlp.weight_decay * w


# --- Regroupement pour les trajectoires ----------------------------------------------------------------


@dataclass(frozen=True)
class Objective:
    """Une fonction de coût et son gradient, éventuellement estimé sur un lot.

    ``grad(w, idx)`` renvoie le gradient exact si ``idx`` vaut ``None``, sinon l'estimation sur les
    exemples d'indices ``idx`` (``n_samples`` donne leur nombre ; ``None`` si le coût n'est pas une
    moyenne sur des données). ``minimum`` est le minimiseur connu, s'il l'est.
    """

    name: str
    loss: Callable[[Tensor], Tensor]
    grad: Callable[[Tensor, Tensor | None], Tensor]
    n_samples: int | None = None
    minimum: Tensor | None = None


def logistic_objective(x: Tensor, y: Tensor, lambd: float = 0.1) -> Objective:
    """La régression logistique régularisée comme :class:`Objective` (gradients par lot)."""

    def grad(w, idx=None):
        if idx is None:
            return logistic_loss_grad(w, x, y, lambd)
        return logistic_loss_grad(w, x[idx], y[idx], lambd)

    return Objective(
        name="régression logistique",
        loss=lambda w: logistic_loss(w, x, y, lambd),
        grad=grad,
        n_samples=x.shape[0],
        minimum=logistic_minimum(x, y, lambd),
    )


def quadratic_objective(condition: float = 20.0, angle: float = math.pi / 6) -> Objective:
    """La quadratique mal conditionnée comme :class:`Objective` (minimum en (1, 1))."""
    a, b = ill_conditioned_quadratic(condition, angle)
    return Objective(
        name=f"quadratique (κ = {condition:g})",
        loss=lambda w: quadratic_loss(w, a, b),
        grad=lambda w, idx=None: quadratic_loss_grad(w, a, b),
        minimum=torch.ones(2, dtype=torch.float64),
    )


def rosenbrock_objective(a: float = 1.0, b: float = 100.0) -> Objective:
    """Rosenbrock comme :class:`Objective` (minimum en (a, a²))."""
    return Objective(
        name="Rosenbrock",
        loss=lambda w: rosenbrock(w, a, b),
        grad=lambda w, idx=None: rosenbrock_grad(w, a, b),
        minimum=torch.tensor([a, a * a], dtype=torch.float64),
    )
