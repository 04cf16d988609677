"""Une fonction par équation de la normalisation (chapitre « Normalisation par lots »,
`chap-normalisation`), partagées par la normalisation par lots (:mod:`profond.nn.batchnorm`) et par
couche (:mod:`profond.nn.layernorm`).

Les statistiques sont calculées sur les axes ``dims`` : le lot (et les positions) pour la
normalisation par lots, les dernières dimensions d'un exemple pour la normalisation par couche.
Les axes réduits sont gardés (de taille 1) pour que les résultats se diffusent sur l'entrée.
"""

from __future__ import annotations

import torch

__all__ = ["batch_mean", "batch_var", "normalise", "scale_shift", "unbiased_var", "running_average"]


def batch_mean(x: torch.Tensor, dims: int | tuple[int, ...], keepdim: bool = True) -> torch.Tensor:
    r"""Moyenne du lot :math:`\mu_\mathcal{B} = \frac1m \sum_i x_i`, calculée sur les axes ``dims``.

    Chapitre « Normalisation par lots », équation `bn-eq-mean`. Les axes réduits sont gardés (de
    taille 1) pour que le résultat se diffuse sur ``x``, sauf si ``keepdim=False``.

    >>> batch_mean(torch.tensor([[1.0], [2.0], [6.0]]), (0,))
    tensor([[3.]])
    """
    return x.mean(dim=dims, keepdim=keepdim)


def batch_var(x_centred: torch.Tensor, dims: int | tuple[int, ...], keepdim: bool = True) -> torch.Tensor:
    r"""Variance empirique du lot :math:`\sigma^2_\mathcal{B} = \frac1m \sum_i (x_i - \mu_\mathcal{B})^2`,
    à partir de l'entrée déjà centrée ``x_centred`` = x − μ.

    Chapitre « Normalisation par lots », équation `bn-eq-var` (division par :math:`m` : c'est la
    variance qui normalise le lot). On centre d'abord, puis on élève au carré : en ``float32``,
    la formule en une passe :math:`\frac1m \sum_i x_i^2 - \mu^2` perd tous ses chiffres quand
    :math:`|\mu|` est grand devant :math:`\sigma`.

    >>> x = torch.tensor([[1.0], [2.0], [6.0]])
    >>> batch_var(x - batch_mean(x, (0,)), (0,))
    tensor([[4.6667]])
    """
    return (x_centred * x_centred).mean(dim=dims, keepdim=keepdim)


def normalise(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, eps: float) -> torch.Tensor:
    r"""Entrée normalisée :math:`\hat x = (x - \mu) / \sqrt{\sigma^2 + \varepsilon}`.

    Chapitre « Normalisation par lots », équation `bn-eq-normalise`.
    """
    return (x - mean) * torch.rsqrt(var + eps)


def mul_add(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor | None, out: torch.Tensor | None = None) -> torch.Tensor:
    """``x * scale + shift`` (``scale``, ``shift`` diffusés sur ``x``) en une passe si possible.

    ``addcmul`` lit ``x`` une seule fois, mais devient lent sur CPU quand ``scale`` et ``shift``
    sont tous deux constants le long du dernier axe (forme (1, C, 1, 1) pour une image) : on fait
    alors la multiplication puis l'addition en place.
    """
    if shift is None:
        return torch.mul(x, scale, out=out)
    if scale.shape[-1] == x.shape[-1]:
        return torch.addcmul(shift, x, scale, out=out)
    return torch.mul(x, scale, out=out).add_(shift)


def scale_shift(x_hat: torch.Tensor, gamma: torch.Tensor | None, beta: torch.Tensor | None) -> torch.Tensor:
    r"""Sortie :math:`y = \gamma \hat x + \beta` ; ``None`` signifie γ = 1 ou β = 0.

    Chapitre « Normalisation par lots », équation `bn-eq-scale-shift`.
    """
    if gamma is None:
        return x_hat + beta if beta is not None else x_hat
    return mul_add(x_hat, gamma, beta)


def unbiased_var(var: torch.Tensor, m: int) -> torch.Tensor:
    r"""Variance non biaisée :math:`\frac{m}{m-1} \sigma^2_\mathcal{B}` (celle que PyTorch mémorise).

    Chapitre « Normalisation par lots », équation `bn-eq-unbiased`.

    >>> unbiased_var(torch.tensor([4.0]), 3)
    tensor([6.])
    """
    return var * (m / (m - 1))


def running_average(running: torch.Tensor, batch_stat: torch.Tensor, momentum: float) -> torch.Tensor:
    r"""Moyenne mobile exponentielle :math:`s \leftarrow (1 - \rho)\, s + \rho\, s_\mathcal{B}`,
    **en place** dans ``running``, qui est renvoyé.

    Chapitre « Normalisation par lots », équation `bn-eq-running`. ``momentum`` (ρ) est le poids de
    la **nouvelle** statistique, comme dans PyTorch (0,1 par défaut) ; certains textes appellent
    « momentum » le poids de l'ancienne valeur (0,9), ce qui revient au même avec ρ = 1 − 0,9.

    >>> running_average(torch.tensor([0.0]), torch.tensor([10.0]), 0.1)
    tensor([1.])
    """
    return running.lerp_(batch_stat, momentum)
