"""Règles pures et fonctions de coût : valeurs à la main, gradients contre autograd, erreurs."""

from __future__ import annotations

import functools
import math

import pytest
import torch

import profond.optim as po

f64 = dict(dtype=torch.float64)


def _autograd(fn, w):
    w = w.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(w), w)
    return g


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_logistic_gradient_and_hessian_match_autograd(seed):
    x, y = po.make_logistic_data(30, seed=seed)
    w = torch.randn(2, generator=torch.Generator().manual_seed(seed), **f64)
    torch.testing.assert_close(po.logistic_loss_grad(w, x, y, 0.1), _autograd(lambda v: po.logistic_loss(v, x, y, 0.1), w))
    hess = torch.autograd.functional.hessian(lambda v: po.logistic_loss(v, x, y, 0.1), w)
    torch.testing.assert_close(po.logistic_loss_hessian(w, x, y, 0.1), hess)


def test_logistic_loss_is_a_mean_not_a_sum():
    x, y = po.make_logistic_data(10)
    w = torch.tensor([0.3, -0.2], **f64)
    doubled = po.logistic_loss(w, torch.cat([x, x]), torch.cat([y, y]), 0.0)
    torch.testing.assert_close(doubled, po.logistic_loss(w, x, y, 0.0))
    # En w = 0, chaque terme vaut log 2.
    assert po.logistic_loss(torch.zeros(2, **f64), x, y, 0.5).item() == pytest.approx(math.log(2))


def test_logistic_minimum_has_zero_gradient():
    x, y = po.make_logistic_data()
    w_star = po.logistic_minimum(x, y, 0.1)
    assert po.logistic_loss_grad(w_star, x, y, 0.1).abs().max().item() < 1e-12


def test_quadratic_and_rosenbrock_gradients_match_autograd():
    a, b = po.ill_conditioned_quadratic(20.0)
    w = torch.tensor([0.3, -1.7], **f64)
    torch.testing.assert_close(po.quadratic_loss_grad(w, a, b), _autograd(lambda v: po.quadratic_loss(v, a, b), w))
    torch.testing.assert_close(po.rosenbrock_grad(w), _autograd(po.rosenbrock, w))
    eig = torch.linalg.eigvalsh(a)
    assert (eig.max() / eig.min()).item() == pytest.approx(20.0)
    assert po.quadratic_loss_grad(torch.ones(2, **f64), a, b).abs().max().item() < 1e-12
    assert po.rosenbrock(torch.tensor([1.0, 1.0], **f64)).item() == 0.0


@pytest.mark.parametrize("value", [-4.0, -0.5, 0.0, 1.3, 3.9])
def test_mlp_slice_gradient_matches_autograd(value):
    mlp = po.make_mlp_slice()
    w = torch.tensor(value, **f64)
    torch.testing.assert_close(po.mlp_slice_grad(w, mlp), _autograd(lambda v: po.mlp_slice_loss(v, mlp), w))


def test_mlp_slice_is_not_convex():
    """La tranche du chapitre a plusieurs minima locaux : la dérivée change de signe de − à +
    plusieurs fois (une fonction convexe n'a qu'un intervalle de minimiseurs)."""
    mlp = po.make_mlp_slice()
    grid = torch.linspace(-8, 8, 321, **f64)
    grads = torch.stack([po.mlp_slice_grad(w, mlp) for w in grid])
    sign_changes_up = ((grads[:-1] < 0) & (grads[1:] > 0)).sum().item()
    assert sign_changes_up >= 2


def test_gd_step_by_hand():
    p, _ = po.gd_step(torch.tensor([1.0, 2.0], **f64), torch.tensor([0.5, -1.0], **f64), lr=0.1)
    torch.testing.assert_close(p, torch.tensor([0.95, 2.1], **f64))


def test_momentum_and_nesterov_by_hand():
    g = torch.tensor([1.0], **f64)
    p, s = po.momentum_step(torch.tensor([0.0], **f64), g, lr=0.1, momentum=0.9)
    p, s = po.momentum_step(p, g, s, lr=0.1, momentum=0.9)
    # v₁ = 1, v₂ = 0,9 + 1 = 1,9 ; θ = −0,1 − 0,19.
    torch.testing.assert_close(s.velocity, torch.tensor([1.9], **f64))
    torch.testing.assert_close(p, torch.tensor([-0.29], **f64))
    q, _ = po.nesterov_step(torch.tensor([0.0], **f64), g, lr=0.1, momentum=0.9)
    torch.testing.assert_close(q, torch.tensor([-0.19], **f64))


