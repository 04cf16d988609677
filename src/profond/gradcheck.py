"""Vérifier un gradient écrit à la main par différences finies (TP « L'autodiff qu'on construit
soi-même », section `autodiff-sec-verification`).

Le quotient centré :math:`(f(x + h e_i) - f(x - h e_i)) / 2h` approche :math:`\\partial f/\\partial x_i`
avec une erreur en :math:`O(h^2)` (équation `autodiff-eq-differences-centrees`) ; on compare les deux
gradients par une erreur *relative*, qui ne dépend pas de l'échelle des valeurs
(équation `autodiff-eq-erreur-relative`). En float64, avec h ≈ 10⁻⁶, un gradient juste donne une
erreur relative de l'ordre de 10⁻⁹ ou moins ; en float32 l'arrondi de f domine et l'on ne peut
plus distinguer un gradient juste d'une petite erreur.
"""

from __future__ import annotations

from typing import Callable

import torch

from profond.utils import check_positive

__all__ = ["central_difference_gradient", "relative_error", "module_gradient_errors"]


def central_difference_gradient(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                                h: float = 1e-6) -> torch.Tensor:
    """Gradient de ``f`` (scalaire) en ``x`` par différences centrées, coordonnée par coordonnée.

    >>> g = central_difference_gradient(lambda v: (v ** 2).sum(), torch.tensor([1.0, -2.0], dtype=torch.float64))
    >>> [round(float(a), 6) for a in g]
    [2.0, -4.0]
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`x` doit être un torch.Tensor, reçu {type(x).__name__}.")
    h = check_positive("h", h, strict=True)
    x = x.detach().clone()
    grad = torch.zeros_like(x)
    flat, gflat = x.view(-1), grad.view(-1)
    for i in range(flat.numel()):
        old = flat[i].item()
        flat[i] = old + h
        f_plus = float(f(x))
        flat[i] = old - h
        f_minus = float(f(x))
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(a: torch.Tensor, b: torch.Tensor, floor: float = 1e-30) -> float:
    """Erreur relative ``‖a − b‖ / max(‖a‖, ‖b‖)`` (norme euclidienne sur tous les éléments) : une
    coordonnée nulle ne la fait pas exploser, contrairement à un rapport élément par élément.

    >>> relative_error(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.002]))  # doctest: +ELLIPSIS
    0.00089...
    """
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if a.shape != b.shape:
        raise ValueError(f"Les deux gradients doivent avoir la même forme, reçu {tuple(a.shape)} et {tuple(b.shape)}.")
    scale = max(float(a.norm()), float(b.norm()), floor)
    return float((a - b).norm()) / scale


def module_gradient_errors(module, x: torch.Tensor, h: float = 1e-6, seed: int = 0) -> dict[str, float]:
    """Erreurs relatives entre les gradients de la passe arrière écrite à la main d'un module de
    :mod:`profond.scratch` et les différences centrées, pour l'entrée et chaque paramètre.

    On dérive la forme linéaire ``L = Σ c ⊙ module(x)`` avec ``c`` aléatoire (fixé par ``seed``) :
    sa dérivée par rapport à la sortie vaut ``c``, qu'on passe à ``module.backward``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`x` doit être un torch.Tensor, reçu {type(x).__name__}.")
    g = torch.Generator().manual_seed(seed)
    x = x.detach().clone()
    out = module.forward(x)
    c = torch.randn(out.shape, generator=g, dtype=out.dtype)
    if hasattr(module, "zero_grad"):
        module.zero_grad()
    dx = module.backward(c)
    errors = {"entrée": relative_error(dx, central_difference_gradient(lambda v: (c * module.forward(v)).sum(), x, h))}
    for name, p in getattr(module, "params", {}).items():
        analytic = module.grads[name].clone()

        def loss_of_param(v, name=name):
            saved = module.params[name]
            module.params[name] = v
            try:
                return (c * module.forward(x)).sum()
            finally:
                module.params[name] = saved

        errors[name] = relative_error(analytic, central_difference_gradient(loss_of_param, p, h))
    return errors
