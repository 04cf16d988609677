"""Taux effectif du momentum et les deux écritures de Nesterov (PyTorch, Sutskever), en float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import profond.optim as po

f64 = dict(dtype=torch.float64)


def test_effective_learning_rate_value_and_errors():
    assert po.effective_learning_rate(0.02, 0.9) == pytest.approx(0.2)
    assert po.effective_learning_rate(0.1, 0.0) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="`momentum`"):
        po.effective_learning_rate(0.1, 1.0)
    with pytest.raises(ValueError, match="`lr`"):
        po.effective_learning_rate(-0.1, 0.5)


def test_momentum_under_constant_gradient_moves_at_the_effective_rate():
    """Sous un gradient constant, le pas du momentum tend vers α/(1 − μ) · g (équation
    optim-eq-taux-effectif) : ce n'est pas α · g."""
    g = torch.tensor([1.0, -2.0], **f64)
    p, state = torch.zeros(2, **f64), None
    for _ in range(400):
        previous = p
        p, state = po.momentum_step(p, g, state, lr=0.02, momentum=0.9)
    torch.testing.assert_close(previous - p, po.effective_learning_rate(0.02, 0.9) * g, rtol=1e-12, atol=0)


def test_sutskever_two_steps_by_hand():
    # L(θ) = θ²/2, gradient θ ; θ₀ = 1, α = 0,1, μ = 0,5.
    theta, state = torch.tensor([1.0], **f64), None
    ahead = po.nesterov_lookahead(theta, state, 0.5)  # u₀ = 0 : le point courant
    theta, state = po.nesterov_sutskever_step(theta, ahead, state, lr=0.1, momentum=0.5)
    torch.testing.assert_close(state.velocity, torch.tensor([-0.1], **f64))  # u₁ = −0,1 · 1
    torch.testing.assert_close(theta, torch.tensor([0.9], **f64))
    ahead = po.nesterov_lookahead(theta, state, 0.5)  # 0,9 − 0,05 = 0,85
    theta, state = po.nesterov_sutskever_step(theta, ahead, state, lr=0.1, momentum=0.5)
    torch.testing.assert_close(state.velocity, torch.tensor([-0.05 - 0.085], **f64))
    torch.testing.assert_close(theta, torch.tensor([0.9 - 0.135], **f64))


@pytest.mark.parametrize("problem", ["logistique", "quadratique"])
def test_pytorch_form_is_sutskever_lookahead_at_constant_rate(problem):
    if problem == "logistique":
        x, y = po.make_logistic_data()
        obj, init, lr = po.logistic_objective(x, y, 0.1), [1.0, -3.0], 0.5
    else:
        obj, init, lr = po.quadratic_objective(20.0), [-1.5, 2.5], 0.05
    pytorch, sutskever = po.nesterov_forms(obj, init, [lr] * 50, momentum=0.9)
    assert pytorch.shape == sutskever.shape == (51, 2)
    np.testing.assert_allclose(pytorch, sutskever, rtol=0, atol=1e-12)
    assert np.abs(pytorch[-1] - pytorch[0]).max() > 0.1  # le test a un sens : on a bougé


@pytest.mark.parametrize("lrs", [[0.5] * 10 + [0.25] * 20, list(np.linspace(0.05, 0.5, 30))])
def test_the_two_forms_differ_when_the_rate_changes(lrs):
    x, y = po.make_logistic_data()
    pytorch, sutskever = po.nesterov_forms(po.logistic_objective(x, y, 0.1), [1.0, -3.0], lrs, momentum=0.9)
    assert np.abs(pytorch - sutskever).max() > 1e-3
    # Elles coïncident tant que le taux n'a pas changé (premier changement au pas 10 ou 1).
    first_change = next(i for i in range(1, len(lrs)) if lrs[i] != lrs[i - 1])
    np.testing.assert_allclose(pytorch[: first_change + 1], sutskever[: first_change + 1], atol=1e-12)


def test_pytorch_form_matches_torch_sgd_nesterov_with_a_scheduler():
    """Notre ``nesterov_step`` suit ``torch.optim.SGD(nesterov=True)`` même quand le taux change :
    c'est bien la forme de PyTorch, pas celle de Sutskever."""
    a, b = po.ill_conditioned_quadratic(20.0)
    w = torch.nn.Parameter(torch.tensor([-1.5, 2.5], **f64))
    opt = torch.optim.SGD([w], lr=0.05, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
    p, state = w.detach().clone(), None
    for _ in range(20):
        lr = opt.param_groups[0]["lr"]
        p, state = po.nesterov_step(p, po.quadratic_loss_grad(p, a, b), state, lr=lr, momentum=0.9)
        opt.zero_grad()
        po.quadratic_loss(w, a, b).backward()
        opt.step()
        sched.step()
    torch.testing.assert_close(p, w.detach(), rtol=1e-12, atol=1e-14)


def test_nesterov_forms_rejects_empty_rates():
    with pytest.raises(ValueError, match="`lrs`"):
        po.nesterov_forms(po.quadratic_objective(), [0.0, 0.0], [])
