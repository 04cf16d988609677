"""Vitesses de convergence exactes sur une quadratique (TP « Pourquoi le momentum marche »,
section `mom-sec-theorie`), d'après l'analyse spectrale de Goh (2017).

Sur :math:`L(\\mathbf w) = \\tfrac12 \\mathbf w^\\top A \\mathbf w - \\mathbf b^\\top \\mathbf w`, l'erreur
:math:`\\mathbf e_k = \\mathbf w_k - \\mathbf w^\\star` se décompose sur les vecteurs propres de :math:`A`,
et chaque composante évolue seule :

* descente de gradient : :math:`e_{k+1} = (1 - \\alpha\\lambda)\\, e_k` (équation `mom-eq-gd-composante`) ;
* momentum « boule pesante » : :math:`(e_{k+1}, e_k) = M(\\alpha, \\mu, \\lambda)\\,(e_k, e_{k-1})` avec
  :math:`M = \\begin{pmatrix} 1 + \\mu - \\alpha\\lambda & -\\mu \\\\ 1 & 0 \\end{pmatrix}`
  (équation `mom-eq-hb-matrice`).

Le taux de convergence est le plus grand rayon spectral sur les valeurs propres :math:`\\lambda` de
:math:`A`. Les réglages optimaux et leurs taux, :math:`(\\kappa-1)/(\\kappa+1)` et
:math:`(\\sqrt\\kappa-1)/(\\sqrt\\kappa+1)`, sont les équations `mom-eq-gd-optimal` et `mom-eq-hb-optimal`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from profond.utils import check_in_unit_interval, check_positive

__all__ = [
    "gd_contraction", "heavy_ball_matrix", "heavy_ball_contraction", "optimal_gd",
    "optimal_heavy_ball", "convergence_rate",
]


def _eigenvalues(eigenvalues: Sequence[float]) -> np.ndarray:
    lam = np.asarray(eigenvalues, dtype=float).ravel()
    if lam.size == 0 or np.any(lam <= 0) or not np.all(np.isfinite(lam)):
        raise ValueError("Les valeurs propres doivent être des réels strictement positifs (A définie positive).")
    return lam


def gd_contraction(alpha: float, eigenvalues: Sequence[float]) -> float:
    """Facteur de contraction de la descente de gradient : :math:`\\max_\\lambda |1 - \\alpha\\lambda|`
    (équation `mom-eq-gd-composante`). Au-delà de 1, elle diverge.

    >>> gd_contraction(0.1, [1.0, 20.0])
    1.0
    """
    alpha = check_positive("alpha", alpha, strict=True)
    return float(np.max(np.abs(1.0 - alpha * _eigenvalues(eigenvalues))))


def heavy_ball_matrix(alpha: float, mu: float, lam: float) -> np.ndarray:
    """La matrice 2×2 qui fait avancer une composante propre du momentum (équation `mom-eq-hb-matrice`)."""
    return np.array([[1.0 + mu - alpha * lam, -mu], [1.0, 0.0]])


def heavy_ball_contraction(alpha: float, mu: float, eigenvalues: Sequence[float]) -> float:
    """Plus grand rayon spectral des matrices :func:`heavy_ball_matrix` sur les valeurs propres.

    >>> round(heavy_ball_contraction(0.1, 0.0, [1.0, 20.0]), 12)  # μ = 0 : la descente de gradient
    1.0
    """
    alpha = check_positive("alpha", alpha, strict=True)
    mu = check_in_unit_interval("mu", mu)
    return float(max(np.max(np.abs(np.linalg.eigvals(heavy_ball_matrix(alpha, mu, lam))))
                     for lam in _eigenvalues(eigenvalues)))


def optimal_gd(eigenvalues: Sequence[float]) -> tuple[float, float]:
    """Le meilleur taux fixe de la descente de gradient, :math:`\\alpha^\\star = 2/(\\lambda_1 + \\lambda_n)`,
    et sa contraction :math:`(\\kappa - 1)/(\\kappa + 1)` (équation `mom-eq-gd-optimal`).

    >>> optimal_gd([1.0, 3.0])
    (0.5, 0.5)
    """
    lam = _eigenvalues(eigenvalues)
    lo, hi = float(lam.min()), float(lam.max())
    kappa = hi / lo
    return 2.0 / (lo + hi), (kappa - 1.0) / (kappa + 1.0)


def optimal_heavy_ball(eigenvalues: Sequence[float]) -> tuple[float, float, float]:
    """Les meilleurs :math:`(\\alpha, \\mu)` du momentum, :math:`\\alpha^\\star = 4/(\\sqrt{\\lambda_1}+\\sqrt{\\lambda_n})^2`,
    :math:`\\mu^\\star = ((\\sqrt\\kappa-1)/(\\sqrt\\kappa+1))^2`, et la contraction
    :math:`\\sqrt{\\mu^\\star} = (\\sqrt\\kappa-1)/(\\sqrt\\kappa+1)` (équation `mom-eq-hb-optimal`).

    >>> [round(v, 6) for v in optimal_heavy_ball([1.0, 4.0])]
    [0.444444, 0.111111, 0.333333]
    """
    lam = _eigenvalues(eigenvalues)
    lo, hi = float(lam.min()), float(lam.max())
    root = math.sqrt(hi / lo)
    rate = (root - 1.0) / (root + 1.0)
    return 4.0 / (math.sqrt(lo) + math.sqrt(hi)) ** 2, rate**2, rate


def convergence_rate(errors: Sequence[float], high: float = 1e-2, low: float = 1e-12) -> float:
    """Taux géométrique mesuré : exponentielle de la pente de :math:`\\log \\lVert e_k \\rVert` (moindres
    carrés) sur les pas où l'erreur, rapportée à la première, est entre ``low`` et ``high`` —
    ni le début transitoire, ni le plancher de l'arithmétique flottante.

    >>> round(convergence_rate([0.5 ** k for k in range(60)]), 12)
    0.5
    """
    e = np.asarray(errors, dtype=float)
    if e.ndim != 1 or e.size < 3 or e[0] <= 0:
        raise ValueError("`errors` doit être une suite d'au moins 3 erreurs, la première strictement positive.")
    rel = e / e[0]
    keep = np.flatnonzero((rel <= high) & (rel >= low))
    if keep.size < 3:
        raise ValueError(f"Moins de 3 pas avec une erreur relative entre {low:g} et {high:g} : allonger la course.")
    slope = np.polyfit(keep, np.log(e[keep]), 1)[0]
    return float(np.exp(slope))
