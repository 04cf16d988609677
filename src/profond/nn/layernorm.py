"""Normalisation par couche (*layer normalization*, Ba et al. 2016), écrite à la main.

Chapitre « Normalisation par lots », section `bn-sec-layernorm`. Mêmes équations que la
normalisation par lots (`bn-eq-normalise`, `bn-eq-scale-shift`, `bn-eq-grad-x`), mais les
statistiques sont celles de **chaque exemple**, calculées sur ses dernières dimensions
(``normalized_shape``) : rien ne dépend du lot, l'entraînement et l'évaluation se comportent de
la même façon, et il n'y a aucune statistique de population à mémoriser.
"""

from __future__ import annotations

from numbers import Integral

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from profond.nn import ckernels
from profond.nn.fused import FusedLayerNormFunction, layer_rows
from profond.nn.norm_equations import scale_shift
from profond.utils import check_positive

__all__ = ["layer_norm_input_grad", "LayerNormFunction", "layer_norm", "LayerNorm"]


def layer_norm_input_grad(
    g: torch.Tensor,
    x_hat: torch.Tensor,
    inv_std: torch.Tensor,
    dims: int | tuple[int, ...],
    mean_g: torch.Tensor | None = None,
    mean_g_xhat: torch.Tensor | None = None,
    *,
    weight: torch.Tensor | None = None,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Gradient par rapport à l'entrée, connaissant ``g`` = ∂L/∂x̂ = γ ⊙ ∂L/∂y :

    .. math:: \frac{\partial L}{\partial x_i} = \frac{1}{\sqrt{\sigma^2 + \varepsilon}}
       \Big(g_i - \frac1m \sum_j g_j - \hat x_i\, \frac1m \sum_j g_j \hat x_j\Big).

    C'est l'équation `bn-eq-ln-grad-x` du chapitre « Normalisation par lots », les sommes portant
    sur les ``dims`` d'un même exemple ; γ ne sort pas des sommes car il varie avec j. Les deux
    moyennes (axes réduits gardés) sont calculées ici, sauf si on les donne (``mean_g``,
    ``mean_g_xhat``). Avec ``weight`` (γ), ``g`` est ∂L/∂y et le produit γ ⊙ ∂L/∂y se fait dans la
    même passe que la soustraction de la moyenne. ``out`` (qui peut être ``g``) reçoit le résultat.
    """
    if weight is not None and (mean_g is None or mean_g_xhat is None):
        g, weight = g * weight, None  # g = γ ⊙ ∂L/∂y, pour calculer les moyennes
    if mean_g is None:
        mean_g = g.mean(dim=dims, keepdim=True)
    if mean_g_xhat is None:
        mean_g_xhat = (g * x_hat).mean(dim=dims, keepdim=True)
    if weight is None:
        g_centred = torch.sub(g, mean_g, out=out)
    else:
        g_centred = torch.addcmul(torch.neg(mean_g), g, weight, out=out)  # γ ⊙ ∂L/∂y − moyenne
    return g_centred.addcmul_(x_hat, mean_g_xhat, value=-1.0).mul_(inv_std)


class LayerNormFunction(torch.autograd.Function):
    """Normalisation par couche avec la rétropropagation explicite du chapitre.

    ``forward(x, weight, bias, k, eps)`` normalise ``x`` sur ses ``k`` dernières dimensions ;
    ``weight`` et ``bias`` ont la forme de ces ``k`` dimensions (ou valent ``None``). Le calcul se
    fait sur la vue (exemples, d valeurs normalisées) de ``x`` : une ligne par exemple.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, k, eps):
        d, x2, w2, b2 = layer_rows(x, weight, bias, k)
        # x − μ avec μ = Σ x / d (éq. bn-eq-mean), une moyenne par exemple
        x_centred = torch.sub(x2, x2.sum(-1, keepdim=True), alpha=1.0 / d)
        # éq. bn-eq-var : σ² = ‖x − μ‖² / d, en une lecture et sans tenseur intermédiaire
        var = torch.linalg.vector_norm(x_centred, dim=-1, keepdim=True).square_().div_(d)
        inv_std = torch.rsqrt(var + eps)
        x_hat = x_centred.mul_(inv_std)  # éq. bn-eq-normalise, en place
        y = scale_shift(x_hat, w2, b2)  # éq. bn-eq-scale-shift
        ctx.save_for_backward(x_hat, inv_std, w2)
        ctx.param_shape = None if k == 1 else x.shape[x.ndim - k:]
        return y if x2 is x else y.view_as(x)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x_hat, inv_std, weight = ctx.saved_tensors
        d = x_hat.shape[-1]
        dy2 = dy if dy.ndim == 2 and dy.shape[-1] == d else dy.reshape(-1, d)
        dy_xhat = dy2 * x_hat
        dx = dweight = dbias = None
        if ctx.needs_input_grad[1]:
            dweight = _unflatten(dy_xhat.sum(0), ctx.param_shape)  # ∂L/∂γ = Σ ∂L/∂y ⊙ x̂, sur le lot
        if ctx.needs_input_grad[2]:
            dbias = _unflatten(dy2.sum(0), ctx.param_shape)  # ∂L/∂β = Σ ∂L/∂y
        if ctx.needs_input_grad[0]:
            if weight is None:  # g = ∂L/∂x̂ = ∂L/∂y
                mean_g_xhat = dy_xhat.mean(-1, keepdim=True)
                dx = layer_norm_input_grad(dy2, x_hat, inv_std, -1, None, mean_g_xhat, out=dy_xhat)
            else:
                # moyennes de g = γ ⊙ ∂L/∂y et de g ⊙ x̂ : deux produits par la colonne γ / d
                weight_col = torch.div(weight, d).unsqueeze_(-1)  # (d, 1)
                mean_g, mean_g_xhat = dy2 @ weight_col, dy_xhat @ weight_col  # (exemples, 1)
                dx = layer_norm_input_grad(dy2, x_hat, inv_std, -1, mean_g, mean_g_xhat, weight=weight, out=dy_xhat)
            dx = dx if dy2 is dy else dx.view_as(dy)
        return dx, dweight, dbias, None, None


