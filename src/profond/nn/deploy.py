"""La normalisation par lots au déploiement (TP « Les autres normalisations », section
`norm-sec-deploiement`) : la replier dans la couche qui la précède, et recalculer des statistiques
de population exactes (*precise BN*).

En évaluation, une BN est une fonction affine fixe par canal :
:math:`y = \\gamma (z - \\hat\\mu)/\\sqrt{\\hat\\sigma^2 + \\varepsilon} + \\beta`. Si
:math:`z = W x + b`, la composée est encore affine (équation `norm-eq-repli`) :
:math:`W' = s\\,W`, :math:`b' = s\\,(b - \\hat\\mu) + \\beta` avec :math:`s = \\gamma/\\sqrt{\\hat\\sigma^2 + \\varepsilon}`.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["fold_batch_norm", "precise_batch_norm_statistics"]

_BN = (nn.modules.batchnorm._BatchNorm,)


def _is_bn(module) -> bool:
    from profond.nn.batchnorm import BatchNorm1d, BatchNorm2d

    return isinstance(module, (*_BN, BatchNorm1d, BatchNorm2d))


def fold_batch_norm(layer: nn.Module, bn: nn.Module) -> nn.Module:
    """Une copie de ``layer`` (``nn.Linear`` ou ``nn.Conv2d``) qui calcule ``bn.eval()(layer(x))``
    en une seule couche (équation `norm-eq-repli`). ``layer`` et ``bn`` ne sont pas modifiés."""
    if not isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d)):
        raise TypeError(f"`layer` doit être un nn.Linear ou un nn.Conv1d/2d, reçu {type(layer).__name__}.")
    if not _is_bn(bn):
        raise TypeError(f"`bn` doit être une normalisation par lots, reçu {type(bn).__name__}.")
    out_features = layer.weight.shape[0]
    if bn.num_features != out_features:
        raise ValueError(f"La BN a {bn.num_features} canaux, la couche en produit {out_features}.")
    if bn.running_mean is None:
        raise ValueError("La BN n'a pas de statistiques de population (track_running_stats=False) : rien à replier.")
    with torch.no_grad():
        scale = torch.rsqrt(bn.running_var + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight
        shift = -bn.running_mean * scale
        if bn.bias is not None:
            shift = shift + bn.bias
        folded = copy.deepcopy(layer)
        folded.weight.mul_(scale.view(-1, *([1] * (layer.weight.ndim - 1))))
        bias = layer.bias if layer.bias is not None else torch.zeros_like(shift)
        if folded.bias is None:
            folded.bias = nn.Parameter(torch.zeros_like(shift))
        folded.bias.copy_(bias * scale + shift)
    return folded


def precise_batch_norm_statistics(model: nn.Module, loader, max_batches: int | None = None) -> nn.Module:
    """Recalcule les statistiques de population de chaque BN de ``model`` avec des poids
    **figés** : la moyenne, sur les lots de ``loader``, des moyennes et des variances (non biaisées)
    de lot, au lieu d'une moyenne mobile prise pendant que les poids changeaient.

    On passe ``momentum=None`` (moyenne cumulée, comme PyTorch) après avoir remis les compteurs à
    zéro : chaque lot compte alors autant ; avec des lots de même taille, la moyenne obtenue est
    exactement celle des données. Renvoie ``model`` (modifié sur place), en mode évaluation.
    """
    bns = [m for m in model.modules() if _is_bn(m)]
    if not bns:
        raise ValueError("Le modèle ne contient aucune normalisation par lots.")
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for i, batch in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                break
            model(batch[0] if isinstance(batch, (tuple, list)) else batch)
    for m, momentum in zip(bns, saved):
        m.momentum = momentum
    return model.eval()
