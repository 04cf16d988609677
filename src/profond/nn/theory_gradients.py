"""Le gradient à travers la BN : la borne de Santurkar et al., l'explosion en profondeur, et les
variantes des exercices de d2l (TP « Pourquoi la normalisation permet de grands pas », `bnx-tp`).

- :func:`santurkar_bound` (équation `bnx-eq-santurkar`), :func:`bn_input_grad_sq_norm` (sa
  version exacte avec ε, équation `bnx-eq-norme-exacte`) et :func:`bn_gradient_records`, qui
  relève entrée, gradient reçu et gradient rendu de chaque BN d'un réseau ;
- :func:`make_deep_mlp` et :func:`depth_gradient_ratios` : réseaux profonds sans connexion
  résiduelle, à l'initialisation (section `bnx-sec-profondeur`) ;
- :func:`zca_whiten` (équation `bnx-eq-zca`), :func:`centre_batch` et :class:`MeanOnlyBatchNorm1d`
  (équation `bnx-eq-centre`), :func:`time_forward_backward` (section `bnx-sec-d2l`).
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from profond.data import load_split, split_tensors
from profond.init import layer_statistics
from profond.nn.batchnorm import BatchNorm1d, _BatchNorm
from profond.nn.models import MLPConfig, make_normalized_mlp
from profond.utils import check_positive, check_positive_int, seed_everything

__all__ = [
    "santurkar_bound", "bn_input_grad_sq_norm", "bn_gradient_records", "make_deep_mlp",
    "depth_gradient_ratios", "whitening_matrix", "zca_whiten", "centre_batch", "MeanOnlyBatchNorm1d", "time_forward_backward",
]


def _batch_terms(g: torch.Tensor, x: torch.Tensor, eps: float):
    """Pour chaque canal : m, σ² + ε, ρ = σ²/(σ² + ε), ‖g‖², ⟨1, g⟩², ⟨g, x̂⟩²."""
    if g.shape != x.shape or x.ndim != 2:
        raise ValueError(f"`g` et `x` doivent être de même forme (m, C), reçu {tuple(g.shape)} et {tuple(x.shape)}.")
    m = x.shape[0]
    xc = x - x.mean(0)
    var = (xc * xc).mean(0)
    s2 = var + eps
    x_hat = xc / torch.sqrt(s2)
    return m, s2, var / s2, (g * g).sum(0), g.sum(0) ** 2, (g * x_hat).sum(0) ** 2


def santurkar_bound(g: torch.Tensor, x: torch.Tensor, gamma: torch.Tensor | float = 1.0, eps: float = 0.0,
                    sqrt_m: bool = False) -> torch.Tensor:
    r"""Majorant de :math:`\lVert \nabla_{\mathbf x} L\rVert^2` pour chaque canal d'une BN
    (théorème 4.1 de Santurkar et al., équation `bnx-eq-santurkar`) :

    .. math:: \frac{\gamma^2}{\sigma^2}\Big(\lVert \mathbf g\rVert^2 - \frac1m \langle \mathbf 1, \mathbf g\rangle^2
       - \frac1m \langle \mathbf g, \hat{\mathbf x}\rangle^2\Big),

    ``g`` = :math:`\partial L / \partial \mathbf y` (gradient reçu, forme (m, C)), ``x`` l'entrée
    de la BN, σ² la variance du lot plus ε. ``sqrt_m=True`` met :math:`1/\sqrt m` devant le dernier
    terme au lieu de :math:`1/m` (forme que nous testons aussi, voir la section `bnx-sec-santurkar`).
    """
    eps = check_positive("eps", eps)
    m, s2, _, g2, sum2, dot2 = _batch_terms(g, x, eps)
    coef = 1.0 / np.sqrt(m) if sqrt_m else 1.0 / m
    return gamma**2 / s2 * (g2 - sum2 / m - coef * dot2)


def bn_input_grad_sq_norm(g: torch.Tensor, x: torch.Tensor, gamma: torch.Tensor | float = 1.0, eps: float = 1e-5) -> torch.Tensor:
    r""":math:`\lVert \nabla_{\mathbf x} L\rVert^2` par canal, calculé à partir de
    l'équation `bn-eq-grad-x` développée (équation `bnx-eq-norme-exacte`) :

    .. math:: \frac{\gamma^2}{\sigma^2 + \varepsilon}\Big(\lVert \mathbf g\rVert^2 - \frac1m \langle \mathbf 1, \mathbf g\rangle^2
       - (2 - \rho)\,\frac1m \langle \mathbf g, \hat{\mathbf x}\rangle^2\Big), \qquad \rho = \frac{\sigma^2}{\sigma^2 + \varepsilon}.

    Avec ε = 0, ρ = 1 et l'on retrouve l'égalité dans :func:`santurkar_bound`.
    """
    eps = check_positive("eps", eps)
    m, s2, rho, g2, sum2, dot2 = _batch_terms(g, x, eps)
    return gamma**2 / s2 * (g2 - sum2 / m - (2.0 - rho) * dot2 / m)


def bn_gradient_records(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """Une passe avant et arrière (entropie croisée, mode entraînement) ; pour chaque BN du réseau,
    dans l'ordre : son entrée ``"x"``, le gradient reçu ``"g"`` = ∂L/∂y, le gradient rendu ``"dx"``
    = ∂L/∂x (calculé par la rétropropagation de la couche), ``"gamma"`` et ``"eps"``."""
    records, handles = [], []

    def keep(module, inputs, out):
        inputs[0].retain_grad()
        out.retain_grad()
        records.append({"module": module, "x_t": inputs[0], "y_t": out})

    for m in model.modules():
        if isinstance(m, _BatchNorm):
            handles.append(m.register_forward_hook(keep))
    if not handles:
        raise ValueError("`model` ne contient aucune BN.")
    try:
        model.train()
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
    finally:
        for h in handles:
            h.remove()
    out = []
    for r in records:
        mod = r["module"]
        gamma = mod.weight.detach() if mod.weight is not None else torch.ones(mod.num_features, dtype=x.dtype)
        out.append({"x": r["x_t"].detach(), "g": r["y_t"].grad, "dx": r["x_t"].grad, "gamma": gamma, "eps": mod.eps})
    model.zero_grad(set_to_none=True)
    return out


# --------------------------------------------------------------------------------------------
# Profondeur sans connexion résiduelle
# --------------------------------------------------------------------------------------------
def make_deep_mlp(depth: int, width: int = 64, bn: str = "all", seed: int = 0, n_in: int = 64, n_out: int = 10) -> nn.Sequential:
    """Un perceptron ReLU de ``depth`` couches cachées de largeur ``width``, sans connexion
    résiduelle : ``bn="all"`` met une BN (la nôtre) après chaque couche linéaire cachée
    (initialisation de PyTorch), ``"first"`` seulement après la première, ``"none"`` aucune
    (initialisation de He, pour que le signal garde son échelle)."""
    depth, width = check_positive_int("depth", depth), check_positive_int("width", width)
    if bn not in ("all", "first", "none"):
        raise ValueError(f"`bn` doit être 'all', 'first' ou 'none', reçu {bn!r}.")
    seed_everything(seed)
    config = MLPConfig(hidden=(width,) * depth, activation="relu", norm="bn" if bn == "all" else "none",
                       init="he" if bn == "none" else "default")
    model = make_normalized_mlp(config, n_in=n_in, n_out=n_out)
    if bn == "first":
        mods = list(model.children())
        model = nn.Sequential(mods[0], BatchNorm1d(width), *mods[1:])
    return model


def depth_gradient_ratios(depths: Sequence[int], bn: str = "all", seeds: Sequence[int] = (0, 1, 2), width: int = 64,
                          n_examples: int = 128) -> dict[int, list[float]]:
    """Pour chaque profondeur et chaque graine, à l'initialisation et sur ``n_examples`` chiffres
    (un lot) : le rapport :math:`\\lVert\\nabla W_1\\rVert / \\lVert\\nabla W_L\\rVert` entre la norme
    du gradient des poids de la **première** couche cachée et celle de la **dernière**
    (:func:`profond.init.layer_statistics`). Très grand : le gradient explose en remontant vers
    l'entrée (Yang et al., section `bnx-sec-profondeur`)."""
    x, y, _, _ = split_tensors(load_split("digits", seed=0, n_train=check_positive_int("n_examples", n_examples)))
    out: dict[int, list[float]] = {}
    for depth in depths:
        ratios = []
        for seed in seeds:
            norms = layer_statistics(make_deep_mlp(depth, width, bn, seed), x, y).weight_grad_norm
            ratios.append(norms[0] / norms[depth - 1])  # [première cachée, ..., dernière cachée, sortie]
        out[int(depth)] = ratios
    return out


