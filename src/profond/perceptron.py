"""Le perceptron de Rosenblatt (chapitre « Introduction », section `intro-sec-perceptron`).

Les étiquettes valent -1 ou +1. Le biais :math:`w_0` est traité comme un poids de plus, associé à
une entrée constante égale à 1 (:func:`add_bias`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from profond.utils import check_positive, check_positive_int


def add_bias(x: np.ndarray) -> np.ndarray:
    """Ajoute une colonne de 1 en tête de ``x`` (N, d) -> (N, d + 1), pour porter le biais :math:`w_0`.

    >>> add_bias(np.array([[2.0, 3.0]]))
    array([[1., 2., 3.]])
    """
    x = _check_inputs(x)
    return np.hstack([np.ones((x.shape[0], 1)), x])


def _check_inputs(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"`x` doit être une matrice (N, d) non vide, reçu la forme {x.shape}.")
    return x


def _check_labels(x: np.ndarray, y) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (x.shape[0],):
        raise ValueError(f"`y` doit être de forme ({x.shape[0]},), reçu {y.shape}.")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("`y` ne doit contenir que les étiquettes -1 et +1.")
    return y


def score(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Score linéaire :math:`f_{\\mathbf w}(\\mathbf x) = \\langle \\mathbf w, \\mathbf x\\rangle`
    (``x`` porte déjà la colonne de biais). Équation `intro-eq-perceptron`.

    >>> score(np.array([0.5, 1.0, -1.0]), np.array([[1.0, 2.0, 1.0]]))
    array([1.5])
    """
    return _check_inputs(x) @ np.asarray(w, dtype=np.float64)


def predict(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Décision :math:`\\mathrm{signe}(f_{\\mathbf w}(\\mathbf x))`, avec la convention signe(0) = +1.

    >>> predict(np.array([0.0, 1.0]), np.array([[1.0, -2.0], [1.0, 3.0]]))
    array([-1.,  1.])
    """
    return np.where(score(w, x) >= 0, 1.0, -1.0)


def perceptron_loss(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Coût du perceptron :math:`\\frac1N\\sum_i \\max(0, -y^i f_{\\mathbf w}(\\mathbf x^i))`, à
    *minimiser* (équation `intro-eq-perceptron-cout`).

    >>> perceptron_loss(np.array([0.0, 1.0]), np.array([[1.0, -2.0], [1.0, 3.0]]), np.array([1.0, 1.0]))
    1.0
    """
    x = _check_inputs(x)
    y = _check_labels(x, y)
    return float(np.maximum(0.0, -y * score(w, x)).mean())


def perceptron_update(w: np.ndarray, x_i: np.ndarray, y_i: float, lr: float = 1.0) -> np.ndarray:
    """Une étape de l'algorithme du perceptron sur l'exemple ``(x_i, y_i)`` (``x_i`` porte le 1 du
    biais) : s'il est mal classé, c.-à-d. y_i ⟨w, x_i⟩ ≤ 0, renvoie w + lr · y_i · x_i ; sinon ``w``.

    Algorithme `intro-algo-perceptron`.

    >>> perceptron_update(np.zeros(2), np.array([1.0, 2.0]), -1.0)
    array([-1., -2.])
    """
    if y_i * float(np.dot(w, x_i)) <= 0:  # mal classé (ou sur la frontière)
        return w + lr * y_i * x_i
    return w


@dataclass
class PerceptronResult:
    """Résultat de :func:`train_perceptron`."""

    w: np.ndarray
    """Poids finaux, biais en tête : ``(d + 1,)``."""
    errors: list[int] = field(default_factory=list)
    """Nombre d'exemples mal classés après chaque époque."""
    converged: bool = False
    """Vrai si une époque s'est terminée sans aucune erreur."""


def train_perceptron(x, y, lr: float = 1.0, max_epochs: int = 100, seed: int = 0) -> PerceptronResult:
    """Algorithme du perceptron : parcourt les exemples dans un ordre aléatoire (graine ``seed``),
    applique :func:`perceptron_update`, et s'arrête après une époque sans erreur ou ``max_epochs``
    époques. ``x`` : (N, d) sans colonne de biais ; ``y`` : (N,) dans {-1, +1}.

    >>> res = train_perceptron([[0.0, 0.0], [1.0, 1.0]], [-1, 1])
    >>> res.converged, res.errors[-1]
    (True, 0)
    """
    xb = add_bias(x)
    y = _check_labels(xb, y)
    lr = check_positive("lr", lr, strict=True)
    max_epochs = check_positive_int("max_epochs", max_epochs)
    rng = np.random.default_rng(seed)
    w = np.zeros(xb.shape[1])
    result = PerceptronResult(w=w)
    for _ in range(max_epochs):
        for i in rng.permutation(len(y)):
            w = perceptron_update(w, xb[i], y[i], lr)
        n_errors = int((predict(w, xb) != y).sum())
        result.errors.append(n_errors)
        if n_errors == 0:
            result.converged = True
            break
    result.w = w
    return result


def xor_data(n_per_corner: int = 25, noise: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Le problème du OU exclusif : des nuages autour des quatre coins de :math:`[-1, 1]^2`,
    étiquette +1 si les deux coordonnées ont des signes différents, -1 sinon.

    >>> x, y = xor_data(2)
    >>> x.shape, sorted(set(y.tolist()))
    ((8, 2), [-1.0, 1.0])
    """
    n_per_corner = check_positive_int("n_per_corner", n_per_corner)
    rng = np.random.default_rng(seed)
    corners = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    x = np.repeat(corners, n_per_corner, axis=0) + noise * rng.standard_normal((4 * n_per_corner, 2))
    y = np.repeat(np.array([-1.0, 1.0, 1.0, -1.0]), n_per_corner)
    return x, y


def separable_data(n: int = 100, margin: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deux classes séparables par la droite :math:`x_2 = 0.5 x_1 + 0.2`, avec une marge ``margin``
    (les points trop proches de la droite sont écartés).

    >>> x, y = separable_data(10)
    >>> x.shape, bool(np.all(np.abs(x[:, 1] - 0.5 * x[:, 0] - 0.2) > 0.3 / np.sqrt(1.25)))
    ((10, 2), True)
    """
    n = check_positive_int("n", n)
    rng = np.random.default_rng(seed)
    points = []
    while len(points) < n:
        p = rng.uniform(-2, 2, size=2)
        dist = (p[1] - 0.5 * p[0] - 0.2) / np.sqrt(1.25)
        if abs(dist) > margin:
            points.append(p)
    x = np.array(points)
    y = np.where(x[:, 1] - 0.5 * x[:, 0] - 0.2 > 0, 1.0, -1.0)
    return x, y
