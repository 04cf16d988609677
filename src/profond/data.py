"""Jeux de données livrés avec scikit-learn, prêts pour PyTorch (partie 1, section `sec-donnees`).

Aucun téléchargement : iris, digits et diabetes sont fournis par scikit-learn. La
standardisation est ajustée sur la seule partie d'entraînement, puis appliquée aux autres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from profond.utils import check_positive_int

_DATASETS = ("iris", "digits", "diabetes")


@dataclass(frozen=True)
class Standardizer:
    """Centrage-réduction ``(x - mean) / std`` ajusté sur l'entraînement."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "Standardizer":
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError(f"`x` doit être une matrice (N, d) avec N ≥ 2, reçu la forme {x.shape}.")
        std = x.std(axis=0)
        return cls(mean=x.mean(axis=0), std=np.where(std > 0, std, 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"`x` doit avoir {self.mean.shape[0]} colonnes, reçu la forme {x.shape}."
            )
        return (x - self.mean) / self.std


@dataclass(frozen=True)
class Split:
    """Données découpées en entraînement / validation (tableaux numpy)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    task: str  # "classification" ou "regression"


def load_split(name: str, val_fraction: float = 0.25, seed: int = 0, standardize: bool = True) -> Split:
    """Charge ``name`` (``"iris"``, ``"digits"`` ou ``"diabetes"``) et le découpe, stratifié pour la
    classification. La standardisation (si demandée) est ajustée sur l'entraînement seulement."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if name not in _DATASETS:
        raise ValueError(f"`name` doit être l'un de {_DATASETS}, reçu {name!r}.")
    if not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(f"`val_fraction` doit être dans ]0, 1[, reçu {val_fraction}.")
    loader = {"iris": datasets.load_iris, "digits": datasets.load_digits, "diabetes": datasets.load_diabetes}[name]
    x, y = loader(return_X_y=True)
    task = "regression" if name == "diabetes" else "classification"
    x_tr, x_va, y_tr, y_va = train_test_split(
        x.astype(np.float64), y, test_size=val_fraction, random_state=seed,
        stratify=y if task == "classification" else None,
    )
    if standardize:
        scaler = Standardizer.fit(x_tr)
        x_tr, x_va = scaler.transform(x_tr), scaler.transform(x_va)
    return Split(x_tr, y_tr, x_va, y_va, task)


def to_dataset(x: np.ndarray, y: np.ndarray, task: str = "classification", dtype=torch.float32) -> TensorDataset:
    """Un ``TensorDataset`` : entrées en ``dtype``, cibles ``long`` (classification) ou colonne
    ``dtype`` (régression)."""
    if len(x) != len(y):
        raise ValueError(f"`x` et `y` doivent avoir le même nombre d'exemples, reçu {len(x)} et {len(y)}.")
    xt = torch.as_tensor(np.asarray(x), dtype=dtype)
    if task == "classification":
        yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    elif task == "regression":
        yt = torch.as_tensor(np.asarray(y), dtype=dtype).reshape(-1, 1)
    else:
        raise ValueError(f"`task` doit valoir 'classification' ou 'regression', reçu {task!r}.")
    return TensorDataset(xt, yt)


def make_loaders(
    name: str,
    batch_size: int = 32,
    val_fraction: float = 0.25,
    seed: int = 0,
    standardize: bool = True,
    dtype=torch.float32,
) -> tuple[DataLoader, DataLoader]:
    """Chargeurs d'entraînement (mélangé, avec un générateur dédié pour la reproductibilité) et de
    validation (non mélangé) pour un jeu de scikit-learn."""
    batch_size = check_positive_int("batch_size", batch_size)
    split = load_split(name, val_fraction=val_fraction, seed=seed, standardize=standardize)
    train = to_dataset(split.x_train, split.y_train, split.task, dtype)
    val = to_dataset(split.x_val, split.y_val, split.task, dtype)
    g = torch.Generator().manual_seed(seed)
    return (
        DataLoader(train, batch_size=batch_size, shuffle=True, generator=g),
        DataLoader(val, batch_size=max(batch_size, 256), shuffle=False),
    )
