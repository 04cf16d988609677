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

from profond.nn.batchnorm import batch_mean, batch_var, scale_shift
from profond.utils import check_positive

__all__ = ["layer_norm_input_grad", "LayerNormFunction", "layer_norm", "LayerNorm"]


def layer_norm_input_grad(g: torch.Tensor, x_hat: torch.Tensor, inv_std: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    r"""Gradient par rapport à l'entrée, connaissant ``g`` = ∂L/∂x̂ = γ ⊙ ∂L/∂y :

    .. math:: \frac{\partial L}{\partial x_i} = \frac{1}{\sqrt{\sigma^2 + \varepsilon}}
       \Big(g_i - \frac1m \sum_j g_j - \hat x_i\, \frac1m \sum_j g_j \hat x_j\Big).

    C'est l'équation `bn-eq-grad-x` du chapitre « Normalisation par lots », les sommes portant
    cette fois sur les ``dims`` d'un même exemple ; γ ne sort pas des sommes car il varie avec j.
    """
    mean_g = g.mean(dim=dims, keepdim=True)
    mean_g_xhat = (g * x_hat).mean(dim=dims, keepdim=True)
    return (g - mean_g - x_hat * mean_g_xhat) * inv_std


class LayerNormFunction(torch.autograd.Function):
    """Normalisation par couche avec la rétropropagation explicite du chapitre.

    ``forward(x, weight, bias, k, eps)`` normalise ``x`` sur ses ``k`` dernières dimensions ;
    ``weight`` et ``bias`` ont la forme de ces ``k`` dimensions (ou valent ``None``).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, k, eps):
        dims = tuple(range(x.ndim - k, x.ndim))  # axes normalisés (par exemple, le dernier)
        mean = batch_mean(x, dims)  # (..., 1) : une moyenne par exemple
        var = batch_var(x - mean, dims)  # variance empirique (division par le nombre de valeurs)
        inv_std = torch.rsqrt(var + eps)
        x_hat = (x - mean) * inv_std  # éq. bn-eq-normalise
        y = scale_shift(x_hat, weight, bias)
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.dims = dims
        ctx.param_dims = tuple(range(x.ndim - k))  # axes sur lesquels on somme les gradients de γ, β
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x_hat, inv_std, weight = ctx.saved_tensors
        dx = dweight = dbias = None
        if ctx.needs_input_grad[1]:
            dweight = (dy * x_hat).sum(dim=ctx.param_dims) if ctx.param_dims else dy * x_hat
        if ctx.needs_input_grad[2]:
            dbias = dy.sum(dim=ctx.param_dims) if ctx.param_dims else dy.clone()
        if ctx.needs_input_grad[0]:
            g = dy * weight if weight is not None else dy
            dx = layer_norm_input_grad(g, x_hat, inv_std, ctx.dims)
        return dx, dweight, dbias, None, None


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
    mêmes noms de paramètres ``weight`` et ``bias``)."""

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
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
