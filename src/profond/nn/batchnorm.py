"""Normalisation par lots écrite à la main (chapitre « Normalisation par lots », `chap-normalisation`).

Trois étages, du plus mathématique au plus « comptable » :

1. une fonction par équation du chapitre : :func:`normalise_backward` ici, les autres
   (:func:`batch_mean`, :func:`batch_var`, :func:`normalise`, :func:`scale_shift`,
   :func:`unbiased_var`, :func:`running_average`) dans :mod:`profond.nn.norm_equations` ;
2. :class:`BatchNormFunction`, une ``torch.autograd.Function`` dont la rétropropagation est celle
   que le chapitre dérive (équations `bn-eq-grad-gamma`, `bn-eq-grad-beta`, `bn-eq-grad-x`) ;
   :func:`batch_norm_train` et :func:`batch_norm_inference` (les deux encadrés d'algorithme) ;
   :func:`batch_norm`, de même signature que ``torch.nn.functional.batch_norm`` ;
3. les couches :class:`BatchNorm1d` et :class:`BatchNorm2d` (la même chose, aussi vite que PyTorch,
   par le noyau C :class:`profond.nn.ckernels.CBatchNormFunction`, ou sans compilateur par
   :class:`profond.nn.fused.FusedBatchNormFunction`), mêmes arguments, mêmes valeurs par
   défaut, mêmes tampons (``running_mean``, ``running_var``, ``num_batches_tracked``) et mêmes noms
   de paramètres (``weight`` pour γ, ``bias`` pour β) que leurs jumelles de PyTorch : un
   ``state_dict`` passe de l'une à l'autre.

Comme dans PyTorch, la variance qui normalise le lot est la variance empirique (division par
:math:`m`), la variance mémorisée pour l'évaluation est la variance non biaisée (division par
:math:`m - 1`), et ``momentum`` est le poids donné à la **nouvelle** statistique.
"""

from __future__ import annotations

from numbers import Real

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from profond.nn import ckernels
from profond.nn.fused import FusedBatchNormFunction
# Les équations communes à la normalisation par lots et par couche, réexportées ici.
from profond.nn.norm_equations import batch_mean, batch_var, mul_add, normalise, running_average, scale_shift, unbiased_var
from profond.utils import check_positive, check_positive_int

__all__ = [
    "batch_mean", "batch_var", "normalise", "scale_shift", "unbiased_var", "running_average",
    "normalise_backward", "BatchNormFunction", "batch_norm_train", "batch_norm_inference", "batch_norm",
    "BatchNorm1d", "BatchNorm2d", "NoisyBatchNorm1d",
]


