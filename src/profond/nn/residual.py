"""Réseaux résiduels avec et sans normalisation (TP « Petits lots et réseaux résiduels »,
section `moderne-sec-residuel`).

- :func:`bn_branch_ratio` : avec une BN en tête de chaque branche, la part de la branche dans la
  variance décroît comme 1/l (De et Smith, 2020 ; équation `moderne-eq-identite`) ;
- :func:`fixup_scale` : le facteur de réduction de Fixup (Zhang, Dauphin et Ma, 2019 ; équation
  `moderne-eq-fixup`) ;
- :class:`ResidualBlock` et :func:`make_residual_mlp` : un perceptron résiduel « pré-activation »
  à deux couches par branche, avec BN, avec Fixup, ou sans normalisation ;
- :func:`branch_skip_variances` : la mesure, bloc par bloc, des variances de la branche et du
  chemin direct ;
- :func:`train_residual` et :func:`residual_arm` : l'entraînement borné, et son bras pour
  :func:`profond.compare.compare`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn

from profond.compare import Arm
from profond.data import load_split, split_tensors, tensor_loader
from profond.init import he_std
from profond.nn.batchnorm import BatchNorm1d
from profond.training import History, accuracy, fit
from profond.utils import check_positive, check_positive_int, seed_everything

__all__ = ["RESIDUAL_KINDS", "bn_branch_ratio", "fixup_scale", "ResidualBlock", "ResidualMLP", "make_residual_mlp",
           "branch_skip_variances", "ResidualRun", "train_residual", "residual_arm"]

RESIDUAL_KINDS = ("bn", "fixup", "none", "he")
"""``"bn"`` : BN en tête de chaque branche ; ``"fixup"`` : sans normalisation, initialisation de
Fixup ; ``"none"`` : sans normalisation, initialisation de PyTorch ; ``"he"`` : sans
normalisation, initialisation de He (pour la mesure à l'initialisation)."""


def bn_branch_ratio(block: int, skip_var0: float = 1.0, branch_var: float = 1.0) -> float:
    r"""Rapport prédit entre la variance de la branche et celle du chemin direct à l'entrée du
    bloc ``block`` (compté à partir de 0), quand chaque branche commence par une BN (équation
    `moderne-eq-identite`) :

    .. math:: \frac{\operatorname{Var} f_l(x_l)}{\operatorname{Var} x_l}
       = \frac{c}{\operatorname{Var} x_0 + l\,c} ,

    où :math:`c` (``branch_var``) est la variance d'une branche, la même à chaque bloc puisque la
    BN remet son entrée à l'échelle. Il décroît comme :math:`1/l` : les blocs profonds sont
    presque l'identité.

    >>> bn_branch_ratio(0), bn_branch_ratio(3)
    (1.0, 0.25)
    """
    block = check_positive_int("block", block, allow_zero=True)
    skip_var0 = check_positive("skip_var0", skip_var0, strict=True)
    branch_var = check_positive("branch_var", branch_var, strict=True)
    return branch_var / (skip_var0 + block * branch_var)


def fixup_scale(num_blocks: int, layers_per_branch: int = 2) -> float:
    r"""Facteur :math:`L^{-1/(2m-2)}` par lequel Fixup multiplie les couches d'une branche (sauf la
    dernière, mise à zéro), pour :math:`L` blocs de :math:`m` couches (équation `moderne-eq-fixup`).

    >>> fixup_scale(16, 2), fixup_scale(16, 3)
    (0.25, 0.5)
    """
    num_blocks = check_positive_int("num_blocks", num_blocks)
    m = check_positive_int("layers_per_branch", layers_per_branch)
    if m < 2:
        raise ValueError(f"`layers_per_branch` doit valoir au moins 2, reçu {m}.")
    return num_blocks ** (-1.0 / (2 * m - 2))


class ResidualBlock(nn.Module):
    r"""Un bloc :math:`x \mapsto x + f(x)` dont la branche :math:`f` a deux couches linéaires.

    - ``"bn"`` : :math:`f(x) = W_2\,\mathrm{ReLU}(\mathrm{BN}(W_1\,\mathrm{ReLU}(\mathrm{BN}(x))))`
      (bloc « pré-activation », celui de De et Smith) ;
    - ``"none"`` et ``"he"`` : la même branche sans BN, initialisation de PyTorch ou de He ;
    - ``"fixup"`` : :math:`f(x) = s\,W_2(\mathrm{ReLU}(W_1(\mathrm{ReLU}(x) + a_1) + b_1) + a_2) + b_2`,
      avec des biais scalaires :math:`a_1, b_1, a_2, b_2` (nuls au départ), un multiplicateur
      scalaire :math:`s` (1 au départ), :math:`W_1` de He multiplié par :func:`fixup_scale` et
      :math:`W_2 = 0`.
    """

    def __init__(self, width: int, kind: str = "bn", num_blocks: int = 1):
        super().__init__()
        if kind not in RESIDUAL_KINDS:
            raise ValueError(f"`kind` doit être l'un de {RESIDUAL_KINDS}, reçu {kind!r}.")
        width = check_positive_int("width", width)
        self.kind = kind
        fixup = kind == "fixup"
        self.linear1 = nn.Linear(width, width, bias=not fixup)
        self.linear2 = nn.Linear(width, width, bias=not fixup)
        if kind == "bn":
            self.norm1, self.norm2 = BatchNorm1d(width), BatchNorm1d(width)
        else:
            self.norm1 = self.norm2 = nn.Identity()
        if kind in ("he", "fixup"):
            with torch.no_grad():
                self.linear1.weight.normal_(0.0, he_std(width))
                self.linear2.weight.normal_(0.0, he_std(width))
                for layer in (self.linear1, self.linear2):
                    if layer.bias is not None:
                        layer.bias.zero_()
        if fixup:
            with torch.no_grad():
                self.linear1.weight.mul_(fixup_scale(check_positive_int("num_blocks", num_blocks), 2))
                self.linear2.weight.zero_()
            self.bias1a, self.bias1b, self.bias2a, self.bias2b = (nn.Parameter(torch.zeros(1)) for _ in range(4))
            self.scale = nn.Parameter(torch.ones(1))

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """La branche résiduelle :math:`f(x)`."""
        if self.kind == "fixup":
            z = torch.relu(self.linear1(torch.relu(x) + self.bias1a) + self.bias1b)  # (N, width)
            return self.scale * self.linear2(z + self.bias2a) + self.bias2b
        z = torch.relu(self.norm2(self.linear1(torch.relu(self.norm1(x)))))  # (N, width)
        return self.linear2(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)


class ResidualMLP(nn.Module):
    """Entrée linéaire, ``num_blocks`` blocs :class:`ResidualBlock`, puis [BN →] ReLU → sortie
    linéaire (mise à zéro pour Fixup, comme la dernière couche de chaque branche)."""

    def __init__(self, kind: str = "bn", num_blocks: int = 16, width: int = 32, n_in: int = 64, n_out: int = 10):
        super().__init__()
        num_blocks = check_positive_int("num_blocks", num_blocks)
        self.stem = nn.Linear(check_positive_int("n_in", n_in), check_positive_int("width", width))
        self.blocks = nn.ModuleList(ResidualBlock(width, kind, num_blocks) for _ in range(num_blocks))
        self.norm = BatchNorm1d(width) if kind == "bn" else nn.Identity()
        self.head = nn.Linear(width, check_positive_int("n_out", n_out))
        if kind == "fixup":
            with torch.no_grad():
                self.head.weight.zero_()
                self.head.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return self.head(torch.relu(self.norm(h)))


def make_residual_mlp(kind: str = "bn", num_blocks: int = 16, width: int = 32) -> ResidualMLP:
    """Le perceptron résiduel de la section `moderne-sec-residuel` pour les chiffres 8×8.

    >>> model = make_residual_mlp("fixup", num_blocks=4, width=8)
    >>> model.blocks[0].linear2.weight.abs().sum().item(), len(model.blocks)
    (0.0, 4)
    """
    return ResidualMLP(kind, num_blocks, width)


def branch_skip_variances(model: ResidualMLP, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Pour chaque bloc :math:`l` de ``model`` (en mode entraînement, sans gradient) : la variance
    du chemin direct :math:`\\operatorname{Var} x_l` et celle de la branche
    :math:`\\operatorname{Var} f_l(x_l)`, chacune moyenne sur les neurones des variances sur le lot
    ``x``. Les statistiques de population des BN ne sont pas modifiées."""
    if not isinstance(model, ResidualMLP):
        raise TypeError(f"`model` doit être un ResidualMLP, reçu {type(model).__name__}.")
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    was_training = model.training
    model.train()
    skip, branch = [], []
    try:
        with torch.no_grad():
            h = model.stem(x)  # (N, width)
            for block in model.blocks:
                f = block.branch(h)
                skip.append(h.var(dim=0).mean().item())
                branch.append(f.var(dim=0).mean().item())
                h = h + f
    finally:
        model.load_state_dict(saved)
        model.train(was_training)
    return np.array(skip), np.array(branch)


@dataclass
class ResidualRun:
    """Un entraînement de :func:`train_residual`."""

    kind: str
    lr: float
    history: History
    val_accuracy: float
    """Exactitude de validation finale (mode évaluation) : le score des comparaisons."""
    model: nn.Module = field(repr=False)


def train_residual(kind: str, lr: float, num_blocks: int = 16, width: int = 32, epochs: int = 3,
                   batch_size: int = 64, seed: int = 0, progress: bool = False) -> ResidualRun:
    """Entraîne :func:`make_residual_mlp` par SGD sur les chiffres 8×8 standardisés (tout l'ensemble
    d'entraînement, ``epochs`` époques de lots de ``batch_size``) et mesure l'exactitude de
    validation en mode évaluation. Une course qui diverge donne une exactitude de hasard."""
    if kind not in RESIDUAL_KINDS:
        raise ValueError(f"`kind` doit être l'un de {RESIDUAL_KINDS}, reçu {kind!r}.")
    lr = check_positive("lr", lr, strict=True)
    generator = seed_everything(seed)
    x, y, x_val, y_val = split_tensors(load_split("digits", seed=0))
    model = make_residual_mlp(kind, num_blocks, width)
    train = tensor_loader(x, y, check_positive_int("batch_size", batch_size), generator=generator, drop_last=True)
    val = tensor_loader(x_val, y_val, len(x_val), shuffle=False)
    history = fit(model, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=lr), train, val,
                  epochs=epochs, device="cpu", metrics={"accuracy": accuracy}, progress=progress)
    return ResidualRun(kind, lr, history, history.metrics["val_accuracy"][-1], model)


def residual_arm(name: str, kind: str, lrs: Sequence[float], **fixed) -> Arm:
    """Un bras de :func:`profond.compare.compare` : :func:`train_residual` pour ``kind``, avec la
    grille de taux ``lrs`` ; ``fixed`` (``num_blocks``, ``epochs``...) est passé tel quel."""
    lrs = [check_positive("lr", lr, strict=True) for lr in lrs]
    if not lrs:
        raise ValueError("`lrs` ne peut pas être vide.")
    if kind not in RESIDUAL_KINDS:
        raise ValueError(f"`kind` doit être l'un de {RESIDUAL_KINDS}, reçu {kind!r}.")
    return Arm(name, train_residual, grid={"lr": lrs}, fixed={"kind": kind, **fixed})
