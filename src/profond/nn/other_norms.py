"""Normalisation par groupes et normalisation RMS, écrites à la main (TP « Les autres
normalisations », section `norm-sec-groupes`).

* **GroupNorm** (Wu et He, 2018) : les canaux de chaque exemple sont coupés en ``num_groups``
  groupes ; chaque groupe est normalisé avec sa propre moyenne et sa propre variance (équation
  `norm-eq-groupnorm`), puis chaque canal reçoit son γ et son β. Avec un seul groupe, c'est la
  normalisation par couche sur (C, H, W) ; avec un groupe par canal, la normalisation d'instance.
  Rien ne dépend du lot.
* **RMSNorm** (Zhang et Sennrich, 2019) : on divise par la moyenne quadratique, sans retrancher
  la moyenne ni ajouter de décalage (équation `norm-eq-rmsnorm`) ; c'est la normalisation des
  grands modèles de langage récents.

Les deux ont une rétropropagation écrite à la main (équations `bn-eq-grad-x` et
`norm-eq-rmsnorm-grad`), testée contre ``torch.nn.GroupNorm`` et ``torch.nn.RMSNorm`` en float64.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from profond.nn.layernorm import _as_shape, layer_norm_input_grad
from profond.utils import check_positive, check_positive_int

__all__ = ["group_norm", "GroupNorm", "rms_norm", "RMSNorm"]


def _channel_view(t: torch.Tensor, ndim: int) -> torch.Tensor:
    """Un tenseur (C,) vu comme (1, C, 1, ..., 1) pour une entrée à ``ndim`` dimensions."""
    return t.view(1, -1, *([1] * (ndim - 2)))


class GroupNormFunction(torch.autograd.Function):
    """GroupNorm avec la rétropropagation de `bn-eq-grad-x`, les sommes portant sur un groupe."""

    @staticmethod
    def forward(ctx, x, num_groups, weight, bias, eps):
        n = x.shape[0]
        xg = x.reshape(n, num_groups, -1)  # (N, G, C/G · H · W)
        var, mean = torch.var_mean(xg, dim=2, unbiased=False, keepdim=True)
        inv_std = torch.rsqrt(var + eps)
        x_hat = ((xg - mean) * inv_std).view_as(x)  # éq. norm-eq-groupnorm
        y = x_hat
        if weight is not None:
            y = y * _channel_view(weight, x.ndim)
        if bias is not None:
            y = y + _channel_view(bias, x.ndim)
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.num_groups = num_groups
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x_hat, inv_std, weight = ctx.saved_tensors
        n = dy.shape[0]
        sum_dims = (0, *range(2, dy.ndim))  # γ et β : une valeur par canal, somme sur le reste
        dx = dweight = dbias = None
        if ctx.needs_input_grad[2]:
            dweight = (dy * x_hat).sum(dim=sum_dims)
        if ctx.needs_input_grad[3]:
            dbias = dy.sum(dim=sum_dims)
        if ctx.needs_input_grad[0]:
            g = dy * _channel_view(weight, dy.ndim) if weight is not None else dy
            dx = layer_norm_input_grad(g.reshape(n, ctx.num_groups, -1), x_hat.reshape(n, ctx.num_groups, -1),
                                       inv_std, (2,)).view_as(dy)
        return dx, None, dweight, dbias, None


def group_norm(x: torch.Tensor, num_groups: int, weight: torch.Tensor | None = None,
               bias: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """Normalisation par groupes, même signature que ``torch.nn.functional.group_norm``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`x` doit être un tenseur, reçu {type(x).__name__}.")
    num_groups = check_positive_int("num_groups", num_groups)
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(f"`x` doit être de forme (N, C, ...) avec C divisible par num_groups = {num_groups}, "
                         f"reçu {tuple(x.shape)}.")
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and tuple(value.shape) != (x.shape[1],):
            raise ValueError(f"`{name}` doit être de forme ({x.shape[1]},), reçu {tuple(value.shape)}.")
    return GroupNormFunction.apply(x, num_groups, weight, bias, check_positive("eps", eps, strict=True))


