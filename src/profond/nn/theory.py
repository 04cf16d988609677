"""Pourquoi la normalisation permet de grands pas : invariance d'échelle et taux effectif (TP
« Pourquoi la normalisation permet de grands pas », `bnx-tp`, section `bnx-sec-invariance`).

Une couche linéaire suivie d'une BN donne la même sortie pour :math:`W` et :math:`aW` (:math:`a > 0`) :
la perte ne dépend que de la *direction* des lignes de :math:`W`. On en tire, pour la SGD :

- :func:`scale_invariance_errors` : les trois faits de l'équation `bnx-eq-invariance` mesurés sur
  une couche suivie de :class:`profond.nn.BatchNorm1d` ;
- :func:`effective_rate` (équation `bnx-eq-taux-effectif`), :func:`predicted_sq_norms`
  (équations `bnx-eq-croissance` et `bnx-eq-croissance-wd`) et :func:`equilibrium_sq_norm`
  (équation `bnx-eq-equilibre`) ;
- :func:`make_invariant_mlp` et :func:`train_sgd_norms` : un perceptron à BN entraîné par la SGD,
  borné en pas, avec graine, qui enregistre :math:`\\lVert W_t\\rVert^2`, :math:`\\lVert G_t\\rVert^2`
  et :math:`\\langle G_t, W_t\\rangle` de chaque couche invariante (:class:`NormHistory`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn

from profond.data import load_split, split_tensors, tensor_loader
from profond.nn.batchnorm import BatchNorm1d, _BatchNorm
from profond.nn.models import MLPConfig, make_normalized_mlp
from profond.utils import check_positive, check_positive_int, progress_bar, seed_everything

__all__ = [
    "scale_invariance_errors", "effective_rate", "predicted_sq_norms", "equilibrium_sq_norm",
    "make_invariant_mlp", "scale_invariant_layers", "NormHistory", "train_sgd_norms",
]


# --------------------------------------------------------------------------------------------
# Une fonction par équation
# --------------------------------------------------------------------------------------------
def scale_invariance_errors(weight: torch.Tensor, x: torch.Tensor, a: float, eps: float = 1e-5,
                            upstream: torch.Tensor | None = None, layer: nn.Module | None = None) -> dict[str, float]:
    r"""Mesure les trois conséquences de l'invariance d'échelle (équation `bnx-eq-invariance`) pour
    la couche :math:`\mathbf x \mapsto \mathrm{BN}(W\mathbf x)` (notre :class:`BatchNorm1d`, γ = 1,
    β = 0) et la perte :math:`L = \sum_{i,j} r_{ij}\, y_{ij}` (``upstream`` = :math:`r`, tiré au
    hasard s'il manque) :

    - ``"sortie"`` : :math:`\max |\mathrm{BN}(aW\mathbf x) - \mathrm{BN}(W\mathbf x)|` ;
    - ``"gradient"`` : :math:`\max |a\,\nabla L(aW) - \nabla L(W)| / \max|\nabla L(W)|` ;
    - ``"cosinus"`` : :math:`\langle \nabla L(W), W\rangle / (\lVert\nabla L(W)\rVert\,\lVert W\rVert)`,
      la plus grande valeur absolue sur les lignes de :math:`W`.

    Les trois sont nuls avec ε = 0 ; ε > 0 casse très légèrement l'invariance. ``layer`` remplace
    la BN par une autre couche (par exemple :class:`profond.nn.theory_gradients.MeanOnlyBatchNorm1d`).
    """
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
        raise TypeError("`weight` doit être une matrice (sorties, entrées).")
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"`x` doit être de forme (N, {weight.shape[1]}), reçu {tuple(getattr(x, 'shape', ()))}.")
    a = check_positive("a", a, strict=True)
    bn = layer if layer is not None else BatchNorm1d(weight.shape[0], eps=eps, affine=False, track_running_stats=False)
    bn = bn.to(weight.dtype)
    if upstream is None:
        upstream = torch.randn(x.shape[0], weight.shape[0], dtype=weight.dtype,
                               generator=torch.Generator().manual_seed(0))
    grads, outs = [], []
    for w in (weight.detach().clone(), (a * weight).detach()):
        w.requires_grad_(True)
        y = bn(x @ w.T)  # (N, C)
        (y * upstream).sum().backward()
        grads.append(w.grad)
        outs.append(y.detach())
    g, w = grads[0], weight.detach()
    cos = (g * w).sum(1) / (g.norm(dim=1) * w.norm(dim=1))  # une valeur par ligne (par neurone)
    return {
        "sortie": (outs[1] - outs[0]).abs().max().item(),
        "gradient": ((a * grads[1] - g).abs().max() / g.abs().max()).item(),
        "cosinus": cos.abs().max().item(),
    }


def effective_rate(lr: float, sq_norm):
    r"""Taux effectif :math:`\alpha / \lVert \mathbf w\rVert^2` sur la direction
    :math:`\mathbf w / \lVert\mathbf w\rVert` d'un poids invariant d'échelle (équation
    `bnx-eq-taux-effectif`). ``sq_norm`` est :math:`\lVert\mathbf w\rVert^2` (nombre ou tableau).

    >>> effective_rate(0.1, 4.0)
    0.025
    """
    lr = check_positive("lr", lr, strict=True)
    sq = np.asarray(sq_norm, dtype=float)
    if np.any(sq <= 0):
        raise ValueError("`sq_norm` doit être strictement positif.")
    out = lr / sq
    return float(out) if out.ndim == 0 else out


def predicted_sq_norms(sq_norm0: float, lr: float, sq_grads: Sequence[float], weight_decay: float = 0.0) -> np.ndarray:
    r"""Prédiction de :math:`\lVert\mathbf w_t\rVert^2` pour :math:`t = 0, \dots, T` à partir des
    normes mesurées :math:`\lVert\mathbf g_t\rVert^2` (``sq_grads``, longueur :math:`T`), quand le
    gradient est orthogonal au poids :

    .. math:: \lVert\mathbf w_{t+1}\rVert^2 = (1 - \alpha\lambda)^2 \lVert\mathbf w_t\rVert^2 + \alpha^2 \lVert\mathbf g_t\rVert^2

    (équation `bnx-eq-croissance-wd` ; sans décroissance des poids, λ = 0, c'est l'équation
    `bnx-eq-croissance` : :math:`\lVert\mathbf w_T\rVert^2 = \lVert\mathbf w_0\rVert^2 + \alpha^2 \sum_t \lVert\mathbf g_t\rVert^2`).

    >>> predicted_sq_norms(1.0, 0.5, [4.0, 4.0]).tolist()
    [1.0, 2.0, 3.0]
    """
    lr = check_positive("lr", lr, strict=True)
    wd = check_positive("weight_decay", weight_decay)
    g2 = np.asarray(sq_grads, dtype=float)
    out = np.empty(len(g2) + 1)
    out[0] = check_positive("sq_norm0", sq_norm0, strict=True)
    shrink = (1.0 - lr * wd) ** 2
    for t, g in enumerate(g2):
        out[t + 1] = shrink * out[t] + lr * lr * g
    return out


def equilibrium_sq_norm(lr: float, weight_decay: float, unit_sq_grad: float) -> float:
    r"""Norme au carré d'équilibre d'un poids invariant d'échelle sous la SGD avec décroissance des
    poids (équation `bnx-eq-equilibre`) :

    .. math:: \lVert\mathbf w\rVert^4 = \frac{\alpha\, \overline{\lVert\tilde{\mathbf g}\rVert^2}}{\lambda\,(2 - \alpha\lambda)},

    où :math:`\tilde{\mathbf g} = \lVert\mathbf w\rVert\, \mathbf g` est le gradient au point
    normalisé :math:`\mathbf w / \lVert\mathbf w\rVert` (``unit_sq_grad`` : sa norme au carré,
    moyennée). Renvoie :math:`\lVert\mathbf w\rVert^2`.

    >>> equilibrium_sq_norm(0.5, 1.0, 3.0)
    1.0
    """
    lr = check_positive("lr", lr, strict=True)
    wd = check_positive("weight_decay", weight_decay, strict=True)
    if lr * wd >= 2:
        raise ValueError(f"Il faut αλ < 2 pour un équilibre, reçu αλ = {lr * wd}.")
    g = check_positive("unit_sq_grad", unit_sq_grad, strict=True)
    return float(np.sqrt(lr * g / (wd * (2.0 - lr * wd))))


# --------------------------------------------------------------------------------------------
# Le réseau et l'entraînement mesuré
# --------------------------------------------------------------------------------------------
def make_invariant_mlp(hidden: Sequence[int] = (32, 32), bn_eps: float = 1e-5, init_scale: float = 1.0,
                       seed: int = 0, dtype=torch.float64) -> nn.Sequential:
    """Perceptron ``Linear → BatchNorm1d → ReLU`` (:func:`profond.nn.models.make_normalized_mlp`,
    initialisation de PyTorch) en ``dtype``, pour les chiffres 8×8. Les poids des couches suivies
    d'une BN (invariants d'échelle) sont multipliés par ``init_scale`` ; ``bn_eps`` remplace l'ε
    des BN (un ε minuscule rend l'invariance exacte en ``float64``)."""
    seed_everything(seed)
    model = make_normalized_mlp(MLPConfig(hidden=tuple(hidden), activation="relu", norm="bn")).to(dtype)
    eps = check_positive("bn_eps", bn_eps, strict=True)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.eps = eps
    a = check_positive("init_scale", init_scale, strict=True)
    with torch.no_grad():
        for layer in scale_invariant_layers(model):
            layer.weight.mul_(a)
    return model


def scale_invariant_layers(model: nn.Module) -> list[nn.Linear]:
    """Les couches ``nn.Linear`` immédiatement suivies d'une BN dans un ``nn.Sequential`` : leurs
    poids sont invariants d'échelle (équation `bnx-eq-invariance`)."""
    mods = list(model.children())
    return [m for m, nxt in zip(mods, mods[1:]) if isinstance(m, nn.Linear) and isinstance(nxt, _BatchNorm)]


@dataclass
class NormHistory:
    """Ce que :func:`train_sgd_norms` a mesuré, une colonne par couche invariante.

    ``sq_norms`` : :math:`\\lVert W_t\\rVert^2`, forme (T + 1, couches) ; ``sq_grads`` :
    :math:`\\lVert G_t\\rVert^2` et ``dots`` : :math:`\\langle G_t, W_t\\rangle`, forme (T, couches),
    mesurés juste avant le pas :math:`t` ; ``loss`` : perte du lot, forme (T,) ; ``directions`` :
    :math:`W_t / \\lVert W_t\\rVert` aplatie, de la première couche invariante, tous les
    ``direction_every`` pas (vide si non demandé).
    """

    lr: float
    weight_decay: float
    sq_norms: np.ndarray
    sq_grads: np.ndarray
    dots: np.ndarray
    loss: np.ndarray
    directions: list = field(default_factory=list)

    @property
    def unit_sq_grads(self) -> np.ndarray:
        """:math:`\\lVert \\tilde G_t\\rVert^2 = \\lVert W_t\\rVert^2 \\lVert G_t\\rVert^2`, le gradient au point normalisé."""
        return self.sq_grads * self.sq_norms[:-1]

    @property
    def effective_rates(self) -> np.ndarray:
        """:math:`\\alpha / \\lVert W_t\\rVert^2`, forme (T + 1, couches) (équation `bnx-eq-taux-effectif`)."""
        return effective_rate(self.lr, self.sq_norms)


def train_sgd_norms(model: nn.Module, lr: float, steps: int, weight_decay: float = 0.0, other_lr: float | None = None,
                    batch_size: int = 64, seed: int = 0, direction_every: int = 0, progress: bool = False) -> NormHistory:
    """Entraîne ``model`` sur les chiffres 8×8 standardisés par la SGD sans inertie, ``steps`` pas
    de lots de ``batch_size`` (mélangés par une graine), et mesure les couches invariantes
    (:func:`scale_invariant_layers`).

    Deux groupes de paramètres : les poids invariants (taux ``lr``, décroissance ``weight_decay``,
    « couplée » comme dans ``torch.optim.SGD`` : :math:`g + \\lambda w`) ; tous les autres (taux
    ``other_lr``, par défaut ``lr``, sans décroissance). Renvoie un :class:`NormHistory`.
    """
    lr = check_positive("lr", lr, strict=True)
    steps = check_positive_int("steps", steps)
    other_lr = lr if other_lr is None else check_positive("other_lr", other_lr, strict=True)
    layers = scale_invariant_layers(model)
    if not layers:
        raise ValueError("`model` ne contient aucune couche linéaire suivie d'une BN.")
    dtype = next(model.parameters()).dtype
    x, y, _, _ = split_tensors(load_split("digits", seed=0), dtype=dtype)
    invariant = [m.weight for m in layers]
    ids = {id(p) for p in invariant}
    others = [p for p in model.parameters() if id(p) not in ids]
    opt = torch.optim.SGD([{"params": invariant, "lr": lr, "weight_decay": weight_decay},
                           {"params": others, "lr": other_lr, "weight_decay": 0.0}], lr=lr)
    loader = tensor_loader(x, y, batch_size=batch_size, shuffle=True, drop_last=True,
                           generator=torch.Generator().manual_seed(seed))
    loss_fn = nn.CrossEntropyLoss()
    sq_norms, sq_grads, dots, losses, directions = [], [], [], [], []
    model.train()
    bar = progress_bar(range(steps), progress, desc="SGD", leave=False)
    batches = iter(loader)
    for t in bar:
        try:
            xb, yb = next(batches)
        except StopIteration:  # nouvelle époque
            batches = iter(loader)
            xb, yb = next(batches)
        if direction_every and t % direction_every == 0:
            directions.append((invariant[0] / invariant[0].norm()).detach().flatten().clone())
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        with torch.no_grad():
            sq_norms.append([(w * w).sum().item() for w in invariant])
            sq_grads.append([(w.grad * w.grad).sum().item() for w in invariant])
            dots.append([(w.grad * w).sum().item() for w in invariant])
        losses.append(loss.item())
        opt.step()
    with torch.no_grad():
        sq_norms.append([(w * w).sum().item() for w in invariant])
    return NormHistory(lr, float(weight_decay), np.array(sq_norms), np.array(sq_grads), np.array(dots),
                       np.array(losses), directions)
