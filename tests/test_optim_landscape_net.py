"""Paysage de la perte d'un réseau : interpolation, directions normalisées par filtre, tranche 2-D,
permutation des neurones cachés, et sortie d'un point selle (profond.optim.landscape)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from profond.optim import landscape as L
from profond.optim.rules import gd_step
from profond.optim.trajectory import Trajectory, run_trajectory

f64 = dict(dtype=torch.float64)


def _net_and_data(seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3)).double()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(40, 5, generator=g, **f64)
    y = torch.randint(3, (40,), generator=g)
    return model, x, y


def _load(model: nn.Module, params) -> nn.Module:
    with torch.no_grad():
        for p, q in zip(model.parameters(), params):
            p.copy_(q)
    return model


def test_interpolate_parameters_matches_formula_and_endpoints():
    a = [torch.randn(3, 2, **f64), torch.randn(3, **f64)]
    b = [torch.randn(3, 2, **f64), torch.randn(3, **f64)]
    for t in (-0.5, 0.0, 0.3, 1.0, 1.5):
        got = L.interpolate_parameters(a, b, t)
        for g, p, q in zip(got, a, b):
            torch.testing.assert_close(g, p + t * (q - p))
    torch.testing.assert_close(L.interpolate_parameters(a, b, 0.0)[0], a[0])
    torch.testing.assert_close(L.interpolate_parameters(a, b, 1.0)[1], b[1])
    with pytest.raises(ValueError, match="mêmes formes"):
        L.interpolate_parameters(a, [b[0]], 0.5)
    with pytest.raises(TypeError, match="tenseurs"):
        L.interpolate_parameters([np.zeros(2)], [np.ones(2)], 0.5)


def test_filter_normalization_gives_rows_of_theta_norm_and_zero_biases():
    model, _, _ = _net_and_data()
    theta = L.snapshot(model)
    d = L.filter_normalized_direction(L.random_direction(theta, torch.Generator().manual_seed(1)), theta)
    for di, pi in zip(d, theta):
        if pi.ndim == 1:
            assert torch.count_nonzero(di) == 0
        else:
            torch.testing.assert_close(di.norm(dim=1), pi.norm(dim=1), rtol=1e-12, atol=1e-12)
            assert not torch.allclose(di, pi)  # une direction, pas une copie des poids
    # Une ligne nulle des poids donne une ligne nulle de la direction (pas de NaN).
    theta[0][2] = 0.0
    d = L.filter_normalized_direction(L.random_direction(theta, torch.Generator().manual_seed(1)), theta)
    assert torch.isfinite(d[0]).all() and d[0][2].abs().max() == 0
    with pytest.raises(TypeError, match="Generator"):
        L.random_direction(theta, 0)
    # Même graine, même direction ; autre graine, autre direction.
    again = [L.random_direction(theta, torch.Generator().manual_seed(s)) for s in (1, 1, 2)]
    assert all(torch.equal(p, q) for p, q in zip(again[0], again[1]))
    assert not torch.equal(again[0][0], again[2][0])


def test_filter_normalization_is_invariant_to_relu_rescaling():
    """Li et al. : multiplier la couche 1 par c et diviser la couche 2 par c ne change ni la fonction
    (ReLU homogène) ni la tranche normalisée par filtre ; la tranche brute, elle, change."""
    model, x, y = _net_and_data()
    theta = L.snapshot(model)
    c = 10.0
    scaled = [theta[0] * c, theta[1] * c, theta[2] / c, theta[3]]
    raw = L.random_direction(theta, torch.Generator().manual_seed(2))
    alphas = np.linspace(-1, 1, 7)
    base = L.loss_surface(model, theta, L.filter_normalized_direction(raw, theta), None, alphas, None, x, y)
    resc = L.loss_surface(model, scaled, L.filter_normalized_direction(raw, scaled), None, alphas, None, x, y)
    np.testing.assert_allclose(resc, base, rtol=1e-10)
    raw_base = L.loss_surface(model, theta, raw, None, alphas, None, x, y)
    raw_resc = L.loss_surface(model, scaled, raw, None, alphas, None, x, y)
    assert np.abs(raw_resc - raw_base).max() > 0.1


def test_loss_surface_centre_equals_model_loss_and_matches_module():
    model, x, y = _net_and_data()
    theta = L.snapshot(model)
    g = torch.Generator().manual_seed(3)
    d1 = L.filter_normalized_direction(L.random_direction(theta, g), theta)
    d2 = L.filter_normalized_direction(L.random_direction(theta, g), theta)
    alphas, betas = np.linspace(-1, 1, 5), np.linspace(-0.5, 0.5, 3)
    surf = L.loss_surface(model, theta, d1, d2, alphas, betas, x, y)
    assert surf.shape == (3, 5)
    reference = nn.CrossEntropyLoss()(model(x), y).item()
    assert surf[1, 2] == pytest.approx(reference, rel=1e-12)
    # Un point quelconque : on recopie les poids dans un module et on l'évalue directement.
    probe = _load(_net_and_data()[0], [c + alphas[4] * u + betas[0] * v for c, u, v in zip(theta, d1, d2)])
    assert surf[0, 4] == pytest.approx(nn.CrossEntropyLoss()(probe(x), y).item(), rel=1e-12)
    with pytest.raises(ValueError, match="`betas`"):
        L.loss_surface(model, theta, d1, d2, alphas, None, x, y)
    # Les poids du module n'ont pas bougé.
    for p, q in zip(model.parameters(), theta):
        torch.testing.assert_close(p.detach(), q)


def test_interpolation_curve_endpoints_are_the_two_models():
    model, x, y = _net_and_data()
    start = L.snapshot(model)
    end = L.snapshot(_net_and_data(seed=5)[0])
    curve = L.interpolation_curve(model, start, end, [0.0, 0.5, 1.0], x, y)
    assert curve[0] == pytest.approx(nn.functional.cross_entropy(model(x), y).item(), rel=1e-12)
    assert curve[2] == pytest.approx(nn.functional.cross_entropy(_load(model, end)(x), y).item(), rel=1e-12)


def test_permuting_hidden_units_keeps_the_function():
    model, x, _ = _net_and_data()
    theta = L.snapshot(model)
    perm = torch.randperm(7, generator=torch.Generator().manual_seed(0))
    permuted = L.permute_hidden_units(theta, perm)
    out = model(x)
    torch.testing.assert_close(_load(_net_and_data()[0], permuted)(x), out)
    assert not torch.equal(permuted[0], theta[0])
    with pytest.raises(ValueError, match="permutation"):
        L.permute_hidden_units(theta, torch.tensor([0, 0, 1, 2, 3, 4, 5]))
    with pytest.raises(ValueError, match="couche cachée"):
        L.permute_hidden_units(theta, perm, layer=1)


def test_saddle_gradient_matches_autograd():
    for q in (0.0, 0.5):
        w = torch.tensor([0.3, -0.7], **f64, requires_grad=True)
        (g,) = torch.autograd.grad(L.saddle_loss(w, q), w)
        torch.testing.assert_close(L.saddle_grad(w.detach(), q), g)
    obj = L.saddle_objective(0.5)
    assert obj.loss(torch.tensor([0.0, 1.0], **f64)).item() == pytest.approx(-0.5)
    torch.testing.assert_close(obj.grad(torch.tensor([0.0, 1.0], **f64)), torch.zeros(2, **f64))
    with pytest.raises(ValueError):
        L.saddle_objective(-1.0)


def test_gd_escape_time_on_pure_saddle_matches_growth_factor():
    """Sur x² − y², la descente de gradient multiplie y par (1 + 2α) à chaque pas : elle sort de la
    boule de rayon r au premier k où la distance dépasse r."""
    lr, y0, r = 0.1, 1e-4, 0.5
    traj = run_trajectory(L.saddle_objective(0.0), lambda p, g, s: gd_step(p, g, s, lr=lr), [0.0, y0], epochs=60)
    expected = int(np.ceil(np.log(r / y0) / np.log(1 + 2 * lr)))
    assert L.escape_time(traj, radius=r) == expected
    np.testing.assert_allclose(traj.params[:, 1], y0 * (1 + 2 * lr) ** np.arange(61), rtol=1e-12)


def test_escape_time_definition():
    params = np.array([[0.1, 0.0], [0.6, 0.0], [0.2, 0.0], [0.7, 0.0], [0.9, 0.0]])
    traj = Trajectory("t", params, np.zeros(5), np.arange(5.0))
    assert L.escape_time(traj, radius=0.5) == 3  # sortie définitive après le retour au pas 2
    with pytest.raises(ValueError, match="finit dans la boule"):
        L.escape_time(Trajectory("t", params[:3], np.zeros(3), np.arange(3.0)), radius=0.5)
    assert L.escape_time(traj, radius=0.05) == 0


def test_saddle_runs_momentum_matches_effective_rate_and_adam_ignores_distance():
    runs = L.saddle_runs([0.4, 1e-3], steps=300, lr=0.05)
    assert list(runs) == ["descente de gradient", "momentum", "Adam"]
    times = {y0: {k: L.escape_time(t) for k, t in L.saddle_runs([0.4, y0], steps=300, lr=0.05).items()}
             for y0 in (1e-2, 1e-6)}
    # Descente de gradient : ≈ log(10⁴)/log(1,1) ≈ 97 pas de plus ; Adam : presque rien.
    assert 90 <= times[1e-6]["descente de gradient"] - times[1e-2]["descente de gradient"] <= 100
    assert abs(times[1e-6]["Adam"] - times[1e-2]["Adam"]) <= 2
    # Le momentum au même taux effectif croît par pas de la racine de z² − (1 + μ + 2α)z + μ.
    z = np.roots([1, -(1 + 0.9 + 2 * 0.005), 0.9]).real.max()
    slope = (times[1e-6]["momentum"] - times[1e-2]["momentum"]) / np.log(1e4)
    assert slope == pytest.approx(1 / np.log(z), rel=0.03)
    # Même graine, même résultat : tout est déterministe.
    again = L.saddle_runs([0.4, 1e-3], steps=300, lr=0.05)
    np.testing.assert_array_equal(again["Adam"].params, runs["Adam"].params)


def test_animate_saddle_makes_one_frame_per_request():
    import matplotlib

    matplotlib.use("Agg")
    from profond.animation import animation_html

    runs = L.saddle_runs([0.4, 1e-2], steps=20, lr=0.1)
    anim = L.animate_saddle(runs, L.saddle_objective(), (-0.6, 0.6), (-0.3, 1.3), n_frames=3)
    anim._func(2)
    trail, head = anim._fig.axes[0].lines[3], anim._fig.axes[0].lines[-1]  # Adam : chemin, position courante
    assert len(trail.get_xdata()) == 21  # la dernière image montre les 20 pas
    np.testing.assert_allclose([head.get_xdata()[0], head.get_ydata()[0]], runs["Adam"].params[-1])
    html = animation_html(anim, alt="selle").data
    assert html.count("data:image/png;base64") == 3 and 'alt="selle"' in html
    with pytest.raises(ValueError, match="n_frames"):
        L.animate_saddle(runs, L.saddle_objective(), (-1, 1), (-1, 1), n_frames=1)