def test_adam_first_step_moves_by_lr_in_sign_direction():
    """Au premier pas, m̂ = g et v̂ = g² : le pas vaut ρ·g/(|g| + ε) ≈ ρ·signe(g)."""
    g = torch.tensor([3.0, -1e-3], **f64)
    p, s = po.adam_step(torch.zeros(2, **f64), g, lr=0.01, eps=0.0)
    torch.testing.assert_close(p, torch.tensor([-0.01, 0.01], **f64))
    # Les moments stockés sont biaisés (pas corrigés) : m₁ = (1 − β₁) g.
    torch.testing.assert_close(s.exp_avg, 0.1 * g)
    torch.testing.assert_close(s.exp_avg_sq, 0.001 * g * g)
    assert s.step == 1


def test_adam_epsilon_is_outside_the_square_root():
    g = torch.tensor([1e-4], **f64)
    p, _ = po.adam_step(torch.zeros(1, **f64), g, lr=1.0, eps=1e-4)
    # ε hors de la racine : 1e-4 / (1e-4 + 1e-4) = 0,5 ; dedans ce serait 1e-4/√(1e-8 + 1e-4) ≈ 0,01.
    assert p.item() == pytest.approx(-0.5)


def test_rules_reject_mismatched_shapes_and_bad_values():
    with pytest.raises(ValueError, match="forme de `param`"):
        po.adam_step(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="`lr`"):
        po.gd_step(torch.zeros(2), torch.zeros(2), lr=-1.0)
    with pytest.raises(TypeError, match="tenseurs torch"):
        po.gd_step([0.0], torch.zeros(1), lr=0.1)
    with pytest.raises(ValueError, match="`batch_size`"):
        po.minibatch_indices(10, 11, torch.Generator())
    with pytest.raises(ValueError, match="`w` doit avoir 2 composantes"):
        x, y = po.make_logistic_data()
        po.logistic_loss(torch.zeros(3, **f64), x, y, 0.1)


def test_minibatches_without_replacement_partition_the_data():
    batches = po.minibatch_indices(20, 4, torch.Generator().manual_seed(0))
    assert len(batches) == 5
    assert sorted(torch.cat(batches).tolist()) == list(range(20))
    with_repl = po.minibatch_indices(20, 4, torch.Generator().manual_seed(0), replacement=True)
    assert len(with_repl) == 5 and all(len(b) == 4 for b in with_repl)


def test_trajectory_gd_converges_and_is_deterministic():
    x, y = po.make_logistic_data()
    obj = po.logistic_objective(x, y, 0.1)
    gd = po.run_trajectory(obj, functools.partial(po.gd_step, lr=1.0), [1.0, -3.0], epochs=60)
    assert gd.n_steps == 60 and gd.epoch[-1] == 60
    assert gd.loss[-1] - obj.loss(obj.minimum).item() < 1e-6
    sgd_a = po.run_trajectory(obj, functools.partial(po.gd_step, lr=1.0), [1.0, -3.0], 5, batch_size=4, seed=3)
    sgd_b = po.run_trajectory(obj, functools.partial(po.gd_step, lr=1.0), [1.0, -3.0], 5, batch_size=4, seed=3)
    assert sgd_a.n_steps == 25
    assert (sgd_a.params == sgd_b.params).all()
    sgd_c = po.run_trajectory(obj, functools.partial(po.gd_step, lr=1.0), [1.0, -3.0], 5, batch_size=4, seed=4)
    assert not (sgd_a.params == sgd_c.params).all()


def test_momentum_beats_gd_on_ill_conditioned_quadratic():
    obj = po.quadratic_objective(condition=50.0)
    gd = po.run_trajectory(obj, functools.partial(po.gd_step, lr=0.035), [-2.0, 2.0], epochs=100)
    mom = po.run_trajectory(obj, functools.partial(po.momentum_step, lr=0.035, momentum=0.8), [-2.0, 2.0], epochs=100)
    assert mom.loss[-1] - obj.loss(obj.minimum).item() < 1e-3 * (gd.loss[-1] - obj.loss(obj.minimum).item())


def test_trajectory_rejects_minibatches_on_a_non_dataset_objective():
    with pytest.raises(ValueError, match="`batch_size`"):
        po.run_trajectory(po.rosenbrock_objective(), functools.partial(po.gd_step, lr=1e-3), [0.0, 0.0], 1, batch_size=2)
