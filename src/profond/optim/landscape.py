"""Le paysage de la perte d'un vrai réseau (TP « Le paysage de la perte ») : l'interpolation
linéaire de l'initialisation à la solution (section `paysage-sec-interpolation`), la tranche
2-D à directions normalisées par filtre de Li et al. (2018) (section `paysage-sec-tranche`) et la
sortie d'un point selle par la descente de gradient, le momentum et Adam (section
`paysage-sec-selle`).

Les paramètres d'un réseau sont manipulés comme une **liste de tenseurs**, dans l'ordre de
``model.parameters()`` ; une direction est une liste de même forme. Les pertes sont évaluées par
``torch.func.functional_call``, sans toucher aux poids du module.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np
import torch
from matplotlib import animation
from torch import nn

from profond.optim.objectives import Objective
from profond.optim.rules import adam_step, gd_step, momentum_step
from profond.optim.trajectory import Trajectory, run_trajectory
from profond.utils import check_positive, check_positive_int

__all__ = [
    "snapshot", "interpolate_parameters", "random_direction", "filter_normalized_direction",
    "loss_at", "interpolation_curve", "loss_surface", "permute_hidden_units",
    "saddle_loss", "saddle_grad", "saddle_objective", "escape_time", "saddle_runs", "animate_saddle",
]

Params = Sequence[torch.Tensor]


def _check_like(a: Params, b: Params, names: tuple[str, str]) -> None:
    if not all(isinstance(t, torch.Tensor) for t in (*a, *b)):
        raise TypeError(f"`{names[0]}` et `{names[1]}` doivent être des listes de tenseurs torch.")
    if len(a) != len(b) or any(p.shape != q.shape for p, q in zip(a, b)):
        raise ValueError(
            f"`{names[0]}` et `{names[1]}` doivent avoir les mêmes formes, reçu "
            f"{[tuple(p.shape) for p in a]} et {[tuple(q.shape) for q in b]}."
        )


def snapshot(model: nn.Module) -> list[torch.Tensor]:
    """Une copie détachée des paramètres de ``model``, dans l'ordre de ``model.parameters()``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` doit être un torch.nn.Module, reçu {type(model).__name__}.")
    return [p.detach().clone() for p in model.parameters()]


# --- Interpolation linéaire ---------------------------------------------------------------------


def interpolate_parameters(start: Params, end: Params, t: float) -> list[torch.Tensor]:
    """Le point :math:`\\theta(t) = (1 - t)\\,\\theta_0 + t\\,\\theta^\\star` du segment (prolongé
    si t < 0 ou t > 1) entre ``start`` et ``end`` (équation `paysage-eq-interpolation`).

    >>> interpolate_parameters([torch.tensor([0.0, 2.0])], [torch.tensor([1.0, 4.0])], 0.5)
    [tensor([0.5000, 3.0000])]
    """
    _check_like(start, end, ("start", "end"))
    t = float(t)
    return [(1 - t) * a + t * b for a, b in zip(start, end)]


# --- Directions normalisées par filtre -------------------------------------------------------------


