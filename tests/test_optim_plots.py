"""Animations et expériences de la partie 2 : contenu du HTML, déterminisme, erreurs."""

from __future__ import annotations

import functools
import math
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import profond.optim as po  # noqa: E402
from profond.optim import experiments, plots  # noqa: E402


@pytest.fixture(scope="module")
def toy():
    x, y = po.make_logistic_data()
    obj = po.logistic_objective(x, y, 0.1)
    gd = po.run_trajectory(obj, functools.partial(po.gd_step, lr=1.0), [1.0, -3.0], 4, name="GD")
    sgd = po.run_trajectory(obj, functools.partial(po.gd_step, lr=1.0), [1.0, -3.0], 4, batch_size=4, name="SGD")
    return obj, gd, sgd


def test_animation_html_is_offline_french_and_small(toy):
    obj, gd, sgd = toy
    html = plots.animation_html(plots.animate_trajectories([gd, sgd], obj, n_frames=5), alt="Deux trajectoires").data
    frames = re.findall(r"data:image/png;base64", html)
    assert len(frames) == 5
    assert 'alt="Deux trajectoires"' in html
    assert "https://" not in html  # aucune ressource externe (police d'icônes)
    assert 'title="Lecture"' in html and 'title="Play"' not in html
    assert len(html) < 5 * 20_000  # images à palette : moins de 20 ko par image


def test_animation_frame_shows_points_up_to_current_epoch(toy):
    obj, gd, sgd = toy
    anim = plots.animate_trajectories([gd, sgd], obj, n_frames=5)
    anim._func(2)  # t = 2 époques
    lines = [line for ax in anim._fig.axes for line in ax.get_lines() if line.get_marker() == "o" and line.get_color() != "k"]
    n_points = sorted(len(line.get_xdata()) for line in lines)
    assert n_points == [3, 11]  # GD : départ + 2 pas ; SGD : départ + 2 × 5 pas
    # rendue jusqu'au bout, comme dans une page (sinon matplotlib avertit à sa destruction)
    assert plots.animation_html(anim, alt="Deux trajectoires").data.count("data:image/png;base64") == 5


def test_animation_rejects_bad_input(toy):
    obj, gd, _ = toy
    with pytest.raises(ValueError, match="`trajectories`"):
        plots.animate_trajectories([], obj)
    with pytest.raises(ValueError, match="`n_frames`"):
        plots.animate_trajectories([gd], obj, n_frames=1)
    anim = plots.animate_trajectories([gd], obj, n_frames=2)
    with pytest.raises(ValueError, match="`alt`"):
        plots.animation_html(anim, alt=" ")
    assert "Une trajectoire" in plots.animation_html(anim, alt="Une trajectoire").data


def test_train_classifier_same_seed_same_history():
    a = experiments.train_classifier("iris", hidden=(8,), optimizer="Adam", lr=1e-2, epochs=3, seed=5)
    b = experiments.train_classifier("iris", hidden=(8,), optimizer="Adam", lr=1e-2, epochs=3, seed=5)
    c = experiments.train_classifier("iris", hidden=(8,), optimizer="Adam", lr=1e-2, epochs=3, seed=6)
    assert a.batch_loss == b.batch_loss
    assert a.batch_loss != c.batch_loss


def test_our_optimizers_and_torch_give_the_same_training():
    ours = experiments.train_classifier("iris", hidden=(8,), optimizer="momentum", lr=0.05, epochs=3, seed=0)
    ref = experiments.train_classifier("iris", hidden=(8,), optimizer="momentum", lr=0.05, epochs=3, seed=0,
                                       implementation="torch")
    torch.testing.assert_close(torch.tensor(ours.batch_loss), torch.tensor(ref.batch_loss), rtol=1e-5, atol=1e-6)


def test_gradient_noise_decreases_like_one_over_b():
    noise = experiments.minibatch_gradient_noise([4, 64], n_draws=100, seed=0)
    assert 8 < noise[4] / noise[64] < 32  # 1/b prédit un rapport de 16


def test_make_optimizer_errors():
    params = [torch.nn.Parameter(torch.zeros(1))]
    with pytest.raises(ValueError, match="`name`"):
        experiments.make_optimizer("LBFGS", params, 0.1)
    with pytest.raises(ValueError, match="`implementation`"):
        experiments.make_optimizer("SGD", params, 0.1, implementation="jax")


def test_activation_derivatives_match_closed_forms():
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    d = experiments.activation_derivatives(x)
    torch.testing.assert_close(d["sigmoïde"], torch.sigmoid(x) * (1 - torch.sigmoid(x)))
    torch.testing.assert_close(d["tanh"], 1 - torch.tanh(x) ** 2)
    torch.testing.assert_close(d["ReLU"], (x > 0).double())


def test_figures_have_at_most_two_panels_per_row(toy):
    obj, gd, sgd = toy
    fig = plots.plot_trajectories([gd, sgd, gd], obj)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    rows = {round(ax.get_position().y0, 3) for ax in visible}
    assert len(rows) == 2 and fig.get_size_inches()[0] <= 8
    matplotlib.pyplot.close(fig)
    fig = plots.plot_activation_derivatives(torch.linspace(-1, 1, 5), experiments.activation_derivatives(torch.linspace(-1, 1, 5)))
    assert fig.get_size_inches()[0] <= 8
    matplotlib.pyplot.close(fig)


def test_effective_rate_plot_puts_momentum_on_the_sgd_axis():
    from profond import compare as C

    def run(seed, lr, momentum):  # score fonction du seul taux effectif : les courbes doivent se superposer
        return abs(math.log10(po.effective_learning_rate(lr, momentum) / 0.3))

    arms = [C.Arm("SGD", run, {"lr": [0.01, 0.1, 1.0]}, fixed={"momentum": 0.0}),
            C.Arm("momentum", run, {"lr": [0.001, 0.01, 0.1]}, fixed={"momentum": 0.9})]
    cmp = C.compare(arms, seeds=[0, 1, 2], score=float, higher_is_better=False, progress=False)
    ax = plots.plot_effective_rate(cmp, {"SGD": 0.0, "momentum": 0.9})
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 3]
    assert len(lines) == 2
    for line in lines:
        np.testing.assert_allclose(line.get_xdata(), [0.01, 0.1, 1.0])
    np.testing.assert_allclose(lines[0].get_ydata(), lines[1].get_ydata())
    matplotlib.pyplot.close(ax.figure)


def test_mlp_slice_plot_marks_given_minima():
    ws = np.linspace(-1, 1, 11)
    ax = plots.plot_mlp_slice(ws, ws**2, [5])
    marks = [line for line in ax.get_lines() if line.get_marker() == "v"]
    assert len(marks) == 1 and list(marks[0].get_xdata()) == [0.0]
    matplotlib.pyplot.close(ax.figure)