# --------------------------------------------------------------------------------------------
# Variantes des exercices de d2l
# --------------------------------------------------------------------------------------------
def whitening_matrix(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    r"""Matrice de blanchiment ZCA :math:`U (\Lambda + \varepsilon I)^{-1/2} U^\top` du lot ``x``
    (m, d), avec :math:`\Sigma = \frac1m (X - \mu)^\top (X - \mu) = U \Lambda U^\top`
    (équation `bnx-eq-zca`) : une décomposition en éléments propres, :math:`O(d^3)` opérations."""
    if not isinstance(x, torch.Tensor) or x.ndim != 2:
        raise ValueError(f"`x` doit être un tenseur de forme (m, d), reçu {tuple(getattr(x, 'shape', ()))}.")
    eps = check_positive("eps", eps)
    xc = x - x.mean(0)
    lam, u = torch.linalg.eigh(xc.T @ xc / x.shape[0])  # Σ = U Λ Uᵀ, (d,) et (d, d)
    return (u * torch.rsqrt(lam.clamp_min(0) + eps)) @ u.T


def zca_whiten(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    r"""Blanchiment ZCA d'un lot ``x`` de forme (m, d) (équation `bnx-eq-zca`) :
    :math:`\hat X = (X - \mu)\, U (\Lambda + \varepsilon I)^{-1/2} U^\top`, avec
    :math:`\Sigma = \frac1m (X - \mu)^\top (X - \mu) = U \Lambda U^\top`. Les sorties ont pour
    covariance l'identité (à ε près) : les caractéristiques sont centrées, réduites **et
    décorrélées**. Dérivable (par ``torch.linalg.eigh``)."""
    return (x - x.mean(0)) @ whitening_matrix(x, eps)


def centre_batch(x: torch.Tensor, beta: torch.Tensor | None = None) -> torch.Tensor:
    r"""BN « allégée » qui ne fait que centrer : :math:`y_i = x_i - \mu_\mathcal{B} + \beta`
    (équation `bnx-eq-centre`), statistiques sur l'axe 0."""
    y = x - x.mean(0, keepdim=True)
    return y if beta is None else y + beta


class MeanOnlyBatchNorm1d(nn.Module):
    """Couche de :func:`centre_batch` pour des entrées (N, C), avec un β appris si ``affine``.
    Elle ne divise pas par l'écart type : elle n'est **pas** invariante d'échelle."""

    def __init__(self, num_features: int, affine: bool = True):
        super().__init__()
        self.num_features = check_positive_int("num_features", num_features)
        self.bias = nn.Parameter(torch.zeros(num_features)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(f"L'entrée doit être de forme (N, {self.num_features}), reçu {tuple(x.shape)}.")
        return centre_batch(x, self.bias)


def time_forward_backward(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, number: int = 10,
                          repeats: int = 5) -> float:
    """Temps de calcul (``time.process_time``, insensible aux autres programmes) d'une passe avant
    et arrière de ``fn`` sur ``x`` : médiane sur ``repeats`` mesures de ``number`` passes, en
    secondes par passe."""
    number, repeats = check_positive_int("number", number), check_positive_int("repeats", repeats)
    x = x.detach().requires_grad_(True)
    dy = torch.randn_like(x)
    fn(x).backward(dy)  # échauffement
    times = []
    for _ in range(repeats):
        t = time.process_time()
        for _ in range(number):
            fn(x).backward(dy)
        times.append((time.process_time() - t) / number)
    return float(np.median(times))