def _unflatten(v: torch.Tensor, shape) -> torch.Tensor:
    """Un vecteur de d valeurs remis à la forme ``shape`` des paramètres (inchangé si ``None``)."""
    return v if shape is None else v.view(shape)


def _as_shape(normalized_shape) -> tuple[int, ...]:
    if isinstance(normalized_shape, Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (int(normalized_shape),)
    try:
        if isinstance(normalized_shape, (str, bytes)) or not all(
            isinstance(d, Integral) and not isinstance(d, bool) for d in normalized_shape
        ):
            raise TypeError
        shape = tuple(int(d) for d in normalized_shape)
    except TypeError:
        raise TypeError(
            f"`normalized_shape` doit être un entier ou une suite d'entiers, reçu {normalized_shape!r}."
        ) from None
    if not shape or any(d <= 0 for d in shape):
        raise ValueError(
            f"`normalized_shape` doit contenir au moins une dimension, toutes > 0, reçu {shape}."
        )
    return shape


def layer_norm(
    x: torch.Tensor,
    normalized_shape,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Normalisation par couche, même signature que ``torch.nn.functional.layer_norm``."""
    shape = _as_shape(normalized_shape)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`x` doit être un tenseur, reçu {type(x).__name__}.")
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(
            f"Les dernières dimensions de `x` doivent valoir normalized_shape = {shape}, "
            f"reçu la forme {tuple(x.shape)}."
        )
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and tuple(value.shape) != shape:
            raise ValueError(f"`{name}` doit être de forme {shape}, reçu {tuple(value.shape)}.")
    eps = check_positive("eps", eps, strict=True)
    return LayerNormFunction.apply(x, weight, bias, k, eps)


class LayerNorm(nn.Module):
    """Normalisation par couche, jumelle de ``torch.nn.LayerNorm`` (mêmes arguments et défauts,
    mêmes noms de paramètres ``weight`` et ``bias``). Elle calcule la même chose que
    :class:`LayerNormFunction`, plus vite, avec le noyau C :class:`profond.nn.ckernels.CLayerNormFunction`
    (sans compilateur, avec :class:`profond.nn.fused.FusedLayerNormFunction`)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = check_positive("eps", eps, strict=True)
        for name, flag in (("elementwise_affine", elementwise_affine), ("bias", bias)):
            if not isinstance(flag, bool):
                raise TypeError(f"`{name}` doit être un booléen, reçu {type(flag).__name__}.")
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape, **factory))
            if bias:
                self.bias = nn.Parameter(torch.zeros(self.normalized_shape, **factory))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """γ = 1, β = 0."""
        if self.weight is not None:
            nn.init.ones_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.weight, self.bias  # lus une fois : chaque accès à un paramètre coûte
        k = len(self.normalized_shape)
        if isinstance(x, torch.Tensor) and x.shape[x.ndim - k:] == self.normalized_shape:
            function = ckernels.CLayerNormFunction if ckernels.supports(x, weight, bias) else FusedLayerNormFunction
            return function.apply(x, weight, bias, k, self.eps)
        return layer_norm(x, self.normalized_shape, weight, bias, self.eps)  # message d'erreur

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