# --------------------------------------------------------------------------------------------
# 1. Une fonction par équation (les autres sont dans profond.nn.norm_equations)
# --------------------------------------------------------------------------------------------
def normalise_backward(
    dy: torch.Tensor,
    x_centred: torch.Tensor,
    inv_std: torch.Tensor,
    scale: torch.Tensor,
    sum_dy: torch.Tensor,
    sum_dy_xhat: torch.Tensor,
    m: int,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Gradient par rapport à l'entrée de la normalisation par lots :

    .. math:: \frac{\partial L}{\partial x_i} = \frac{\gamma}{\sqrt{\sigma^2 + \varepsilon}}
       \Big(\frac{\partial L}{\partial y_i} - \frac1m \frac{\partial L}{\partial \beta}
       - \frac{\hat x_i}{m} \frac{\partial L}{\partial \gamma}\Big).

    Chapitre « Normalisation par lots », équation `bn-eq-grad-x`. ``x_centred`` vaut x − μ (donc
    x̂ = ``x_centred * inv_std``), ``scale`` vaut γ / √(σ² + ε) ; ``sum_dy`` = Σ ∂L/∂y = ∂L/∂β et
    ``sum_dy_xhat`` = Σ ∂L/∂y · x̂ = ∂L/∂γ sont les sommes sur le lot (de forme (C,) pour une
    entrée (N, C), axes réduits gardés sinon),
    équations `bn-eq-grad-beta` et `bn-eq-grad-gamma` ; ``m`` est le nombre de valeurs par
    caractéristique. ``out``, s'il est donné, reçoit le résultat (un tenseur de moins à allouer).
    """
    k = scale / -m  # − γ / (m σ)
    shift = k * sum_dy  # − γ/(m σ) · ∂L/∂β
    coef = (k * inv_std).mul_(sum_dy_xhat)  # − γ/(m σ) · ∂L/∂γ, appliqué à x − μ (d'où le second 1/σ)
    dx = mul_add(dy, scale, shift, out=out)  # γ/σ · ∂L/∂y − γ/(m σ) · ∂L/∂β
    return dx.addcmul_(x_centred, coef)


# --------------------------------------------------------------------------------------------
# 2. Rétropropagation écrite à la main, algorithmes d'entraînement et d'inférence
# --------------------------------------------------------------------------------------------
def _stat_dims(x: torch.Tensor) -> int | tuple[int, ...]:
    """Axes sur lesquels on moyenne : tous sauf celui des caractéristiques (axe 1)."""
    return 0 if x.ndim == 2 else (0,) + tuple(range(2, x.ndim))


def _as_channels(v: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
    """Un vecteur de C valeurs mis en forme (1, C, 1, ..., 1) pour se diffuser sur ``x`` ; pour une
    entrée (N, C), le vecteur (C,) se diffuse tel quel."""
    if v is None or x.ndim == 2:
        return v
    return v.view((1, x.shape[1]) + (1,) * (x.ndim - 2))


def _flat(v: torch.Tensor) -> torch.Tensor:
    """Une statistique par caractéristique, de forme (1, C, 1, ...) ou (C,), remise à plat en (C,)."""
    return v if v.ndim == 1 else v.view(-1)


class BatchNormFunction(torch.autograd.Function):
    """Normalisation d'un lot avec ses propres statistiques, rétropropagation explicite.

    ``apply(x, weight, bias, running_mean, running_var, momentum, eps)`` renvoie y = γ x̂ + β et,
    si ``running_mean`` et ``running_var`` sont donnés, les met à jour en place. Le ``backward``
    applique les équations `bn-eq-grad-gamma`, `bn-eq-grad-beta` et `bn-eq-grad-x` du chapitre
    « Normalisation par lots ». Chaque opération sur un tenseur de la taille de x en est une
    lecture (et une écriture) complète : pour une entrée (N, C), on en fait cinq à l'aller (μ, x − μ,
    (x − μ)², σ², y) et cinq au retour (Σ ∂L/∂y, ∂L/∂y · (x − μ), sa somme, deux pour ∂L/∂x).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps):
        dims = _stat_dims(x)  # 0 pour (N, C) ; (0, 2, 3) pour (N, C, H, W)
        keep = x.ndim > 2  # statistiques de forme (C,) pour (N, C), (1, C, 1, 1) pour (N, C, H, W)
        m = x.numel() // x.shape[1]  # nombre de valeurs par caractéristique
        mean = batch_mean(x, dims, keep)  # éq. bn-eq-mean
        x_centred = x - mean
        var = batch_var(x_centred, dims, keep)  # éq. bn-eq-var
        inv_std = torch.rsqrt(var + eps)  # 1 / √(σ² + ε)
        scale = inv_std * _as_channels(weight, x) if weight is not None else inv_std  # γ / √(σ² + ε)
        # éq. bn-eq-normalise puis bn-eq-scale-shift, en une passe : y = (x − μ) γ/√(σ² + ε) + β
        y = mul_add(x_centred, scale, _as_channels(bias, x))
        if running_mean is not None and running_var is not None:  # éq. bn-eq-running
            running_average(running_mean, _flat(mean), momentum)
            running_average(running_var, _flat(unbiased_var(var, m)), momentum)
        ctx.save_for_backward(x_centred, inv_std, scale)
        ctx.dims, ctx.m = dims, m
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        x_centred, inv_std, scale = ctx.saved_tensors
        dims, m, keep = ctx.dims, ctx.m, dy.ndim > 2
        buffer = dy * x_centred  # le seul tenseur de la taille de x alloué ici
        sum_dy_xhat = buffer.sum(dims, keep).mul_(inv_std)  # ∂L/∂γ = Σ ∂L/∂y · x̂, éq. bn-eq-grad-gamma
        sum_dy = dy.sum(dims, keep)  # ∂L/∂β = Σ ∂L/∂y, éq. bn-eq-grad-beta
        dx = dweight = dbias = None
        if ctx.needs_input_grad[0]:
            dx = normalise_backward(dy, x_centred, inv_std, scale, sum_dy, sum_dy_xhat, m, out=buffer)
        if ctx.needs_input_grad[1]:
            dweight = _flat(sum_dy_xhat)
        if ctx.needs_input_grad[2]:
            dbias = _flat(sum_dy)
        return dx, dweight, dbias, None, None, None, None


