"""Expériences et figure explorable du TP « Pourquoi le momentum marche » (section `mom-sec-mesure`) :
des trajectoires sur la quadratique, notées par leur erreur finale, et une figure où le lecteur
choisit α et μ avec deux curseurs."""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from profond import fr
from profond.explorable import explorable_html
from profond.optim.objectives import Objective, quadratic_objective
from profond.optim.rules import gd_step, momentum_step
from profond.optim.spectral import heavy_ball_contraction
from profond.optim.trajectory import Trajectory, run_trajectory
from profond.utils import check_positive_int

__all__ = ["random_start", "quadratic_errors", "run_quadratic", "log_error_score", "heavy_ball_explorer"]


def random_start(seed: int, objective: Objective, radius: float = 3.0) -> np.ndarray:
    """Un point de départ à distance ``radius`` de l'optimum, dans une direction tirée avec ``seed``."""
    angle = np.random.default_rng(seed).uniform(0, 2 * np.pi)
    return objective.minimum.numpy() + radius * np.array([np.cos(angle), np.sin(angle)])


def quadratic_errors(trajectory: Trajectory, objective: Objective) -> np.ndarray:
    """Distance à l'optimum ‖w_k − w*‖ à chaque pas (la ligne 0 est le départ)."""
    return np.linalg.norm(trajectory.params - objective.minimum.numpy(), axis=1)


def run_quadratic(seed: int, lr: float, momentum: float = 0.0, condition: float = 20.0,
                  steps: int = 100) -> np.ndarray:
    """Descente de gradient (``momentum=0``) ou momentum sur la quadratique de conditionnement
    ``condition``, depuis :func:`random_start` : renvoie les erreurs ‖w_k − w*‖."""
    steps = check_positive_int("steps", steps)
    obj = quadratic_objective(condition=condition)
    rule = (functools.partial(gd_step, lr=lr) if momentum == 0
            else functools.partial(momentum_step, lr=lr, momentum=momentum))
    errors = quadratic_errors(run_trajectory(obj, rule, random_start(seed, obj), epochs=steps), obj)
    if len(errors) < steps + 1:  # divergence : la boucle s'est arrêtée
        errors = np.concatenate([errors, np.full(steps + 1 - len(errors), np.inf)])
    return errors


def log_error_score(errors: np.ndarray) -> float:
    """Score d'une course : log₁₀ de l'erreur finale rapportée à l'erreur de départ (plus bas est
    mieux ; une divergence donne +∞ ou NaN, compté comme le pire)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.log10(errors[-1] / errors[0]))


def heavy_ball_explorer(alphas: Sequence[float], mus: Sequence[float], condition: float = 20.0,
                        steps: int = 40, reference: float | None = None):
    """Figure explorable : la trajectoire du momentum (α, μ) sur la quadratique, et son facteur de
    contraction r (rayon spectral) ; ``reference`` est affiché à côté (par exemple le meilleur r de
    la descente de gradient)."""
    from profond.optim.plots import _draw_background, loss_grid

    obj = quadratic_objective(condition=condition)
    start = random_start(0, obj)
    lim = 3.6
    xlim = (1 - lim, 1 + lim)
    xs, ys, zs = loss_grid(obj, xlim, xlim, n=50)
    eig = [1.0, condition]

    def draw(fig, alpha, mu):
        ax = fig.add_subplot()
        _draw_background(ax, obj, xs, ys, zs, log_levels=True)
        rule = (functools.partial(gd_step, lr=alpha) if mu == 0
                else functools.partial(momentum_step, lr=alpha, momentum=mu))
        p = run_trajectory(obj, rule, start, epochs=steps).params
        p = p[np.isfinite(p).all(axis=1) & (np.abs(p - 1) < 2 * lim).all(axis=1)]
        ax.plot(p[:, 0], p[:, 1], "o-", color="tab:blue", ms=2.5, lw=1)
        ax.set_xlim(*xlim)
        ax.set_ylim(*xlim)
        r = heavy_ball_contraction(alpha, mu, eig)
        verdict = "diverge" if r >= 1 else f"r = {fr.number(r, 3)}"
        ref = f" (meilleure GD : {fr.number(reference, 3)})" if reference is not None else ""
        ax.set_title(f"{verdict}{ref}", fontsize=10)
        fig.tight_layout()

    labels = {"alpha": ("α", lambda v: fr.number(v, 3)), "mu": ("μ", lambda v: fr.number(v, 2))}
    return explorable_html(
        draw, {"alpha": list(alphas), "mu": list(mus)}, labels,
        alt=(f"Trajectoire du momentum sur la quadratique de conditionnement {fr.number(condition, 0)}, "
             "pour le taux α et le momentum μ choisis avec les curseurs ; le titre donne le facteur de "
             "contraction r."),
        initial={"alpha": 0, "mu": 0}, figsize=(4.6, 4.2), dpi=72,
    )
