"""Tranche non convexe (minima proéminents, gradient du réseau) et essais depuis des départs tirés
au hasard, qui servent de bras à profond.compare."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

import profond.optim as po
from profond import compare as C

f64 = dict(dtype=torch.float64)


def test_slice_minima_ignores_ripples():
    x = np.linspace(-3, 3, 601)
    curve = (x**2 - 4) ** 2 / 16 + 0.01 * np.sin(40 * x)  # deux creux en ±2, plus des rides
    assert len(po.slice_minima(curve, 1e-6)) > 10  # sans seuil, chaque ride compte
    minima = po.slice_minima(curve, 0.05 * (curve.max() - curve.min()))
    np.testing.assert_allclose(x[minima], [-2.0, 2.0], atol=0.15)
    with pytest.raises(ValueError, match="`min_prominence`"):
        po.slice_minima(curve, 0.0)
    with pytest.raises(ValueError, match="`losses`"):
        po.slice_minima([1.0, 2.0], 0.1)


def test_chapter_slice_has_two_prominent_minima_and_labels_depend_on_x():
    mlp = po.make_mlp_slice()
    ws = torch.linspace(-8, 8, 321, **f64)
    losses = np.array([po.mlp_slice_loss(w, mlp).item() for w in ws])
    minima = po.slice_minima(losses, 0.05 * (losses.max() - losses.min()))
    assert len(minima) == 2
    # Les étiquettes sont celles d'un professeur linéaire : une régression logistique les sépare.
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1e4, max_iter=1000).fit(mlp.x.numpy(), mlp.y.numpy())
    assert clf.score(mlp.x.numpy(), mlp.y.numpy()) > 0.97
    assert 0.3 < mlp.y.mean().item() < 0.7


def test_slice_minimum_is_not_a_minimum_of_the_network():
    mlp = po.make_mlp_slice()
    ws = torch.linspace(-8, 8, 321, **f64)
    losses = np.array([po.mlp_slice_loss(w, mlp).item() for w in ws])
    k = int(np.argmin(losses))
    full = po.mlp_slice_network_grad(ws[k], mlp)
    i, j = mlp.index
    # La composante du poids étudié est la dérivée de la tranche...
    assert full[i * mlp.w0.shape[1] + j].item() == pytest.approx(po.mlp_slice_grad(ws[k], mlp).item(), rel=1e-10)
    # ... petite au minimum de la tranche, alors que le gradient complet ne l'est pas.
    assert abs(po.mlp_slice_grad(ws[k], mlp).item()) < 1e-3
    assert full.norm().item() > 0.05
    assert full.numel() == 6 * 20 + 20 + 20 + 1


def test_start_on_circle_is_at_the_given_distance_and_seeded():
    center = torch.tensor([1.0, 1.0], **f64)
    a, b, c = (po.start_on_circle(center, 2.5, s) for s in (0, 0, 1))
    assert (a - center).norm().item() == pytest.approx(2.5)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    with pytest.raises(ValueError, match="`radius`"):
        po.start_on_circle(center, 0.0, 0)


def test_run_from_circle_feeds_compare_and_flags_divergence():
    quad = po.quadratic_objective(20.0)
    gap = functools.partial(po.optimality_gap, quad)
    traj = po.run_from_circle(quad, po.gd_step, 0, lr=0.05, epochs=200)
    assert gap(traj) < 1e-8
    assert gap(po.run_from_circle(quad, po.gd_step, 0, lr=0.2, epochs=400)) == math.inf  # 0,2 > 2/20 : diverge
    arms = [C.Arm("descente", functools.partial(po.run_from_circle, quad, po.gd_step), {"lr": [0.01, 0.05, 0.2]},
                  fixed=dict(epochs=40)),
            C.Arm("momentum", functools.partial(po.run_from_circle, quad, po.momentum_step), {"lr": [0.01, 0.05, 0.2]},
                  fixed=dict(epochs=40, momentum=0.5))]
    cmp = C.compare(arms, seeds=range(3), score=gap, higher_is_better=False, progress=False)
    assert cmp.best_params("descente") == {"lr": 0.05}
    assert C.claim(cmp, "momentum", "descente").holds


def test_run_from_circle_needs_a_known_minimum():
    obj = po.Objective("sans minimum", loss=lambda w: (w**2).sum(), grad=lambda w, idx=None: 2 * w)
    with pytest.raises(ValueError, match="minimum"):
        po.run_from_circle(obj, po.gd_step, 0, lr=0.1, epochs=1)
