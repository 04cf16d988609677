"""Les réseaux et les données des expériences de la partie 3 (chapitre « Normalisation par lots »,
`chap-normalisation`, et son TP), sur les chiffres manuscrits 8×8 de scikit-learn (1 797 images,
aucun téléchargement).

- :class:`MLPConfig` et :func:`make_normalized_mlp` : un perceptron avec ou sans BN, placée avant
  ou après l'activation, bruitée ou non, et son initialisation (celle de PyTorch, Glorot ou He) ;
- :class:`CovariateShiftNoise` : le bruit de Santurkar et al., ajouté après une BN ;
- :func:`make_lenet` : un LeNet pour images 8×8 ;
- :func:`digits_loaders` : les chargeurs (``torch.utils.data.DataLoader``) du découpage de
  :func:`profond.data.load_split`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from profond.data import load_split, split_tensors
from profond.init import init_linear_
from profond.nn.batchnorm import BatchNorm1d, BatchNorm2d
from profond.utils import check_positive, check_positive_int

__all__ = ["NORMS", "INITS", "MLPConfig", "CovariateShiftNoise", "make_normalized_mlp", "make_lenet",
           "digits_loaders"]

NORMS = ("none", "bn", "bn_after", "noisy_bn", "dropout", "bn_dropout")
INITS = ("default", "glorot", "he")
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU}


@dataclass(frozen=True)
class MLPConfig:
    """Un perceptron multicouche pour les chiffres 8×8 (64 entrées, 10 classes)."""

    hidden: tuple[int, ...] = (100, 100, 100)
    """Largeur des couches cachées (Ioffe et Szegedy : trois couches de 100)."""
    activation: str = "sigmoid"
    """``"sigmoid"`` ou ``"relu"``."""
    norm: str = "none"
    """``"none"``, ``"bn"`` (BN avant l'activation), ``"bn_after"`` (BN après l'activation),
    ``"noisy_bn"`` (BN suivie du bruit :class:`CovariateShiftNoise`), ``"dropout"``,
    ``"bn_dropout"``."""
    init: str = "default"
    """Initialisation des couches linéaires : ``"default"`` (celle de PyTorch, variance
    1/(3·n_entrées)), ``"glorot"`` (Glorot et Bengio, pour la sigmoïde) ou ``"he"`` (He et al.,
    pour la ReLU ; la couche de sortie reçoit alors Glorot), en loi normale et biais nuls pour ces
    deux dernières (:func:`profond.init.init_linear_`, section `intro-sec-initialisation`)."""
    dropout: float = 0.2
    """Probabilité d'abandon pour ``"dropout"`` et ``"bn_dropout"``."""
    noise_mean: float = 1.0
    """Bruit de ``"noisy_bn"`` : la moyenne du décalage est tirée dans [−noise_mean, noise_mean]."""
    noise_scale: float = 2.0
    """Bruit de ``"noisy_bn"`` : la moyenne du facteur d'échelle est tirée dans [1, noise_scale]."""

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"`norm` doit être l'un de {NORMS}, reçu {self.norm!r}.")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"`activation` doit être l'un de {tuple(ACTIVATIONS)}, reçu {self.activation!r}.")
        if self.init not in INITS:
            raise ValueError(f"`init` doit être l'un de {INITS}, reçu {self.init!r}.")
        if not self.hidden or any(int(h) <= 0 for h in self.hidden):
            raise ValueError(f"`hidden` doit contenir au moins une largeur > 0, reçu {self.hidden}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"`dropout` doit appartenir à [0, 1), reçu {self.dropout}.")
        if self.noise_scale < 1.0:
            raise ValueError(f"`noise_scale` doit valoir au moins 1, reçu {self.noise_scale}.")


class CovariateShiftNoise(nn.Module):
    r"""Bruit de l'expérience « BN bruitée » de Santurkar et al. (chapitre « Normalisation par
    lots », section `bn-sec-ics`), placé juste après une BN.

    En entraînement, à **chaque pas** et pour chaque neurone :math:`j`, on tire une loi
    :math:`(\mu_j, s_j)` avec :math:`\mu_j \sim \mathcal U(-n_\mu, n_\mu)` et
    :math:`s_j \sim \mathcal U(1, n_s)` ; puis, pour **chaque exemple** :math:`i`, un bruit
    indépendant : :math:`y'_{ij} = a_{ij}\, y_{ij} + b_{ij}` avec
    :math:`a_{ij} \sim \mathcal N(s_j, \tau^2)` et :math:`b_{ij} \sim \mathcal N(\mu_j, \tau^2)`.
    Le bruit est de moyenne non nulle et de variance non unité, et sa loi change à chaque pas : la
    distribution vue par la couche suivante bouge sans cesse. En évaluation, aucun bruit.
    """

    def __init__(self, n_mean: float = 1.0, n_scale: float = 2.0, tau: float = 0.2,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.n_mean = check_positive("n_mean", n_mean)
        self.n_scale = check_positive("n_scale", n_scale)
        if self.n_scale < 1.0:
            raise ValueError(f"`n_scale` doit valoir au moins 1, reçu {n_scale}.")
        self.tau = check_positive("tau", tau)
        self.generator = generator

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return y
        if y.ndim != 2:
            raise ValueError(f"L'entrée doit être de forme (N, C), reçu {tuple(y.shape)}.")
        n, c = y.shape
        g = self.generator
        u = torch.rand((2, c), generator=g, dtype=y.dtype)
        mu = (2 * u[0] - 1) * self.n_mean  # (C,) : moyenne du décalage, tirée à ce pas
        s = 1 + u[1] * (self.n_scale - 1)  # (C,) : moyenne du facteur d'échelle
        z = torch.randn((2, n, c), generator=g, dtype=y.dtype) * self.tau  # (2, N, C) : par exemple
        return (s + z[0]) * y + (mu + z[1])

    def extra_repr(self) -> str:
        return f"n_mean={self.n_mean}, n_scale={self.n_scale}, tau={self.tau}"


def _linear(n_in: int, n_out: int, init: str) -> nn.Linear:
    """Une couche linéaire, réinitialisée par :func:`profond.init.init_linear_` pour ``"glorot"``
    et ``"he"`` (loi normale, biais nuls) ; celle de PyTorch pour ``"default"``."""
    layer = nn.Linear(n_in, n_out)
    if init != "default":
        init_linear_(layer, {"glorot": "Glorot", "he": "He"}[init])
    return layer


def make_normalized_mlp(config: MLPConfig, n_in: int = 64, n_out: int = 10,
                        noise_generator: torch.Generator | None = None) -> nn.Sequential:
    """Construit le réseau décrit par ``config``, avec nos couches :class:`BatchNorm1d`.

    Chaque couche cachée est ``Linear → [BN [→ bruit]] → activation → [BN] → [Dropout]`` selon
    ``norm`` (le perceptron simple du cours est :func:`profond.intro.make_mlp`).

    >>> [type(m).__name__ for m in make_normalized_mlp(MLPConfig(hidden=(5,), norm="bn"))]
    ['Linear', 'BatchNorm1d', 'Sigmoid', 'Linear']
    """
    act = ACTIVATIONS[config.activation]
    layers: list[nn.Module] = []
    width = n_in
    for h in config.hidden:
        layers.append(_linear(width, h, config.init))
        if config.norm in ("bn", "bn_dropout", "noisy_bn"):
            layers.append(BatchNorm1d(h))
        if config.norm == "noisy_bn":
            layers.append(CovariateShiftNoise(config.noise_mean, config.noise_scale, generator=noise_generator))
        layers.append(act())
        if config.norm == "bn_after":
            layers.append(BatchNorm1d(h))
        if config.norm in ("dropout", "bn_dropout"):
            layers.append(nn.Dropout(config.dropout))
        width = h
    layers.append(_linear(width, n_out, "glorot" if config.init != "default" else "default"))
    return nn.Sequential(*layers)


def make_lenet(bn2d: type[nn.Module] = BatchNorm2d, bn1d: type[nn.Module] = BatchNorm1d) -> nn.Sequential:
    """Un LeNet adapté aux images 8×8 : deux convolutions 3×3 (6 puis 16 canaux) suivies chacune
    d'une BN, d'une sigmoïde et d'un sous-échantillonnage 2×2, puis trois couches denses
    (120, 84, 10) avec BN. ``bn2d`` et ``bn1d`` choisissent l'implémentation (la nôtre ou celle de
    PyTorch) ; comme elles ne tirent aucun nombre aléatoire, une même graine donne les mêmes poids.
    """
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 6, kernel_size=3, padding=1), bn2d(6), nn.Sigmoid(), nn.AvgPool2d(2),  # 6×4×4
        nn.Conv2d(6, 16, kernel_size=3, padding=1), bn2d(16), nn.Sigmoid(), nn.AvgPool2d(2),  # 16×2×2
        nn.Flatten(),
        nn.Linear(64, 120), bn1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), bn1d(84), nn.Sigmoid(),
        nn.Linear(84, 10),
    )


@lru_cache(maxsize=8)
def _digits(seed: int) -> tuple[torch.Tensor, ...]:
    """Le découpage des chiffres pour une graine, chargé une fois par processus (lecture seule)."""
    return split_tensors(load_split("digits", seed=seed))


def digits_loaders(batch_size: int = 64, seed: int = 0) -> tuple[DataLoader, DataLoader]:
    """Chargeurs d'entraînement et de validation des chiffres.

    L'entraînement est mélangé par un générateur dédié (reproductible) et abandonne le dernier
    lot incomplet (``drop_last=True``) : un lot de 3 exemples en fin d'époque donnerait à la BN
    des statistiques très bruitées, que la moyenne mobile mémoriserait.
    """
    batch_size = check_positive_int("batch_size", batch_size)
    x_tr, y_tr, x_val, y_val = _digits(int(seed))
    g = torch.Generator().manual_seed(seed)
    train = DataLoader(TensorDataset(x_tr, y_tr), batch_size=batch_size, shuffle=True, drop_last=True, generator=g)
    val = DataLoader(TensorDataset(x_val, y_val), batch_size=512, shuffle=False)
    return train, val
