"""Tests du moteur d'autodiff scalaire (profond.autodiff) et de la vérification par différences
finies (profond.gradcheck), contre torch.autograd en float64."""

from __future__ import annotations

import math
import random

import pytest
import torch

from profond import autodiff as ad
from profond import gradcheck as gc
from profond import scratch

UNARY = ["exp", "tanh", "relu", "log", "square", "neg"]
BINARY = ["+", "*", "-", "/"]


def _apply_unary(op, v, torch_mode):
    if op == "square":
        return v ** 2
    if op == "neg":
        return -v
    if op == "log":  # log(1 + x²) reste défini
        return (1 + v ** 2).log()
    if op == "exp":  # borné, pour rester en float64 raisonnable
        return (v * 0.3).exp()
    return getattr(v, op)()


def _apply_binary(op, a, b):
    if op == "+":
        return a + b
    if op == "*":
        return a * b
    if op == "-":
        return a - b
    return a / (1 + b ** 2)


def random_expression(seed, n_inputs=3, n_ops=12):
    """Construit la même expression aléatoire avec des Value et des tenseurs torch : les nœuds
    intermédiaires sont réutilisés, donc le graphe a des nœuds partagés."""
    rng = random.Random(seed)
    xs = [rng.uniform(-1.5, 1.5) for _ in range(n_inputs)]
    vals = [ad.Value(x) for x in xs]
    tens = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    nodes_v, nodes_t = list(vals), list(tens)
    for _ in range(n_ops):
        if rng.random() < 0.4:
            op = rng.choice(UNARY)
            i = rng.randrange(len(nodes_v))
            nodes_v.append(_apply_unary(op, nodes_v[i], False))
            nodes_t.append(_apply_unary(op, nodes_t[i], True))
        else:
            op = rng.choice(BINARY)
            i, j = rng.randrange(len(nodes_v)), rng.randrange(len(nodes_v))
            nodes_v.append(_apply_binary(op, nodes_v[i], nodes_v[j]))
            nodes_t.append(_apply_binary(op, nodes_t[i], nodes_t[j]))
    out_v = nodes_v[-1] + nodes_v[-2] * nodes_v[len(nodes_v) // 2]
    out_t = nodes_t[-1] + nodes_t[-2] * nodes_t[len(nodes_t) // 2]
    return vals, tens, out_v, out_t


@pytest.mark.parametrize("seed", range(25))
def test_random_expressions_match_torch_autograd(seed):
    vals, tens, out_v, out_t = random_expression(seed)
    out_v.backward()
    out_t.backward()
    torch.testing.assert_close(torch.tensor(out_v.data, dtype=torch.float64), out_t.detach())
    for v, t in zip(vals, tens):
        expected = t.grad if t.grad is not None else torch.tensor(0.0, dtype=torch.float64)
        torch.testing.assert_close(torch.tensor(v.grad, dtype=torch.float64), expected, rtol=1e-10, atol=1e-12)


def test_node_used_twice_accumulates():
    # f(a) = a·a + a : df/da = 2a + 1 ; avec « = » au lieu de « += », on trouverait 1.
    a = ad.Value(3.0)
    b = a * a + a
    b.backward()
    assert a.grad == 7.0


def test_topological_order_puts_parents_first_and_handles_deep_graphs():
    x = ad.Value(0.5)
    y = x
    for _ in range(5000):  # trop profond pour une récursion Python
        y = y * 1.0 + 0.0
    order = ad.topological_order(y)
    position = {id(n): i for i, n in enumerate(order)}
    for n in order:
        for p in n._parents:
            assert position[id(p)] < position[id(n)]
    y.backward()
    assert x.grad == pytest.approx(1.0)


def test_chain_rule_worked_example_of_the_slides():
    # ŷ = tanh(a3) = 0,5 et y = −1 : ∂L/∂a3 = 2 g'(a3)(ŷ − y) = 2 · 0,75 · 1,5 = 2,25.
    a3 = ad.Value(math.atanh(0.5))
    y_hat = a3.tanh()
    loss = (y_hat - (-1.0)) ** 2
    loss.backward()
    assert y_hat.data == pytest.approx(0.5)
    assert a3.grad == pytest.approx(2.25)


def test_mlp_learns_xor():
    x = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    y = [-1.0, 1.0, 1.0, -1.0]
    net = ad.MLP([2, 4, 1], seed=1)
    history = ad.train_mlp(net, x, y, lr=0.1, steps=300)
    first, last = history[0], ad.mse([net(xi)[0] for xi in x], y)
    assert len(history) == 300 and last.data < 0.05 < first
    assert [math.copysign(1, net(xi)[0].data) for xi in x] == y


def test_bad_input_is_explained_in_french():
    with pytest.raises(TypeError, match="nombre réel"):
        ad.Value("1")
    with pytest.raises(ValueError, match="strictement positive"):
        ad.Value(-1.0).log()
    with pytest.raises(ValueError, match="activation"):
        ad.Neuron(2, "gelu")


@pytest.mark.parametrize("make", [
    lambda g: scratch.Linear(4, 3, generator=g),
    lambda g: scratch.Tanh(),
    lambda g: scratch.Sigmoid(),
])
def test_scratch_modules_pass_the_gradient_check(make):
    g = torch.Generator().manual_seed(0)
    module = make(g)
    x = torch.randn(5, 4 if isinstance(module, scratch.Linear) else 3, generator=g, dtype=torch.float64)
    errors = gc.module_gradient_errors(module, x)
    assert max(errors.values()) < 1e-7, errors


def test_gradient_check_catches_a_wrong_backward():
    class WrongTanh(scratch.Tanh):
        def backward(self, delta):
            return delta * (1 - self.z)  # oubli du carré

    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert gc.module_gradient_errors(WrongTanh(), x)["entrée"] > 1e-2


def test_float32_cannot_tell_right_from_slightly_wrong():
    f = lambda v: (v.tanh() ** 2).sum()  # noqa: E731
    x64 = torch.linspace(-1, 1, 7, dtype=torch.float64)
    exact = 2 * x64.tanh() * (1 - x64.tanh() ** 2)
    assert gc.relative_error(gc.central_difference_gradient(f, x64), exact) < 1e-8
    x32 = x64.float()
    assert gc.relative_error(gc.central_difference_gradient(f, x32, h=1e-6), exact) > 1e-3