def batch_norm_train(
    x: torch.Tensor,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    momentum: float,
    eps: float,
) -> torch.Tensor:
    """Normalisation par lots en entraînement (algorithme `bn-algo-train` du chapitre).

    ``x`` est de forme (N, C), (N, C, L) ou (N, C, H, W) ; μ et σ² sont calculés par
    caractéristique sur les m = N (ou N·L, N·H·W) valeurs. Si ``running_mean`` et ``running_var``
    sont donnés, ils sont mis à jour **en place** par moyenne mobile ; la variance mémorisée est la
    variance non biaisée, comme dans PyTorch. Le calcul et sa rétropropagation sont dans
    :class:`BatchNormFunction`.
    """
    return BatchNormFunction.apply(x, weight, bias, running_mean, running_var, momentum, eps)


def batch_norm_inference(
    x: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    eps: float,
) -> torch.Tensor:
    """Normalisation par lots en évaluation (algorithme `bn-algo-eval` du chapitre).

    Les statistiques de population (``running_mean``, ``running_var``) remplacent celles du lot :
    la sortie d'un exemple ne dépend plus des autres exemples du lot. La rétropropagation est
    celle d'autograd (une transformation affine par caractéristique).
    """
    mu, var = _as_channels(running_mean, x), _as_channels(running_var, x)
    x_hat = normalise(x, mu, var, eps)  # éq. bn-eq-normalise
    return scale_shift(x_hat, _as_channels(weight, x), _as_channels(bias, x))  # éq. bn-eq-scale-shift


def _check_channel_vector(name: str, value, num_features: int) -> None:
    if value is None:
        return
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"`{name}` doit être un tenseur ou None, reçu {type(value).__name__}.")
    if value.shape != (num_features,):
        raise ValueError(
            f"`{name}` doit être un vecteur de {num_features} valeurs (une par caractéristique), "
            f"reçu la forme {tuple(value.shape)}."
        )


def _check_more_than_one_value(x: torch.Tensor) -> None:
    if x.numel() <= x.shape[1]:
        raise ValueError(
            "En mode entraînement, la normalisation par lots demande plus d'une valeur par "
            f"caractéristique, reçu une entrée de forme {tuple(x.shape)} : la variance du lot serait "
            "nulle et la sortie ne vaudrait que β. Utilisez un lot de plus d'un exemple, ou `.eval()`."
        )


