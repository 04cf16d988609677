"""Jeux de données livrés avec scikit-learn, prêts pour PyTorch (partie 1, section `sec-donnees`).

Aucun téléchargement : iris, digits et diabetes sont fournis par scikit-learn. La
standardisation est ajustée sur la seule partie d'entraînement, puis appliquée aux autres.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.utils.data import (BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler, TensorDataset,
                              get_worker_info)

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


def load_split(name: str, val_fraction: float = 0.25, seed: int = 0, standardize: bool = True,
               n_train: int | None = None) -> Split:
    """Charge ``name`` (``"iris"``, ``"digits"`` ou ``"diabetes"``) et le découpe, stratifié pour la
    classification. La standardisation (si demandée) est ajustée sur l'entraînement seulement.
    ``n_train`` garde seulement les ``n_train`` premiers exemples d'entraînement (déjà mélangés),
    pour provoquer le sur-apprentissage ; la validation reste entière.

    >>> s = load_split("iris", seed=0)
    >>> s.x_train.shape, s.x_val.shape, s.task
    ((112, 4), (38, 4), 'classification')
    >>> bool(np.allclose(s.x_train.mean(axis=0), 0.0)), bool(np.allclose(s.x_val.mean(axis=0), 0.0))
    (True, False)
    """
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
    if n_train is not None:
        n_train = check_positive_int("n_train", n_train)
        if n_train > len(x_tr):
            raise ValueError(f"`n_train` vaut au plus {len(x_tr)} pour {name!r}, reçu {n_train}.")
        x_tr, y_tr = x_tr[:n_train], y_tr[:n_train]
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


def split_tensors(split: Split, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x_train, y_train, x_val, y_val)`` d'un découpage, en tenseurs (entrées ``dtype``, classes
    ``long``) : pour les expériences dont les données tiennent en mémoire.

    >>> x, y, xv, yv = split_tensors(load_split("iris"))
    >>> tuple(x.shape), y.dtype, tuple(xv.shape)
    ((112, 4), torch.int64, (38, 4))
    """
    train = to_dataset(split.x_train, split.y_train, split.task, dtype).tensors
    val = to_dataset(split.x_val, split.y_val, split.task, dtype).tensors
    return train[0], train[1], val[0], val[1]


def digits_tensors(n_train: int | None = None, seed: int = 0, dtype=torch.float32):
    """Chiffres 8×8 de scikit-learn en tenseurs ``(x_train, y_train, x_val, y_val)``, pixels ramenés
    dans [0, 1] par une échelle fixe (division par 16), pour que le décalage des images
    (:class:`RandomShift`) garde un sens ; ``n_train`` comme dans :func:`load_split`. Section
    `sec-donnees`.

    >>> x, y, xv, yv = digits_tensors(100)
    >>> tuple(x.shape), tuple(xv.shape), float(x.max()), y.dtype
    ((100, 64), (450, 64), 1.0, torch.int64)
    """
    s = load_split("digits", seed=seed, standardize=False, n_train=n_train)
    return split_tensors(replace(s, x_train=s.x_train / 16.0, x_val=s.x_val / 16.0), dtype)


def tensor_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int = 32, shuffle: bool = True,
                  generator: torch.Generator | None = None, drop_last: bool = False) -> DataLoader:
    """Un ``DataLoader`` sur deux tenseurs qui tiennent en mémoire, lot par lot : l'échantillonneur
    (``BatchSampler``) donne les indices d'un lot et ``TensorDataset`` les découpe d'un coup, au
    lieu d'assembler les exemples un à un. Mélangé à chaque époque par ``generator`` si
    ``shuffle``. Section `sec-donnees`.

    >>> loader = tensor_loader(torch.arange(10.0).reshape(5, 2), torch.arange(5), batch_size=2, shuffle=False)
    >>> [tuple(xb.shape) for xb, _ in loader], len(loader)
    ([(2, 2), (2, 2), (1, 2)], 3)
    """
    batch_size = check_positive_int("batch_size", batch_size)
    if len(x) != len(y):
        raise ValueError(f"`x` et `y` doivent avoir le même nombre d'exemples, reçu {len(x)} et {len(y)}.")
    dataset = TensorDataset(x, y)
    order = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    return DataLoader(dataset, sampler=BatchSampler(order, batch_size, drop_last), batch_size=None)


