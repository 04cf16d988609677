"""Tests de profond.optim.sgd_theory : plancher de bruit, Robbins-Monro, échelle de bruit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from profond.optim import sgd_theory as st


@pytest.fixture(scope="module")
def problem():
    return st.make_regression_problem(n=500, d=5, noise=1.0, condition=10.0, seed=0)


def test_optimum_has_zero_gradient_and_excess(problem):
    grad = problem.x.T @ (problem.x @ problem.w_star - problem.y) / len(problem.x)
    assert grad.abs().max() < 1e-10
    assert problem.excess(problem.w_star) == 0.0
    w = problem.w_star + 0.1
    assert problem.excess(w) == pytest.approx(problem.loss(w) - problem.loss(problem.w_star), rel=1e-9)


@pytest.mark.parametrize("lr, b", [(0.001, 1), (0.002, 4)])
def test_noise_floor_matches_first_order_prediction(problem, lr, b):
    excess = st.sgd_excess_losses(problem, lr, b, steps=30_000, seed=0, every=10)
    measured = excess[1000:].mean()
    assert measured == pytest.approx(st.predicted_noise_floor(problem, lr, b), rel=0.15)


def test_floor_scales_like_lr_over_batch(problem):
    assert st.predicted_noise_floor(problem, 0.002, 4) == pytest.approx(st.predicted_noise_floor(problem, 0.001, 2))


def test_robbins_monro_schedule_and_convergence(problem):
    sched = st.robbins_monro_lr(0.1, 10)
    assert sched(0) == 0.1 and sched(10) == pytest.approx(0.05)
    const = st.sgd_excess_losses(problem, 0.01, 1, 5000, seed=0)
    rm = st.sgd_excess_losses(problem, st.robbins_monro_lr(0.01, 50), 1, 5000, seed=0)
    assert rm[-500:].mean() < 0.3 * const[-500:].mean()


def test_divergence_is_reported_as_infinite(problem):
    excess = st.sgd_excess_losses(problem, 5.0, 1, 200, seed=0)
    assert math.isinf(excess[-1]) and len(excess) == 201
    assert st.steps_to_reach(excess, 1e-3) == math.inf
    assert st.steps_to_reach(np.array([3.0, 2.0, 0.5, 0.1]), 1.0) == 2.0


def test_same_seed_same_run_and_every(problem):
    a = st.sgd_excess_losses(problem, 0.01, 2, 100, seed=3)
    b = st.sgd_excess_losses(problem, 0.01, 2, 100, seed=3, every=10)
    assert np.array_equal(a[::10], b)


def test_noise_scale_is_trace_over_squared_gradient(problem):
    w = torch.zeros_like(problem.w_star)
    grads = problem.x * (problem.x @ w - problem.y)[:, None]
    expected = grads.var(dim=0, unbiased=False).sum() / (grads.mean(0) @ grads.mean(0))
    assert st.gradient_noise_scale(problem, w) == pytest.approx(float(expected))


def test_bad_input_is_explained_in_french(problem):
    with pytest.raises(ValueError, match="strictement positif"):
        st.sgd_excess_losses(problem, 0.01, 0, 10)
    with pytest.raises(ValueError, match="strictement positif"):
        st.robbins_monro_lr(0.0, 10)