def batch_norm(
    x: torch.Tensor,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Normalisation par lots, même signature que ``torch.nn.functional.batch_norm``.

    En entraînement (``training=True``) : statistiques du lot, et mise à jour en place des
    statistiques de population si elles sont données (:func:`batch_norm_train`). En évaluation :
    statistiques de population (:func:`batch_norm_inference`). Chapitre « Normalisation par lots »,
    algorithmes `bn-algo-train` et `bn-algo-eval`.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`x` doit être un tenseur, reçu {type(x).__name__}.")
    if x.ndim < 2:
        raise ValueError(
            f"`x` doit être de forme (N, C, ...) avec au moins 2 dimensions, reçu la forme {tuple(x.shape)}."
        )
    num_features = x.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_channel_vector(name, value, num_features)
    eps = check_positive("eps", eps, strict=True)
    if training:
        _check_more_than_one_value(x)
        return batch_norm_train(x, weight, bias, running_mean, running_var, float(momentum), eps)
    if running_mean is None or running_var is None:
        raise ValueError(
            "En évaluation (`training=False`), `running_mean` et `running_var` sont nécessaires."
        )
    return batch_norm_inference(x, running_mean, running_var, weight, bias, eps)


# --------------------------------------------------------------------------------------------
# 3. Les couches
# --------------------------------------------------------------------------------------------
class _BatchNorm(nn.Module):
    """Base commune de :class:`BatchNorm1d` et :class:`BatchNorm2d` (comme ``torch.nn.modules.batchnorm._BatchNorm``)."""

    _expected = ""  # texte de l'erreur de rang

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.num_features = check_positive_int("num_features", num_features)
        self.eps = check_positive("eps", eps, strict=True)
        if momentum is not None:
            if isinstance(momentum, bool) or not isinstance(momentum, Real) or not 0.0 <= float(momentum) <= 1.0:
                raise ValueError(
                    f"`momentum` doit être un réel de [0, 1] ou None (moyenne cumulée), reçu {momentum!r}."
                )
            momentum = float(momentum)
        self.momentum = momentum
        for name, flag in (("affine", affine), ("track_running_stats", track_running_stats)):
            if not isinstance(flag, bool):
                raise TypeError(f"`{name}` doit être un booléen, reçu {type(flag).__name__}.")
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.empty(num_features, **factory))  # γ
            self.bias = nn.Parameter(torch.empty(num_features, **factory))  # β
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **factory))
            self.register_buffer("running_var", torch.ones(num_features, **factory))
            self.register_buffer(
                "num_batches_tracked",
                torch.tensor(0, dtype=torch.long, **{k: v for k, v in factory.items() if k != "dtype"}),
            )
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Remet μ_pop à 0, σ²_pop à 1 et le compteur de lots à 0."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """γ = 1, β = 0 (initialisation de PyTorch)."""
        self.reset_running_stats()
        if self.affine:
            nn.init.ones_(self.weight)
            nn.init.zeros_(self.bias)

    def _check_input_dim(self, x: torch.Tensor) -> None:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"L'entrée doit être un tenseur, reçu {type(x).__name__}.")
        self._check_input_dim(x)
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"L'entrée doit avoir {self.num_features} caractéristiques sur l'axe 1 "
                f"(num_features), reçu la forme {tuple(x.shape)}."
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # moyenne cumulée : poids 1/k au k-ième lot
                factor = 1.0 / float(self.num_batches_tracked)
        if not self.training and self.running_mean is not None:
            return batch_norm_inference(x, self.running_mean, self.running_var, self.weight, self.bias, self.eps)
        # Entraînement, ou évaluation sans statistiques de population : statistiques du lot (comme
        # PyTorch), mises à jour en entraînement seulement. Le calcul de batch_norm_train, par le noyau
        # C de profond.nn.ckernels (sans compilateur : la version Python de profond.nn.fused).
        _check_more_than_one_value(x)
        args = (x, self.weight, self.bias, self.running_mean, self.running_var)
        function = ckernels.CBatchNormFunction if ckernels.supports(*args) else FusedBatchNormFunction
        return function.apply(*args, factor, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Normalisation par lots d'entrées (N, C) ou (N, C, L), jumelle de ``torch.nn.BatchNorm1d``.

    Chapitre « Normalisation par lots », section `bn-sec-couches`. ``weight`` est γ, ``bias`` est β.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.ndim not in (2, 3):
            raise ValueError(
                f"BatchNorm1d attend une entrée de forme (N, C) ou (N, C, L), reçu {x.ndim} "
                f"dimension(s) : forme {tuple(x.shape)}."
            )


class BatchNorm2d(_BatchNorm):
    """Normalisation par lots d'images (N, C, H, W), jumelle de ``torch.nn.BatchNorm2d``.

    Une moyenne et une variance par canal, calculées sur les N·H·W valeurs du canal (chapitre
    « Normalisation par lots », section `bn-sec-couches`).
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.ndim != 4:
            raise ValueError(
                f"BatchNorm2d attend une entrée de forme (N, C, H, W), reçu {x.ndim} dimension(s) : "
                f"forme {tuple(x.shape)}."
            )


class NoisyBatchNorm1d(BatchNorm1d):
    r"""BatchNorm1d suivie d'un bruit qui déplace et dilate chaque caractéristique, tiré à nouveau à
    chaque lot d'entraînement (expérience « BN bruitée » de Santurkar et al., chapitre
    « Normalisation par lots », section `bn-sec-ics`).

    En entraînement, la sortie devient :math:`s \odot y + t` avec, par caractéristique et par lot,
    :math:`\log s \sim \mathcal N(0, \texttt{scale\_std}^2)` et
    :math:`t \sim \mathcal N(0, \texttt{shift\_std}^2)`. La distribution vue par la couche
    suivante change donc à chaque pas : on **ajoute** du décalage de covariable interne. En
    évaluation, aucun bruit. ``generator`` rend le bruit reproductible.
    """

    def __init__(self, num_features: int, scale_std: float = 0.5, shift_std: float = 0.5,
                 generator: torch.Generator | None = None, **kwargs):
        super().__init__(num_features, **kwargs)
        self.scale_std = check_positive("scale_std", scale_std)
        self.shift_std = check_positive("shift_std", shift_std)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        if not self.training:
            return y
        noise = torch.randn((2, self.num_features), generator=self.generator, dtype=y.dtype)
        s = _as_channels(torch.exp(self.scale_std * noise[0]), y)
        t = _as_channels(self.shift_std * noise[1], y)
        return y * s + t
