"""Normalisations « fusionnées » : les équations du chapitre regroupées pour aller vite sur CPU.

Chapitre « Normalisation par lots » (`chap-normalisation`). :class:`~profond.nn.batchnorm.BatchNormFunction`
et :class:`~profond.nn.layernorm.LayerNormFunction` suivent le chapitre équation par équation ; les
couches :class:`~profond.nn.BatchNorm1d`, :class:`~profond.nn.BatchNorm2d` et
:class:`~profond.nn.LayerNorm` appellent les noyaux C de :mod:`profond.nn.ckernels`, et, quand ils
sont indisponibles (pas de compilateur C, autre type que float32/float64, GPU), les deux
``torch.autograd.Function`` d'ici, qui calculent **les mêmes quantités** (les tests le vérifient en
float64) avec des opérations de PyTorch, mais moins de passages sur la mémoire que la version
équation par équation. Sur CPU, à ces tailles, chaque opération sur un tenseur de la taille de
l'entrée coûte surtout sa lecture et son écriture : on en fait le moins possible.

- μ et σ² en deux réductions seulement ; pour une entrée (N, C), la somme sur le lot est un
  produit matrice-vecteur (``torch.mv`` avec un vecteur de 1/m), plus rapide que ``mean(0)``.
  On ne prend pas ``torch.var_mean`` : sur le CPU de la machine de mesure, elle est des dizaines de
  fois plus lente qu'une somme.
- y = (x − μ) · s + β avec s = γ/√(σ² + ε), en une seule passe (équations `bn-eq-normalise` et
  `bn-eq-scale-shift`), écrite dans le tampon qui a servi à calculer (x − μ)².
- x − μ, calculé à l'aller de toute façon, est gardé pour le retour (comme x̂ pour la
  normalisation par couche) : le recalculer à partir de x, μ et 1/√(σ² + ε) coûte un passage de
  plus, et c'était mesurablement plus lent sur la machine de mesure.
- Σ ∂L/∂y et Σ ∂L/∂y · (x − μ) sont deux produits matrice-vecteur, et ∂L/∂x s'écrit dans le
  tampon de ∂L/∂y · (x − μ) (opérations en place sur nos propres temporaires).

Les sommes sont celles de PyTorch, dans le type du tenseur : en float32, elles sont moins exactes
que celles des noyaux C (faites en double) quand la moyenne est très grande devant l'écart-type.

Ce que cela ne rattrape pas : chaque opération appelée depuis Python coûte aussi un temps fixe, et
il en faut une douzaine par sens (contre une pour PyTorch), et le lot est relu une dizaine de
fois au lieu de deux : sur la machine de mesure, 1,5 fois le temps de PyTorch pour la
normalisation par lots et plus de 2 fois pour la normalisation par couche
(``python benchmarks/bench_batchnorm.py --python``), d'où les noyaux C.
"""

from __future__ import annotations

import math

import torch
from torch.autograd.function import once_differentiable

from profond.nn.norm_equations import mul_add, running_average, unbiased_var


def layer_rows(x, weight, bias, k: int):
    """La vue (exemples, d) de ``x`` normalisé sur ses ``k`` dernières dimensions, et ``weight``,
    ``bias`` aplatis en vecteurs de taille d (ou ``None``) : la forme commune aux calculs de la
    normalisation par couche (équations ``bn-eq-mean`` et ``bn-eq-var`` sur chaque ligne)."""
    d = math.prod(x.shape[x.ndim - k:])  # nombre de valeurs normalisées ensemble
    x2 = x if x.ndim == 2 and k == 1 else x.reshape(-1, d)
    w2 = weight if weight is None or k == 1 else weight.reshape(d)
    b2 = bias if bias is None or k == 1 else bias.reshape(d)
    return d, x2, w2, b2

__all__ = ["FusedBatchNormFunction", "FusedLayerNormFunction"]


def _per_channel(v: torch.Tensor, row: torch.Tensor | None, mean: bool) -> torch.Tensor:
    """Somme (ou moyenne) de ``v`` par caractéristique.

    Entrée (N, C) : produit matrice-vecteur vᵀ · ``row`` (un vecteur de N uns, ou de N fois 1/m
    pour une moyenne), de forme (C,), qui se diffuse tel quel sur (N, C). Entrée vue en (N, C, S)
    (``row`` vaut ``None``) : réduction sur les axes 0 et 2, de forme (1, C, 1).
    """
    if row is not None:
        return torch.mv(v.t(), row)
    return v.mean((0, 2), keepdim=True) if mean else v.sum((0, 2), keepdim=True)


