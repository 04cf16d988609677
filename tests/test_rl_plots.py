"""Figures (profond.rl.plots) : elles ne lisent que des History et tracent ce qu'on leur donne."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from profond.rl.history import History
from profond.rl.plots import (frames_animation, moving_average, plot_estimator_errors,
                              plot_objective_curves, plot_return_curves)


def fake_history(offset: float) -> History:
    h = History()
    h.episode_returns = [10.0 + offset, 20.0 + offset, 30.0 + offset, 40.0 + offset]
    h.episode_steps = [10, 30, 60, 100]
    h.episode_times = [0.1, 0.2, 0.3, 0.4]
    h.objective = [-3.0 + offset, -2.0 + offset, -1.0 + offset]
    h.objective_steps = [0, 50, 100]
    return h


def test_moving_average_by_hand():
    np.testing.assert_allclose(moving_average([1.0, 3.0, 5.0, 7.0], 2), [1.0, 2.0, 4.0, 6.0])


def test_objective_curves_mean_and_band():
    fig, ax = plt.subplots()
    plot_objective_curves({"a": [fake_history(0.0), fake_history(2.0)]}, ax=ax, optimum=0.5,
                          references={"b": -5.0})
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [-2.0, -1.0, 0.0])  # moyenne des deux graines
    assert len(ax.lines) == 3  # moyenne, référence, optimum
    with pytest.raises(ValueError, match="`x`"):
        plot_objective_curves({"a": [fake_history(0.0)]}, ax=ax, x="temps")
    plt.close(fig)


def test_return_curves_extend_last_value():
    fig, ax = plt.subplots()
    plot_return_curves({"a": [fake_history(0.0)]}, ax=ax, window=2, n_points=5, target=35)
    y = ax.lines[0].get_ydata()
    assert y[0] == pytest.approx(10.0) and y[-1] == pytest.approx(35.0)  # moyenne des 2 derniers
    plt.close(fig)


def test_estimator_errors():
    fig, ax = plt.subplots()
    plot_estimator_errors({"x": np.array([[1.0, 0.5], [1.0, 0.5]])}, [1, 4], ax=ax)
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), [1.0, 0.5])  # repère 1/√n
    plt.close(fig)


def test_cartpole_frames_rendered_by_the_env_and_animated():
    import torch

    from profond.animation import animation_html
    from profond.rl.policies import rollout_frames

    policy = torch.nn.Linear(4, 2)  # politique quelconque : des logits pour deux actions
    frames, steps = rollout_frames(policy, "CartPole-v1", seed=0, max_steps=50,
                                   generator=torch.Generator().manual_seed(0), n_frames=6)
    assert frames.dtype == np.uint8 and frames.shape[1:] == (400, 600, 3)
    assert len(frames) == len(steps) <= 6 and steps[0] == 0
    assert frames.std() > 0  # une vraie image, pas un fond uni
    html = animation_html(frames_animation(frames, steps), alt="CartPole").data
    assert f"frames[{len(frames) - 1}]" in html and f"frames[{len(frames)}]" not in html
    with pytest.raises(ValueError, match="`frames`"):
        frames_animation(frames[:, :, :, 0], steps)


def test_history_as_dict_leaves_policy_out():
    h = fake_history(0.0)
    h.policy = object()
    d = h.as_dict()
    assert "policy" not in d and d["episode_returns"] == h.episode_returns
    assert h.mean_last(2) == pytest.approx(35.0)