def random_direction(params: Params, generator: torch.Generator) -> list[torch.Tensor]:
    """Une direction gaussienne (coefficients de loi N(0, 1)) de même forme que ``params``."""
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` doit être un torch.Generator, reçu {type(generator).__name__}.")
    return [torch.randn(p.shape, generator=generator, dtype=p.dtype) for p in params]


def filter_normalized_direction(direction: Params, params: Params) -> list[torch.Tensor]:
    """Normalisation par filtre de Li et al. (2018) (équation `paysage-eq-filtre`) : chaque ligne
    :math:`d_i` d'une matrice de poids (les poids d'entrée d'un neurone, un « filtre ») est remise à
    la norme de la ligne correspondante de ``params``,
    :math:`d_i \\leftarrow d_i\\,\\lVert\\theta_i\\rVert / \\lVert d_i\\rVert` ; les biais (tenseurs
    à une dimension) sont mis à zéro dans la direction. Une ligne nulle reste nulle."""
    _check_like(direction, params, ("direction", "params"))
    out = []
    for d, p in zip(direction, params):
        if p.ndim < 2:
            out.append(torch.zeros_like(d))
            continue
        d_rows, p_rows = d.reshape(d.shape[0], -1), p.reshape(p.shape[0], -1)  # (n_out, n_in)
        d_norm = d_rows.norm(dim=1, keepdim=True)
        scale = torch.where(d_norm > 0, p_rows.norm(dim=1, keepdim=True) / d_norm.clamp_min(1e-300), 0.0)
        out.append((d_rows * scale).reshape(d.shape))
    return out


# --- Pertes le long d'un segment et sur une tranche ------------------------------------------------


def loss_at(model: nn.Module, params: Params, x: torch.Tensor, y: torch.Tensor,
            loss: Callable = nn.functional.cross_entropy) -> float:
    """La perte de ``model`` sur ``(x, y)`` quand ses paramètres valent ``params``, en une seule
    passe avant sur tout le lot (``torch.func.functional_call``) ; les poids du module ne changent
    pas."""
    names = [name for name, _ in model.named_parameters()]
    _check_like(params, [p for p in model.parameters()], ("params", "model.parameters()"))
    with torch.no_grad():
        out = torch.func.functional_call(model, dict(zip(names, params)), (x,))
        return float(loss(out, y))


def interpolation_curve(model: nn.Module, start: Params, end: Params, ts, x: torch.Tensor, y: torch.Tensor,
                        loss: Callable = nn.functional.cross_entropy) -> np.ndarray:
    """La perte :math:`\\mathcal L(\\theta(t))` en chaque ``t`` de ``ts`` (équation
    `paysage-eq-interpolation`), sur les exemples ``(x, y)``."""
    return np.array([loss_at(model, interpolate_parameters(start, end, t), x, y, loss) for t in ts])


def loss_surface(model: nn.Module, center: Params, dir1: Params, dir2: Params | None, alphas, betas,
                 x: torch.Tensor, y: torch.Tensor, loss: Callable = nn.functional.cross_entropy) -> np.ndarray:
    """La perte :math:`\\mathcal L(\\theta^\\star + a\\,\\delta + b\\,\\eta)` sur la grille
    ``alphas`` × ``betas`` (équation `paysage-eq-tranche`, algorithme `paysage-algo-tranche`) : un
    tableau de forme ``(len(betas), len(alphas))``, ligne j pour ``betas[j]`` (l'ordre de
    ``plt.contour``). Avec ``dir2=None``, une tranche à une dimension de forme ``(len(alphas),)``."""
    _check_like(center, dir1, ("center", "dir1"))
    if dir2 is None:
        return np.array([loss_at(model, [c + a * d for c, d in zip(center, dir1)], x, y, loss) for a in alphas])
    _check_like(center, dir2, ("center", "dir2"))
    if betas is None:
        raise ValueError("`betas` doit être donné avec `dir2` (une tranche à deux dimensions).")
    return np.array([[loss_at(model, [c + a * d + b * e for c, d, e in zip(center, dir1, dir2)], x, y, loss)
                      for a in alphas] for b in betas])


def permute_hidden_units(params: Params, perm: torch.Tensor, layer: int = 0) -> list[torch.Tensor]:
    """Les paramètres ``[W₀, b₀, W₁, b₁, …]`` d'un perceptron (``nn.Linear`` successifs) dont les
    neurones de la couche cachée ``layer`` sont permutés par ``perm`` : lignes de
    :math:`W_\\ell` et :math:`b_\\ell`, colonnes de :math:`W_{\\ell+1}`. Le réseau calcule la même
    fonction (section `paysage-sec-interpolation`)."""
    params = list(params)
    if len(params) % 2 or not 0 <= layer < len(params) // 2 - 1:
        raise ValueError(f"`layer` doit désigner une couche cachée entre 0 et {len(params) // 2 - 2}, reçu {layer}.")
    w, b, w_next = params[2 * layer], params[2 * layer + 1], params[2 * layer + 2]
    if sorted(perm.tolist()) != list(range(w.shape[0])):
        raise ValueError(f"`perm` doit être une permutation de 0 … {w.shape[0] - 1}.")
    params[2 * layer], params[2 * layer + 1], params[2 * layer + 2] = w[perm], b[perm], w_next[:, perm]
    return params


# --- Un point selle -----------------------------------------------------------------------------------


def saddle_loss(w: torch.Tensor, quartic: float = 0.5) -> torch.Tensor:
    """:math:`f(x, y) = x^2 - y^2 + q\\,y^4` (équation `paysage-eq-selle`) : un point selle en
    (0, 0) ; avec q > 0, deux minima en :math:`(0, \\pm 1/\\sqrt{2q})`, et q = 0 donne la selle
    pure :math:`x^2 - y^2`."""
    x, y = w
    return x**2 - y**2 + quartic * y**4


def saddle_grad(w: torch.Tensor, quartic: float = 0.5) -> torch.Tensor:
    """Gradient de :func:`saddle_loss` : :math:`(2x,\\; -2y + 4q\\,y^3)`."""
    x, y = w
    return torch.stack([2 * x, -2 * y + 4 * quartic * y**3])


def saddle_objective(quartic: float = 0.5) -> Objective:
    """La selle de :func:`saddle_loss` comme :class:`~profond.optim.objectives.Objective` (pas de
    minimum unique : ``minimum=None``)."""
    quartic = check_positive("quartic", quartic)
    return Objective(name="point selle", loss=functools.partial(saddle_loss, quartic=quartic),
                     grad=lambda w, idx=None: saddle_grad(w, quartic))


def escape_time(trajectory: Trajectory, radius: float = 0.5, center=(0.0, 0.0)) -> int:
    """Le nombre de pas avant de sortir pour de bon de la boule de rayon ``radius`` autour de
    ``center`` (le point selle) : le premier pas k à partir duquel tous les itérés sont dehors
    (section `paysage-sec-selle`). Lève une erreur si la trajectoire finit dans la boule."""
    radius = check_positive("radius", radius, strict=True)
    inside = np.linalg.norm(trajectory.params - np.asarray(center, dtype=float), axis=1) <= radius
    if inside[-1]:
        raise ValueError(f"La trajectoire « {trajectory.name} » finit dans la boule : allonger `steps`.")
    return int(np.flatnonzero(inside)[-1] + 1) if inside.any() else 0


def saddle_runs(start, steps: int, lr: float, momentum: float = 0.9, adam_lr: float | None = None,
                quartic: float = 0.5) -> dict[str, Trajectory]:
    """Descente de gradient au taux ``lr``, momentum au **même taux effectif**
    :math:`\\alpha/(1-\\mu) =` ``lr`` (équation `optim-eq-taux-effectif`) et Adam au taux
    ``adam_lr`` (``lr`` par défaut), ``steps`` pas chacun depuis ``start`` sur la selle de
    :func:`saddle_objective`."""
    steps = check_positive_int("steps", steps)
    lr = check_positive("lr", lr, strict=True)
    obj = saddle_objective(quartic)
    rules = {
        "descente de gradient": functools.partial(gd_step, lr=lr),
        "momentum": functools.partial(momentum_step, lr=lr * (1 - momentum), momentum=momentum),
        "Adam": functools.partial(adam_step, lr=lr if adam_lr is None else adam_lr, betas=(0.9, 0.999), eps=1e-8),
    }
    return {name: run_trajectory(obj, rule, start, epochs=steps, name=name) for name, rule in rules.items()}


def animate_saddle(runs: dict[str, Trajectory], objective: Objective, xlim, ylim, radius: float = 0.5,
                   n_frames: int = 25, figsize=(5.0, 4.6), dpi: int = 72, interval: int = 200) -> animation.FuncAnimation:
    """Anime sur **un seul** panneau les trajectoires de ``runs`` sur les lignes de niveau de la selle,
    avec la boule de rayon ``radius`` dont on mesure la sortie et un gros point sur la position
    courante de chaque méthode (les chemins peuvent se superposer) ; l'image k montre les pas 0 à
    k × (pas total)/(n_frames − 1)."""
    import matplotlib.pyplot as plt

    from profond.optim.plots import COLORS, _draw_background, loss_grid

    if n_frames < 2:
        raise ValueError(f"`n_frames` doit valoir au moins 2, reçu {n_frames}.")
    xs, ys, zs = loss_grid(objective, xlim, ylim, n=50)
    fig, ax = plt.subplots(figsize=figsize, dpi=dpi)
    _draw_background(ax, objective, xs, ys, zs, log_levels=False)
    ax.add_patch(plt.Circle((0, 0), radius, fill=False, ls="--", color="k", lw=0.8))
    ax.plot(0, 0, "kx", ms=8, label="point selle")
    lines = [ax.plot([], [], "-o", color=c, ms=2, lw=1, label=name)[0] for name, c in zip(runs, COLORS)]
    heads = [ax.plot([], [], "o", color=c, ms=9, mec="k", mew=0.8)[0] for c in COLORS[: len(runs)]]  # position courante
    text = ax.text(0.03, 0.97, "", transform=ax.transAxes, va="top", bbox=dict(facecolor="white", alpha=0.8, edgecolor="none"))
    ax.set(xlim=xlim, ylim=ylim, xlabel="$x$", ylabel="$y$")
    ax.legend(fontsize="small", loc="lower left")
    fig.tight_layout()
    total = max(t.n_steps for t in runs.values())
    shown = np.linspace(0, total, n_frames).round().astype(int)

    def draw(k):
        for line, head, traj in zip(lines, heads, runs.values()):
            p = traj.params[: shown[k] + 1]
            line.set_data(p[:, 0], p[:, 1])
            head.set_data(p[-1:, 0], p[-1:, 1])
        text.set_text(f"pas {shown[k]}")
        return [*lines, *heads, text]

    return animation.FuncAnimation(fig, draw, frames=n_frames, interval=interval, blit=False)
