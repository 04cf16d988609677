"""Outils communs : graine, vérification des arguments (messages d'erreur en français)."""

from __future__ import annotations

import random
import sys
from numbers import Real

import numpy as np
import torch


def seed_everything(seed: int, threads: int | None = 1) -> torch.Generator:
    """Fixe les graines de ``random``, ``numpy`` et ``torch`` et renvoie un générateur torch.

    Le nombre de threads torch est fixé (1 par défaut) : les trajectoires d'entraînement
    changent avec lui, donc un résultat affirmé dans le cours n'est reproductible qu'à nombre de
    threads fixé. ``threads=None`` le laisse inchangé.

    >>> a = torch.rand(2, generator=seed_everything(0))
    >>> b = torch.rand(2, generator=seed_everything(0))
    >>> bool((a == b).all())
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"`seed` doit être un entier, reçu {type(seed).__name__}.")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))
    if threads is not None:
        torch.set_num_threads(int(threads))
    return torch.Generator().manual_seed(int(seed))


def check_positive(name: str, value, *, strict: bool = False, allow_zero: bool = True) -> float:
    """Vérifie qu'un hyper-paramètre est un réel positif (ou strictement positif)."""
    if isinstance(value, bool) or not isinstance(value, (Real, np.floating)) and not (
        isinstance(value, torch.Tensor) and value.numel() == 1
    ):
        raise TypeError(f"`{name}` doit être un nombre réel, reçu {type(value).__name__}.")
    value = float(value)
    if value != value:  # NaN
        raise ValueError(f"`{name}` ne peut pas valoir NaN.")
    if strict or not allow_zero:
        if value <= 0:
            raise ValueError(f"`{name}` doit être strictement positif, reçu {value}.")
    elif value < 0:
        raise ValueError(f"`{name}` doit être positif ou nul, reçu {value}.")
    return value


def check_in_unit_interval(name: str, value) -> float:
    """Vérifie que ``0 <= value < 1`` (coefficients d'amortissement β, momentum...)."""
    if isinstance(value, bool) or not isinstance(value, (Real, np.floating)):
        raise TypeError(f"`{name}` doit être un nombre réel, reçu {type(value).__name__}.")
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` doit appartenir à l'intervalle [0, 1), reçu {value}.")
    return value


def check_positive_int(name: str, value, *, allow_zero: bool = False) -> int:
    """Vérifie qu'un argument est un entier strictement positif (ou positif si ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` doit être un entier, reçu {type(value).__name__}.")
    value = int(value)
    if value < 0 or (value == 0 and not allow_zero):
        attendu = "positif ou nul" if allow_zero else "strictement positif"
        raise ValueError(f"`{name}` doit être un entier {attendu}, reçu {value}.")
    return value


def progress_bar(iterable, progress: bool = True, **kwargs):
    """Barre de progression tqdm pour les boucles longues du cours.

    Dans un notebook (noyau Jupyter), la barre texte de tqdm s'écrit sur la sortie d'erreur : elle
    s'affiche dans Jupyter, et la construction du site retire cette sortie. Ailleurs, elle ne
    s'affiche que dans un terminal. On n'utilise pas ``tqdm.auto``, qui avertit dès l'import dans
    un noyau Jupyter sans ``ipywidgets``.
    """
    from tqdm.std import tqdm

    if "ipykernel" in sys.modules:
        enabled = bool(progress)
    else:
        enabled = bool(progress) and sys.stderr is not None and getattr(sys.stderr, "isatty", lambda: False)()
    return tqdm(iterable, disable=not enabled, **kwargs)