def make_loaders(
    name: str,
    batch_size: int = 32,
    val_fraction: float = 0.25,
    seed: int = 0,
    standardize: bool = True,
    dtype=torch.float32,
    n_train: int | None = None,
) -> tuple[DataLoader, DataLoader]:
    """Chargeurs d'entraînement (mélangé, avec un générateur dédié pour la reproductibilité) et de
    validation (non mélangé) pour un jeu de scikit-learn. Section `sec-donnees`.

    >>> train, val = make_loaders("diabetes", batch_size=64)
    >>> x, y = next(iter(train))
    >>> tuple(x.shape), tuple(y.shape), len(train.dataset), len(val.dataset)
    ((64, 10), (64, 1), 331, 111)
    """
    batch_size = check_positive_int("batch_size", batch_size)
    split = load_split(name, val_fraction=val_fraction, seed=seed, standardize=standardize, n_train=n_train)
    train = to_dataset(split.x_train, split.y_train, split.task, dtype)
    val = to_dataset(split.x_val, split.y_val, split.task, dtype)
    g = torch.Generator().manual_seed(seed)
    return (
        DataLoader(train, batch_size=batch_size, shuffle=True, generator=g),
        DataLoader(val, batch_size=max(batch_size, 256), shuffle=False),
    )


def shift_images(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Décale des images (N, H, W) de ``dy`` lignes vers le bas et ``dx`` colonnes vers la droite,
    en complétant par des zéros (le fond des chiffres de scikit-learn).

    >>> shift_images(torch.tensor([[[1.0, 2.0], [3.0, 4.0]]]), 0, 1)
    tensor([[[0., 1.],
             [0., 3.]]])
    """
    if images.ndim != 3:
        raise ValueError(f"`images` doit être de forme (N, H, W), reçu {tuple(images.shape)}.")
    h, w = images.shape[1:]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(f"Décalage ({dy}, {dx}) trop grand pour des images {h}×{w}.")
    out = torch.zeros_like(images)
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        images[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


class RandomShift(Dataset):
    """Augmentation de données : chaque fois qu'un exemple est lu, l'image (aplatie en ``side ×
    side``) est décalée d'au plus ``max_shift`` pixels dans chaque direction, au hasard (générateur
    ``generator``). La cible est inchangée : un 3 décalé d'un pixel reste un 3.

    Avec ``DataLoader(num_workers=k)``, chaque processus reçoit une *copie* du jeu de données, donc
    du générateur dans le même état : passer ``worker_init_fn=seed_worker`` pour que chaque
    processus tire ses propres décalages (:func:`seed_worker`, TP d'introduction, section
    `intro-sec-tp-dataset`).

    >>> ds = RandomShift(torch.ones(2, 64), torch.tensor([0, 1]), generator=torch.Generator().manual_seed(0))
    >>> x, y = ds[1]
    >>> tuple(x.shape), int(y), float(x.sum()) >= 49
    ((64,), 1, True)
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, side: int = 8, max_shift: int = 1,
                 generator: torch.Generator | None = None) -> None:
        if x.ndim != 2 or x.shape[1] != side * side:
            raise ValueError(f"`x` doit être de forme (N, {side * side}), reçu {tuple(x.shape)}.")
        if len(x) != len(y):
            raise ValueError(f"`x` et `y` doivent avoir le même nombre d'exemples, reçu {len(x)} et {len(y)}.")
        self.x, self.y, self.side = x, y, side
        self.max_shift = check_positive_int("max_shift", max_shift, allow_zero=True)
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        dy, dx = torch.randint(-self.max_shift, self.max_shift + 1, (2,), generator=self.generator).tolist()
        image = self.x[i].reshape(1, self.side, self.side)
        return shift_images(image, dy, dx).reshape(-1), self.y[i]


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` d'un ``DataLoader`` à plusieurs processus : réinitialise le générateur
    ``generator`` du jeu de données du processus (s'il en a un, comme :class:`RandomShift`) avec la
    graine que PyTorch a donnée à ce processus, ``torch.initial_seed()`` = graine de base +
    ``worker_id`` (la graine de base est tirée du ``generator`` du ``DataLoader`` à chaque époque).
    Sans cela, tous les processus partent de la même copie du générateur et produisent les mêmes
    tirages. Section `intro-sec-tp-dataset`."""
    info = get_worker_info()
    if info is None:
        raise RuntimeError("`seed_worker` se passe en `worker_init_fn` d'un DataLoader ; il ne s'appelle pas "
                           "hors d'un processus de chargement.")
    generator = getattr(info.dataset, "generator", None)
    if isinstance(generator, torch.Generator):
        generator.manual_seed(torch.initial_seed())


class WorkerSeeds(Dataset):
    """Jeu de données sonde de ``n`` exemples : l'exemple ``i`` est ``(i, numéro du processus,
    graine du processus)``, lus par :func:`torch.utils.data.get_worker_info` et
    ``torch.initial_seed()`` (−1 et −1 dans le processus principal). Montre comment le
    ``DataLoader`` répartit les lots et graine ses processus. Section `intro-sec-tp-dataset`.

    >>> WorkerSeeds(2)[1].tolist()
    [1, -1, -1]
    """

    def __init__(self, n: int) -> None:
        self.n = check_positive_int("n", n)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        info = get_worker_info()
        if info is None:  # processus principal : ni numéro ni graine de processus de chargement
            return torch.tensor([i, -1, -1])
        return torch.tensor([i, info.id, torch.initial_seed()])
