"""Partie 3 : normalisation par lots (chapitre « Normalisation par lots », `chap-normalisation`).

- :mod:`profond.nn.batchnorm` : équations, rétropropagation écrite à la main, couches
  :class:`BatchNorm1d`, :class:`BatchNorm2d` (jumelles de celles de PyTorch) ;
- :mod:`profond.nn.layernorm` : :class:`LayerNorm` ;
- :mod:`profond.nn.models` : les réseaux (:func:`make_normalized_mlp`, :func:`make_lenet`) et les
  chargeurs des chiffres 8×8 ;
- :mod:`profond.nn.runs` : les entraînements mesurés (bornés, avec graine), bras de
  :func:`profond.compare.compare` ;
- :mod:`profond.nn.probes` : les sondes de Santurkar et al. (décalage de covariable interne,
  paysage le long du gradient) ;
- :mod:`profond.nn.statistics` : bruit de lot, statistiques de population, données décalées ;
- :mod:`profond.nn.plots` : les figures, qui ne font que lire les résultats des expériences.
"""

from profond.nn.batchnorm import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNormFunction,
    NoisyBatchNorm1d,
    batch_mean,
    batch_norm,
    batch_norm_inference,
    batch_norm_train,
    batch_var,
    normalise,
    normalise_backward,
    running_average,
    scale_shift,
    unbiased_var,
)
from profond.nn.layernorm import LayerNorm, LayerNormFunction, layer_norm

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNormFunction",
    "NoisyBatchNorm1d",
    "LayerNorm",
    "LayerNormFunction",
    "batch_mean",
    "batch_norm",
    "batch_norm_inference",
    "batch_norm_train",
    "batch_var",
    "layer_norm",
    "normalise",
    "normalise_backward",
    "running_average",
    "scale_shift",
    "unbiased_var",
]