class GroupNorm(nn.Module):
    """Jumelle de ``torch.nn.GroupNorm`` : mêmes arguments, défauts et noms de paramètres."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.num_groups = check_positive_int("num_groups", num_groups)
        self.num_channels = check_positive_int("num_channels", num_channels)
        if num_channels % num_groups:
            raise ValueError(f"`num_channels` ({num_channels}) doit être divisible par `num_groups` ({num_groups}).")
        if not isinstance(affine, bool):
            raise TypeError(f"`affine` doit être un booléen, reçu {type(affine).__name__}.")
        self.eps = check_positive("eps", eps, strict=True)
        self.affine = affine
        factory = {"device": device, "dtype": dtype}
        if affine:
            self.weight = nn.Parameter(torch.ones(num_channels, **factory))
            self.bias = nn.Parameter(torch.zeros(num_channels, **factory))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


def rms_norm_input_grad(g: torch.Tensor, x_hat: torch.Tensor, inv_rms: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    r"""Gradient de RMSNorm par rapport à l'entrée, connaissant ``g`` = γ ⊙ ∂L/∂y
    (équation `norm-eq-rmsnorm-grad`) :

    .. math:: \frac{\partial L}{\partial x_i} = \frac{1}{\mathrm{rms}(\mathbf x)}
       \Big(g_i - \hat x_i\, \frac1m \sum_j g_j \hat x_j\Big).

    C'est `bn-eq-grad-x` sans le terme de la moyenne, puisqu'on ne la retranche pas.
    """
    return (g - x_hat * (g * x_hat).mean(dim=dims, keepdim=True)) * inv_rms


class RMSNormFunction(torch.autograd.Function):
    """RMSNorm sur les ``k`` dernières dimensions, rétropropagation de `norm-eq-rmsnorm-grad`."""

    @staticmethod
    def forward(ctx, x, weight, k, eps):
        dims = tuple(range(x.ndim - k, x.ndim))
        inv_rms = torch.rsqrt(x.pow(2).mean(dim=dims, keepdim=True) + eps)
        x_hat = x * inv_rms  # éq. norm-eq-rmsnorm
        ctx.save_for_backward(x_hat, inv_rms, weight)
        ctx.dims = dims
        return x_hat * weight if weight is not None else x_hat

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x_hat, inv_rms, weight = ctx.saved_tensors
        dx = dweight = None
        if ctx.needs_input_grad[1]:
            lead = tuple(range(dy.ndim - len(ctx.dims)))
            dweight = (dy * x_hat).sum(dim=lead) if lead else dy * x_hat
        if ctx.needs_input_grad[0]:
            g = dy * weight if weight is not None else dy
            dx = rms_norm_input_grad(g, x_hat, inv_rms, ctx.dims)
        return dx, dweight, None, None


def rms_norm(x: torch.Tensor, normalized_shape, weight: torch.Tensor | None = None,
             eps: float | None = None) -> torch.Tensor:
    """RMSNorm, même signature que ``torch.nn.functional.rms_norm`` (``eps=None`` : l'epsilon
    machine du type de ``x``, comme PyTorch)."""
    shape = _as_shape(normalized_shape)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`x` doit être un tenseur, reçu {type(x).__name__}.")
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"Les dernières dimensions de `x` doivent valoir {shape}, reçu la forme {tuple(x.shape)}.")
    if weight is not None and tuple(weight.shape) != shape:
        raise ValueError(f"`weight` doit être de forme {shape}, reçu {tuple(weight.shape)}.")
    eps = torch.finfo(x.dtype).eps if eps is None else check_positive("eps", eps, strict=True)
    return RMSNormFunction.apply(x, weight, k, eps)


class RMSNorm(nn.Module):
    """Jumelle de ``torch.nn.RMSNorm`` (``normalized_shape, eps=None, elementwise_affine=True``)."""

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True,
                 device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = None if eps is None else check_positive("eps", eps, strict=True)
        if not isinstance(elementwise_affine, bool):
            raise TypeError(f"`elementwise_affine` doit être un booléen, reçu {type(elementwise_affine).__name__}.")
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
