"""Statistiques de la BN en entraînement et en évaluation (chapitre « Normalisation par lots »,
sections `bn-sec-regularisation` et `bn-sec-eval`) : le bruit qu'ajoute le lot, les statistiques
de population comparées aux statistiques exactes, et la robustesse à un décalage des données de
test, avec ou sans recalcul des statistiques sur ces données (AdaBN, Li et al. 2016).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from profond.data import load_split, split_tensors
from profond.nn.batchnorm import BatchNorm1d, BatchNorm2d
from profond.training import accuracy
from profond.utils import check_positive_int

__all__ = ["batch_noise", "PopulationStats", "population_statistics", "ShiftResult", "recalibrate",
           "shift_robustness"]


def batch_noise(
    model: nn.Module,
    x_pool: torch.Tensor,
    batch_sizes: Sequence[int] = (4, 16, 64, 256),
    draws: int = 50,
    seed: int = 0,
) -> dict[int, float]:
    """Bruit que la BN ajoute en entraînement : pour un exemple fixe, on le place dans ``draws``
    lots tirés au hasard dans ``x_pool`` et on mesure l'écart type (moyen sur les sorties) des
    logits qu'il reçoit, en mode entraînement (statistiques du lot). Le modèle n'est pas modifié
    (on travaille sur une copie)."""
    draws = check_positive_int("draws", draws)
    model = copy.deepcopy(model).train()
    g = torch.Generator().manual_seed(seed)
    x0 = x_pool[:1]
    out: dict[int, float] = {}
    with torch.no_grad():
        for b in batch_sizes:
            b = check_positive_int("batch_size", b)
            if b < 2 or b > len(x_pool):
                raise ValueError(f"Chaque taille de lot doit être dans [2, {len(x_pool)}], reçu {b}.")
            logits = []
            for _ in range(draws):
                idx = torch.randperm(len(x_pool) - 1, generator=g)[: b - 1] + 1
                logits.append(model(torch.cat([x0, x_pool[idx]]))[0])
            out[int(b)] = torch.stack(logits).std(dim=0).mean().item()
    return out


@dataclass
class PopulationStats:
    """Statistiques de population mémorisées par une couche BN, comparées aux statistiques exactes
    de son entrée sur tout l'ensemble d'entraînement (réseau figé en fin d'entraînement)."""

    running_mean: list[float]
    running_var: list[float]
    exact_mean: list[float]
    exact_var: list[float]
    """Variance non biaisée de l'entrée de la couche sur tout l'ensemble d'entraînement."""
    batch_mode_accuracy: dict[int, float]
    """Exactitude de validation en normalisant avec les statistiques de lots de cette taille."""
    eval_accuracy: float
    """Exactitude de validation en mode évaluation (statistiques de population)."""


def population_statistics(model: nn.Module, seed: int = 0, batch_sizes: Sequence[int] = (2, 8, 32, 450)) -> PopulationStats:
    """Compare μ_pop, σ²_pop de la première BN de ``model`` avec la moyenne et la variance exactes
    de son entrée sur l'ensemble d'entraînement, puis mesure l'exactitude de validation quand on
    normalise avec les statistiques de lots de validation de taille ``batch_sizes`` (mode
    entraînement, sur une copie) au lieu des statistiques de population."""
    bns = [m for m in model.modules() if isinstance(m, (BatchNorm1d, nn.BatchNorm1d))]
    if not bns:
        raise ValueError("`model` ne contient aucune couche BatchNorm1d.")
    bn = bns[0]
    x_tr, _, x_val, y_val = split_tensors(load_split("digits", seed=seed))
    captured: list[torch.Tensor] = []
    handle = bn.register_forward_hook(lambda m, i, o: captured.append(i[0].detach()))
    model.eval()
    try:
        with torch.no_grad():
            model(x_tr)
            eval_acc = accuracy(model(x_val), y_val)
    finally:
        handle.remove()
    z = captured[0]
    batch_acc: dict[int, float] = {}
    g = torch.Generator().manual_seed(seed)
    for b in batch_sizes:
        b = check_positive_int("batch_size", b)
        twin = copy.deepcopy(model).train()  # normalise avec le lot ; la copie absorbe les mises à jour
        perm = torch.randperm(len(x_val), generator=g)
        correct = 0
        with torch.no_grad():
            for start in range(0, len(x_val) - b + 1, b):
                idx = perm[start:start + b]
                correct += (twin(x_val[idx]).argmax(1) == y_val[idx]).sum().item()
        batch_acc[int(b)] = correct / (len(x_val) // b * b)
    return PopulationStats(bn.running_mean.tolist(), bn.running_var.tolist(), z.mean(0).tolist(),
                           z.var(0, unbiased=True).tolist(), batch_acc, eval_acc)


@dataclass
class ShiftResult:
    """Exactitude de validation quand les images de test sont décalées (même constante ajoutée à
    tous les pixels standardisés), pour plusieurs réseaux et deux façons d'évaluer."""

    shifts: list[float]
    accuracy: dict[str, list[float]]


def recalibrate(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Copie de ``model`` dont les statistiques de population sont recalculées sur ``x``
    (moyenne cumulée sur un passage, en mode entraînement sans gradient).

    Recalculer ces statistiques sur les données mêmes que l'on évalue est *transductif* : c'est
    l'adaptation de domaine AdaBN de Li et al. (2016), qui suppose d'avoir sous la main assez
    d'exemples du nouveau domaine (sans leurs étiquettes)."""
    twin = copy.deepcopy(model)
    for m in twin.modules():
        if isinstance(m, (BatchNorm1d, BatchNorm2d, nn.BatchNorm1d, nn.BatchNorm2d)):
            m.reset_running_stats()
            m.momentum = None
    twin.train()
    with torch.no_grad():
        for start in range(0, len(x), 64):
            if len(x) - start > 1:
                twin(x[start:start + 64])
    return twin.eval()


def shift_robustness(models: dict[str, nn.Module], shifts: Sequence[float] = (0.0, 0.5, 1.0, 1.5, 2.0), seed: int = 0) -> ShiftResult:
    """Pour chaque réseau et chaque décalage δ : exactitude sur ``x_val + δ`` en mode évaluation ;
    pour les réseaux avec BN, aussi après avoir recalculé les statistiques de population sur les
    données décalées (« recalibrées »)."""
    _, _, x_val, y_val = split_tensors(load_split("digits", seed=seed))
    acc: dict[str, list[float]] = {}
    for name, model in models.items():
        model.eval()
        has_bn = any(isinstance(m, (BatchNorm1d, nn.BatchNorm1d)) for m in model.modules())
        acc[name] = []
        if has_bn:
            acc[name + " (statistiques recalculées)"] = []
        for delta in shifts:
            x = x_val + float(delta)
            with torch.no_grad():
                acc[name].append(accuracy(model(x), y_val))
                if has_bn:
                    acc[name + " (statistiques recalculées)"].append(accuracy(recalibrate(model, x)(x), y_val))
    return ShiftResult([float(s) for s in shifts], acc)