def _flat(v: torch.Tensor) -> torch.Tensor:
    """Une statistique par caractéristique remise à plat en (C,) (sans copie)."""
    return v if v.ndim == 1 else v.view(-1)


def _like(v: torch.Tensor, stat: torch.Tensor) -> torch.Tensor:
    """Un paramètre (C,) mis à la forme ``stat`` des statistiques ((C,) ou (1, C, 1))."""
    return v if stat.ndim == 1 else v.view_as(stat)


class FusedBatchNormFunction(torch.autograd.Function):
    r"""Normalisation par lots en entraînement, version rapide de
    :class:`~profond.nn.batchnorm.BatchNormFunction` (mêmes arguments, mêmes résultats).

    ``apply(x, weight, bias, running_mean, running_var, momentum, eps)``. L'aller regroupe les
    équations `bn-eq-mean`, `bn-eq-var`, `bn-eq-normalise` et `bn-eq-scale-shift` (et
    `bn-eq-unbiased`, `bn-eq-running` pour les statistiques de population) ; le retour,
    `bn-eq-grad-beta`, `bn-eq-grad-gamma` et `bn-eq-grad-x` (:func:`~profond.nn.batchnorm.normalise_backward`).

    Pour une entrée (N, C) : cinq passages sur un tenseur de la taille de x à l'aller (μ, x − μ,
    son carré, σ², y) et cinq au retour (Σ ∂L/∂y, ∂L/∂y · (x − μ), sa somme, ∂L/∂x en deux
    opérations dans le tampon du produit). Les statistiques restent des vecteurs (C,), sans vues ni
    copies : à ces tailles, chaque appel d'opération compte. La rétropropagation n'est pas
    elle-même dérivable (``once_differentiable``) : μ et σ² y sont des constantes.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps):
        n, c = x.shape[0], x.shape[1]
        x3 = x if x.ndim <= 3 else x.reshape(n, c, -1)  # (N, C) ou (N, C, S)
        m = x3.numel() // c  # nombre de valeurs par caractéristique
        avg = x.new_full((n,), 1.0 / m) if x.ndim == 2 else None  # N fois 1/m : moyenne = produit
        mean = _per_channel(x3, avg, mean=True)  # éq. bn-eq-mean
        x_centred = torch.sub(x3, mean)
        y = torch.mul(x_centred, x_centred)  # (x − μ)², dans le tampon de la sortie
        var = _per_channel(y, avg, mean=True)  # éq. bn-eq-var (centrer, puis élever au carré)
        if running_mean is not None and running_var is not None:  # éq. bn-eq-running, bn-eq-unbiased
            running_average(running_mean, _flat(mean), momentum)
            running_average(running_var, unbiased_var(_flat(var), m), momentum)
        inv_std = var.add_(eps).rsqrt_()  # 1/√(σ² + ε), en place
        scale = inv_std if weight is None else inv_std * _like(weight, inv_std)  # γ/√(σ² + ε)
        # éq. bn-eq-normalise puis bn-eq-scale-shift, en une passe : y = (x − μ) γ/√(σ² + ε) + β
        y = mul_add(x_centred, scale, None if bias is None else _like(bias, inv_std), out=y)
        ctx.save_for_backward(x_centred, inv_std, scale)
        return y if x3 is x else y.view(x.shape)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x_centred, inv_std, scale = ctx.saved_tensors
        n, c = x_centred.shape[0], x_centred.shape[1]
        dy3 = dy if dy.ndim <= 3 else dy.reshape(n, c, -1)
        m = x_centred.numel() // c
        ones = dy.new_ones(n) if dy.ndim == 2 else None  # N uns : somme = produit
        sum_dy = _per_channel(dy3, ones, mean=False)  # ∂L/∂β = Σ ∂L/∂y, éq. bn-eq-grad-beta
        buffer = torch.mul(dy3, x_centred)  # le seul tenseur de la taille de x alloué ici
        sum_dy_xhat = _per_channel(buffer, ones, mean=False).mul_(inv_std)  # ∂L/∂γ, éq. bn-eq-grad-gamma
        dx = None
        if ctx.needs_input_grad[0]:  # éq. bn-eq-grad-x, comme normalise_backward
            k = scale * (-1.0 / m)  # − γ / (m σ)
            coef = (k * inv_std).mul_(sum_dy_xhat)  # − γ/(m σ) · ∂L/∂γ, appliqué à x − μ
            dx = mul_add(dy3, scale, k.mul_(sum_dy), out=buffer).addcmul_(x_centred, coef)
            dx = dx if dy3 is dy else dx.view(dy.shape)
        dweight = _flat(sum_dy_xhat) if ctx.needs_input_grad[1] else None
        dbias = _flat(sum_dy) if ctx.needs_input_grad[2] else None
        return dx, dweight, dbias, None, None, None, None


class FusedLayerNormFunction(torch.autograd.Function):
    r"""Normalisation par couche, version rapide de :class:`~profond.nn.layernorm.LayerNormFunction`
    (mêmes arguments, mêmes résultats) : ``apply(x, weight, bias, k, eps)`` normalise ``x`` sur ses
    ``k`` dernières dimensions, vues comme une ligne de d valeurs par exemple.

    L'aller regroupe `bn-eq-mean`, `bn-eq-var`, `bn-eq-normalise` et `bn-eq-scale-shift` (par
    exemple) ; le retour, `bn-eq-ln-grad-x` et les gradients de γ et β sommés sur le lot. Les
    quatre sommes du retour sont des produits matrice-vecteur : Σ_n ∂L/∂y et Σ_n ∂L/∂y ⊙ x̂ (par
    un vecteur de uns), Σ_j γ_j ∂L/∂y_j et Σ_j γ_j ∂L/∂y_j x̂_j (par la colonne γ / d). Cinq
    passages sur un tenseur de la taille de x à l'aller, huit au retour : c'est la normalisation
    qui s'éloigne le plus du noyau compilé de PyTorch, qui fait tout en une lecture par sens.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, k, eps):
        d, x2, w2, b2 = layer_rows(x, weight, bias, k)
        # x − μ, avec μ = Σ x / d (éq. bn-eq-mean)
        x_hat = torch.sub(x2, x2.sum(-1, keepdim=True), alpha=1.0 / d)
        # 1/√(σ² + ε) avec σ² = ‖x − μ‖² / d (éq. bn-eq-var), sur des valeurs déjà centrées
        inv_std = torch.linalg.vector_norm(x_hat, dim=-1, keepdim=True).square_().mul_(1.0 / d).add_(eps).rsqrt_()
        x_hat.mul_(inv_std)  # éq. bn-eq-normalise, en place
        if w2 is not None:  # éq. bn-eq-scale-shift
            y = torch.addcmul(b2, x_hat, w2) if b2 is not None else torch.mul(x_hat, w2)
        else:
            y = x_hat + b2 if b2 is not None else x_hat
        ctx.save_for_backward(x_hat, inv_std, w2)
        ctx.param_shape = None if k == 1 else x.shape[x.ndim - k:]
        return y if y.shape == x.shape else y.view(x.shape)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x_hat, inv_std, weight = ctx.saved_tensors
        n, d = x_hat.shape
        dy2 = dy if dy.shape == x_hat.shape else dy.reshape(n, d)
        buffer = dy2 * x_hat  # ∂L/∂y ⊙ x̂
        dx = dweight = dbias = None
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            ones = dy2.new_ones(n)  # N uns : somme sur le lot = produit
            if ctx.needs_input_grad[1]:
                dweight = _unflatten(torch.mv(buffer.t(), ones), ctx.param_shape)  # ∂L/∂γ = Σ ∂L/∂y ⊙ x̂
            if ctx.needs_input_grad[2]:
                dbias = _unflatten(torch.mv(dy2.t(), ones), ctx.param_shape)  # ∂L/∂β = Σ ∂L/∂y
        if ctx.needs_input_grad[0]:  # éq. bn-eq-ln-grad-x, g = γ ⊙ ∂L/∂y
            if weight is None:
                mean_g = dy2.sum(-1, keepdim=True).mul_(-1.0 / d)  # − moyenne de g
                mean_g_xhat = buffer.sum(-1, keepdim=True).mul_(-1.0 / d)  # − moyenne de g ⊙ x̂
                dx = torch.add(dy2, mean_g, out=buffer)
            else:
                column = torch.mul(weight, -1.0 / d).unsqueeze_(-1)  # colonne − γ / d
                mean_g, mean_g_xhat = torch.mm(dy2, column), torch.mm(buffer, column)
                dx = torch.addcmul(mean_g, dy2, weight, out=buffer)  # g − moyenne de g
            dx = dx.addcmul_(x_hat, mean_g_xhat).mul_(inv_std)
            dx = dx if dx.shape == dy.shape else dx.view(dy.shape)
        return dx, dweight, dbias, None, None


def _unflatten(v: torch.Tensor, shape) -> torch.Tensor:
    """Un gradient (d,) remis à la forme ``shape`` des paramètres (inchangé si ``None``)."""
    return v if shape is None else v.view(shape)
